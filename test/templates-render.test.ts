import { describe, expect, it } from "vitest";
import { compileTemplate, TemplateRenderError } from "../src/templates/index.js";

const context = {
  parameters: {
    size: 3,
    ratio: 0.5,
    enabled: true,
    disabled: false,
    nothing: null,
    name: "orders",
    empty: "",
    tags: ["a", "b"],
    limits: { cpu: 2, memory: "4Gi" },
    users: [
      { name: "ann", admin: true },
      { name: "bob", admin: false },
    ],
  },
  context: { platform: "cloudfoundry", namespace: "team-a" },
  outputs: { host: "db.internal", port: 5432 },
};

function render(source: string, ctx: object = context): unknown {
  return compileTemplate(source, { name: "t" }).render(ctx);
}

describe("typed single-expression templates", () => {
  it.each([
    ["{{parameters.size}}", 3],
    ["{{parameters.ratio}}", 0.5],
    ["{{parameters.enabled}}", true],
    ["{{parameters.disabled}}", false],
    ["{{parameters.nothing}}", null],
    ["{{parameters.name}}", "orders"],
    ["{{parameters.tags}}", ["a", "b"]],
    ["{{parameters.limits}}", { cpu: 2, memory: "4Gi" }],
    ["{{outputs.port}}", 5432],
  ])("%s keeps the value's type", (source, expected) => {
    const template = compileTemplate(source, { name: "t" });
    expect(template.typed).toBe(true);
    expect(template.render(context)).toStrictEqual(expected);
  });

  it("returns the referenced object itself, not a copy or text", () => {
    expect(render("{{parameters.limits}}")).toBe(context.parameters.limits);
  });

  it.each([
    ["{{default parameters.missing 3}}", 3],
    ["{{default parameters.size 10}}", 3],
    ["{{int '42'}}", 42],
    ["{{number '2.5'}}", 2.5],
    ["{{bool 'yes'}}", true],
    ["{{eq parameters.size 3}}", true],
    ["{{not parameters.enabled}}", false],
    ["{{default parameters.missing null}}", null],
    ["{{default parameters.missing parameters.tags}}", ["a", "b"]],
    ["{{json parameters.limits}}", '{"cpu":2,"memory":"4Gi"}'],
    ["{{concat 'a' parameters.size}}", "a3"],
  ])("%s yields the helper result with its type", (source, expected) => {
    expect(render(source)).toStrictEqual(expected);
  });

  it("ignores surrounding whitespace, newlines and comments", () => {
    expect(render("  {{parameters.size}}\n")).toBe(3);
    expect(render("\n\t{{~parameters.size~}}  ")).toBe(3);
    expect(render("{{! the node count }}{{parameters.size}}")).toBe(3);
    expect(render("{{{parameters.size}}}")).toBe(3);
  });

  it("treats a whole-context reference as typed", () => {
    expect(render("{{this}}", { a: 1 })).toStrictEqual({ a: 1 });
  });
});

