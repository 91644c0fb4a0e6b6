import { describe, expect, it } from "vitest";
import { compileValueTree, TemplateRenderError, TemplateSyntaxError } from "../src/templates/index.js";

const context = {
  parameters: { size: 3, name: "orders", ha: true },
  context: { namespace: "team-a" },
};

describe("compileValueTree", () => {
  it("renders typed and text leaves and passes other values through", () => {
    const tree = compileValueTree(
      {
        replicas: "{{parameters.size}}",
        ha: "{{parameters.ha}}",
        database: {
          name: "db-{{parameters.name}}",
          labels: ["static", "{{context.namespace}}", 7, null, false],
        },
        literal: "no braces here",
        port: 5432,
        "{{not.a.template}}": "keys stay literal",
      },
      "plans.small.inputs",
    );
    expect(tree.render(context)).toStrictEqual({
      replicas: 3,
      ha: true,
      database: { name: "db-orders", labels: ["static", "team-a", 7, null, false] },
      literal: "no braces here",
      port: 5432,
      "{{not.a.template}}": "keys stay literal",
    });
  });

  it("names leaves by their path, with [i] for list items", () => {
    const tree = compileValueTree({ a: { b: "{{x}}" }, list: ["{{y}}", { c: "{{z}}" }] }, "root");
    expect(tree.templates.map((t) => t.name)).toEqual(["root.a.b", "root.list[0]", "root.list[1].c"]);
    let error: unknown;
    try {
      tree.render({ x: 1, y: 2 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect((error as Error).message).toBe('template "root.list[1].c": variable "z" is not set');
  });

  it("compiles a top-level string and passes a top-level non-string through", () => {
    expect(compileValueTree("{{parameters.size}}", "v").render(context)).toBe(3);
    expect(compileValueTree(42, "v").render(context)).toBe(42);
    expect(compileValueTree(null, "v").render(context)).toBeNull();
  });

  it("aggregates references, secret keys and seed use", () => {
    const tree = compileValueTree(
      { a: '{{secret "k1"}}{{parameters.x}}', b: ["{{parameters.x}} {{context.y}}", '{{secret "k2"}}'] },
      "t",
    );
    expect(tree.references).toEqual(["parameters.x", "context.y"]);
    expect(tree.secretKeys).toEqual(["k1", "k2"]);
    expect(tree.usesSeed).toBe(false);
    expect(compileValueTree({ p: "{{password 16}}" }, "t").usesSeed).toBe(true);
  });

  it("returns fresh containers on every render", () => {
    const source = { nested: { list: [1, 2] }, v: "{{parameters.size}}" };
    const tree = compileValueTree(source, "t");
    const first = tree.render(context) as { nested: { list: number[] } };
    first.nested.list.push(3);
    expect(tree.render(context)).toStrictEqual({ nested: { list: [1, 2] }, v: 3 });
    expect(source.nested.list).toEqual([1, 2]);
  });

  it("keeps a literal __proto__ key as an own property", () => {
    const source = JSON.parse('{"__proto__": {"x": "{{parameters.name}}"}}');
    const out = compileValueTree(source, "t").render(context) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"x":"orders"}}');
  });

  it("gives the binding's one password in every leaf, stable per seed; a named one differs", () => {
    const tree = compileValueTree(
      { a: "{{password 16}}", b: "{{password 16}}", c: '{{password 16 "c"}}' },
      "creds",
    );
    const first = tree.render({}, { seed: "s1" }) as { a: string; b: string; c: string };
    expect(first.a).toBe(first.b);
    expect(first.c).not.toBe(first.a);
    expect(tree.render({}, { seed: "s1" })).toStrictEqual(first);
    expect(tree.render({}, { seed: "s2" })).not.toStrictEqual(first);
  });

  it("reports a syntax error with the leaf name, its position and its path in the tree", () => {
    let error: unknown;
    try {
      compileValueTree({ ok: "{{x}}", inputs: [{ bad: "first line\nsecond {{oops}" }] }, "plans.small");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateSyntaxError);
    const syntax = error as TemplateSyntaxError;
    expect(syntax.templateName).toBe("plans.small.inputs[0].bad");
    expect([syntax.line, syntax.column]).toEqual([2, 14]);
    expect(syntax.valuePath).toEqual(["inputs", 0, "bad"]);
  });
});
