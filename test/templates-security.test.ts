import Handlebars from "handlebars";
import { describe, expect, it } from "vitest";
import { compileTemplate, TemplateError, TemplateSyntaxError } from "../src/templates/index.js";

const secrets = { db_password: "TOP-SECRET-VALUE" };

function render(source: string, parameters: unknown) {
  return compileTemplate(source, { name: "t" }).render({ parameters, outputs: { host: "h" } }, { secrets });
}

describe("values are data, never template code", () => {
  const payloads = [
    '{{secret "db_password"}}',
    "{{outputs.host}}",
    "}}{{secret 'db_password'}}{{",
    "{{#each this}}{{/each}}",
    "{{> partial}}",
    "\\{{x}}",
    "{{{{raw}}}}",
  ];

  it.each(payloads)("renders parameter %j literally in text and typed templates", (payload) => {
    expect(render("x={{parameters.v}}", { v: payload })).toBe(`x=${payload}`);
    expect(render("{{parameters.v}}", { v: payload })).toBe(payload);
    expect(render("{{concat parameters.v '!'}}", { v: payload })).toBe(`${payload}!`);
    expect(render("{{json parameters}}", { v: payload })).toBe(JSON.stringify({ v: payload }));
  });

  it("does not let a value close an expression and add another input", () => {
    const name = '", "admin": "{{secret \\"db_password\\"}}';
    const out = render('{"db": "{{parameters.name}}", "size": {{int parameters.size}} }', { name, size: 1 });
    expect(out).toBe(`{"db": "${name}", "size": 1 }`);
    expect(out).not.toContain(secrets.db_password);
  });

  it("does not re-render the output of one template as another's input", () => {
    const first = compileTemplate("{{parameters.v}}", { name: "a" }).render({ parameters: { v: "{{x}}" } });
    const second = compileTemplate("{{parameters.v}}", { name: "b" }).render({
      parameters: { v: first },
      x: 1,
    });
    expect(second).toBe("{{x}}");
  });
});

describe("prototype access", () => {
  it("rejects prototype-reaching paths at compile time", () => {
    for (const source of [
      "{{parameters.__proto__}}",
      "{{parameters.constructor.name}}",
      "{{#with parameters.constructor}}{{/with}}",
      "{{default parameters.__defineGetter__ 1}}",
      "{{lookup parameters 'constructor'}}",
    ]) {
      expect(() => compileTemplate(source, { name: "t" }), source).toThrow(TemplateSyntaxError);
    }
  });

  it("keeps computed lookups of prototype members inert at render time", () => {
    for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty", "__defineGetter__"]) {
      expect(render("{{lookup parameters parameters.key}}", { key }), key).toBeUndefined();
      expect(
        render("{{#with (lookup parameters parameters.key)}}reached{{else}}no{{/with}}", { key }),
        key,
      ).toBe("no");
    }
    expect(
      render("{{lookup (lookup (lookup parameters parameters.a) parameters.b) 'name'}}", {
        a: "constructor",
        b: "constructor",
      }),
    ).toBeUndefined();
  });

  it("treats an own __proto__ key in parameters as plain data and pollutes nothing", () => {
    const parameters = JSON.parse('{"key": "__proto__", "__proto__": {"polluted": "yes"}}');
    expect(render("{{json (lookup parameters parameters.key)}}", parameters)).toBe('{"polluted":"yes"}');
    expect(render("{{json parameters}}", parameters)).toBe(
      '{"key":"__proto__","__proto__":{"polluted":"yes"}}',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("cannot reach the engine's render state through data variables", () => {
    expect(() => compileTemplate("{{@__cfyTemplateState.secrets}}", { name: "t" })).toThrow(
      /unknown data variable "@__cfyTemplateState"/,
    );
    expect(() => compileTemplate("{{json @__cfyTemplateState}}", { name: "t" })).toThrow(TemplateSyntaxError);
  });
});

describe("secrets in errors", () => {
  const failing = [
    '{{int (secret "db_password")}}',
    '{{number (secret "db_password")}}',
    '{{bool (secret "db_password")}}',
    '{{base64decode (secret "db_password")}}',
    '{{parameters.missing}}{{secret "db_password"}}',
    'x{{#with (secret "db_password")}}{{this.length.missing}}{{/with}}',
  ];

  it.each(failing)("%s fails without the secret or parameter values in the message", (source) => {
    let error: unknown;
    try {
      render(source, { other: "PARAM-VALUE" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateError);
    const message = (error as Error).message;
    expect(message).not.toContain(secrets.db_password);
    expect(message).not.toContain("PARAM-VALUE");
  });
});

describe("compile once", () => {
  it("renders without invoking the Handlebars parser", () => {
    const template = compileTemplate("{{#each parameters.l}}{{upper this}}{{/each}} {{json parameters}}", {
      name: "t",
    });
    // All Handlebars instances share one parser; a parse during render would replace its lexer input.
    const parser = (Handlebars as unknown as { Parser: { lexer: { _input: string; matched: string } } })
      .Parser;
    Handlebars.parse("{{sentinel}} after");
    const before = { input: parser.lexer._input, matched: parser.lexer.matched };
    expect(before.matched).toContain("sentinel");
    expect(template.render({ parameters: { l: ["a", "b"] } })).toBe('AB {"l":["a","b"]}');
    expect({ input: parser.lexer._input, matched: parser.lexer.matched }).toEqual(before);
  });

  it("reports compile problems at compile time, before any render", () => {
    expect(() => compileTemplate("{{#if x}}{{unknownhelper y}}{{/if}}", { name: "t" })).toThrow(
      /unknown helper "unknownhelper"/,
    );
  });
});