describe("text templates", () => {
  it("renders mixed text and expressions to a string", () => {
    const template = compileTemplate("postgres://{{outputs.host}}:{{outputs.port}}/{{parameters.name}}", {
      name: "t",
    });
    expect(template.typed).toBe(false);
    expect(template.render(context)).toBe("postgres://db.internal:5432/orders");
  });

  it("renders two expressions as text even with only whitespace between them", () => {
    expect(render("{{parameters.size}} {{parameters.size}}")).toBe("3 3");
  });

  it("keeps surrounding whitespace of text templates", () => {
    expect(render("  size {{parameters.size}}\n")).toBe("  size 3\n");
  });

  it("renders numbers and booleans as text and null as empty text", () => {
    expect(render("{{parameters.size}}/{{parameters.enabled}}/{{parameters.nothing}}/")).toBe("3/true//");
  });

  it("does not HTML-escape", () => {
    const ctx = { parameters: { password: `p&ss<w>"rd'=\`` } };
    expect(render("pw={{parameters.password}}", ctx)).toBe(`pw=p&ss<w>"rd'=\``);
  });

  it("returns a template without expressions verbatim", () => {
    const template = compileTemplate("plain text, no braces", { name: "t" });
    expect(template.typed).toBe(false);
    expect(template.render({})).toBe("plain text, no braces");
  });

  it("supports escaped mustaches as literal text", () => {
    expect(render("\\{{parameters.size}} is {{parameters.size}}")).toBe("{{parameters.size}} is 3");
  });

  it("refuses to put an object or list into text", () => {
    expect(() => render("tags={{parameters.tags}}")).toThrow(
      /variable "parameters.tags" is a list, which cannot be placed in text; use \{\{json/,
    );
    expect(() => render("x{{default parameters.missing parameters.limits}}")).toThrow(
      /the result of helper "default" at line 1, column 2 is an object/,
    );
    expect(render("tags={{json parameters.tags}}")).toBe('tags=["a","b"]');
  });

  it("renders blocks: #if/else, #unless, #each with data variables, #with", () => {
    expect(render("{{#if parameters.enabled}}on{{else}}off{{/if}}")).toBe("on");
    expect(render("{{#unless parameters.enabled}}off{{else}}on{{/unless}}")).toBe("on");
    expect(
      render(
        "{{#each parameters.users}}{{#if @first}}[{{/if}}{{@index}}:{{name}}{{#if @last}}]{{/if}}{{/each}}",
      ),
    ).toBe("[0:ann1:bob]");
    expect(render("{{#each parameters.limits}}{{@key}}={{this}};{{/each}}")).toBe("cpu=2;memory=4Gi;");
    expect(render("{{#with outputs}}{{host}}:{{port}}{{/with}}")).toBe("db.internal:5432");
    expect(
      render("{{#each parameters.users as |u i|}}{{i}}{{u.name}}{{../context.namespace}}{{/each}}"),
    ).toBe("0annteam-a1bobteam-a");
  });

  it("applies standalone-line whitespace control to block tags", () => {
    const source = "hosts:\n{{#each parameters.users}}\n  - {{name}}\n{{/each}}\n";
    expect(render(source)).toBe("hosts:\n  - ann\n  - bob\n");
  });
});

describe("missing variables", () => {
  it("names the template and the variable path", () => {
    const template = compileTemplate("{{parameters.db_name}}", { name: "plans.small.inputs.db_name" });
    let error: unknown;
    try {
      template.render(context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateRenderError);
    const renderError = error as TemplateRenderError;
    expect(renderError.message).toBe(
      'template "plans.small.inputs.db_name": variable "parameters.db_name" is not set',
    );
    expect(renderError.templateName).toBe("plans.small.inputs.db_name");
    expect(renderError.variable).toBe("parameters.db_name");
  });

  it("applies inside text templates, nested paths, blocks and @root", () => {
    expect(() => render("db={{parameters.db_name}}")).toThrow(/variable "parameters.db_name" is not set/);
    expect(() => render("{{nope.deeper.still}}")).toThrow(/variable "nope.deeper.still" is not set/);
    expect(() => render("{{#each parameters.users}}{{email}}{{/each}}")).toThrow(
      /variable "email" is not set/,
    );
    expect(() => render("{{#with outputs}}{{@root.context.region}}{{/with}}")).toThrow(
      /variable "@root.context.region" is not set/,
    );
  });

  it("treats null as set and only undefined as missing", () => {
    expect(render("{{parameters.nothing}}")).toBeNull();
    expect(render("[{{parameters.empty}}]")).toBe("[]");
  });

  it("allows missing values in helper arguments and block conditions", () => {
    expect(render("{{default parameters.missing 5}}")).toBe(5);
    expect(render("{{default parameters.missing.deeper 'x'}}")).toBe("x");
    expect(render("{{#if parameters.missing}}yes{{else}}no{{/if}}")).toBe("no");
    expect(render("{{#if parameters.missing.deeper}}yes{{else}}no{{/if}}")).toBe("no");
    expect(render("{{#with parameters.missing}}yes{{else}}none{{/with}}")).toBe("none");
    expect(render("{{#each parameters.missing}}x{{else}}empty{{/each}}")).toBe("empty");
    expect(render("{{#if parameters.db_name}}db={{parameters.db_name}}{{/if}}")).toBe("");
  });

  it("does not evaluate the branch that is not taken", () => {
    expect(render("{{#if parameters.enabled}}ok{{else}}{{parameters.missing}}{{/if}}")).toBe("ok");
  });
});

describe("single-variable templates read without the Handlebars runtime", () => {
  // Typed `{{path}}` templates take a direct path read; text templates go through Handlebars. Both must
  // agree on what a path yields, including Handlebars' lookup quirks.
  const inherited = Object.create({ inherited: "from prototype" }) as object;
  const cases: [string, object][] = [
    ["a.b", { a: { b: 1 } }],
    ["a.b", { a: null }],
    ["a.b", { a: 0 }],
    ["a.b", { a: false }],
    ["a.length", { a: "text" }],
    ["a.[0]", { a: "text" }],
    ["a.[1]", { a: [10, 20] }],
    ["a.length", { a: [10, 20] }],
    ["a.inherited", { a: inherited }],
    ["a.toString", { a: {} }],
    ["a.hasOwnProperty", { a: { b: 1 } }],
    ["this.a", { a: "x" }],
    ["./a", { a: "x" }],
    ["@root.a.b", { a: { b: true } }],
    ["[with space].b", { "with space": { b: "y" } }],
  ];

  it.each(cases)("%s in %j agrees with Handlebars", (path, ctx) => {
    const typed = compileTemplate(`{{${path}}}`, { name: "t" });
    const text = compileTemplate(`x{{${path}}}`, { name: "t" });
    let typedResult: unknown;
    let typedError: string | undefined;
    try {
      typedResult = typed.render(ctx);
    } catch (error) {
      typedError = (error as Error).message;
    }
    let textResult: unknown;
    let textError: string | undefined;
    try {
      textResult = text.render(ctx);
    } catch (error) {
      textError = (error as Error).message;
    }
    expect(typedError).toBe(textError);
    if (typedError === undefined) expect(textResult).toBe(`x${typedResult ?? ""}`);
  });
});

describe("render contract", () => {
  it("renders the same compiled template many times with different contexts", () => {
    const template = compileTemplate("{{parameters.n}}-{{#each parameters.l}}{{this}}{{/each}}", {
      name: "t",
    });
    for (let i = 0; i < 50; i++) {
      expect(template.render({ parameters: { n: i, l: [i, i + 1] } })).toBe(`${i}-${i}${i + 1}`);
    }
  });

  it("rejects a non-object context", () => {
    const template = compileTemplate("{{x}}", { name: "t" });
    expect(() => template.render(null as unknown as object)).toThrow(TypeError);
  });
});

describe("templates with the same text share their compilation, never their name", () => {
  it("each names itself in render errors and renders alike", () => {
    for (const source of ["{{parameters.x}}", "db-{{parameters.x}}-{{parameters.y}}"]) {
      const first = compileTemplate(source, { name: "plans.a.inputs.x" });
      const second = compileTemplate(source, { name: "plans.b.inputs.x" });
      expect(() => first.render({ parameters: {} })).toThrow(/plans\.a\.inputs\.x/);
      expect(() => second.render({ parameters: {} })).toThrow(/plans\.b\.inputs\.x/);
      expect(second.render({ parameters: { x: 1, y: 2 } })).toEqual(
        first.render({ parameters: { x: 1, y: 2 } }),
      );
      expect(second.references).toEqual(first.references);
      expect(second.references).not.toBe(first.references);
    }
  });
});
