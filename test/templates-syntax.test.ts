import { describe, expect, it } from "vitest";
import { compileTemplate, TemplateSyntaxError } from "../src/templates/index.js";

function syntaxError(source: string, name = "t"): TemplateSyntaxError {
  try {
    compileTemplate(source, { name });
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected a syntax error for ${JSON.stringify(source)}`);
}

describe("parse errors", () => {
  it("carry the template name, 1-based line/column and a plain-English reason", () => {
    const error = syntaxError("{{foo}", "plans.small.inputs.size");
    expect(error.templateName).toBe("plans.small.inputs.size");
    expect([error.line, error.column]).toEqual([1, 6]);
    expect(error.reason).toBe("unexpected '}'; expected '}}'");
    expect(error.message).toBe(
      `template "plans.small.inputs.size" line 1, column 6: unexpected '}'; expected '}}'`,
    );
  });

  it.each([
    // source, line, column, reason
    ["line one\n  {{default x =}}", 2, 16, "unexpected '}}'; expected a name or a value"],
    ["x\n\n   {{ 'a' }", 3, 11, "unexpected '}'; expected '}}'"],
    ["{{x}}}", 1, 4, "unexpected '}}}'; expected '}}'"],
    ["{{(foo)}}", 1, 3, "unexpected '('; expected a name or a value"],
    ["héllo {{}}", 1, 9, "unexpected '}}'; expected a name or a value"],
    ["{{x.[y}}", 1, 5, "unexpected '['; expected a name or a value"],
    ["{{#if x}}{{/each}}", 1, 4, "block {{#if}} is closed by {{/each}}"],
    ["a\n{{#each l}}\n  {{#if x}}\n{{/each}}", 3, 6, "block {{#if}} is closed by {{/each}}"],
    ["{{foo/this}}", 1, 3, 'invalid path "foo/this"'],
  ])("%j fails at %i:%i", (source, line, column, reason) => {
    const error = syntaxError(source);
    expect({ line: error.line, column: error.column, reason: error.reason }).toEqual({
      line,
      column,
      reason,
    });
  });

  it("points an unclosed block at its opening tag", () => {
    const error = syntaxError("name: x\nbody: {{#if parameters.ha}}\n  replicas: 3\n");
    expect([error.line, error.column, error.reason]).toEqual([2, 7, "block {{#if}} is never closed"]);
  });

  it("finds the innermost unclosed block and skips blocks inside comments", () => {
    expect(syntaxError("{{#each a}}{{#if b}}x{{/each}}").reason).toBe("block {{#if}} is closed by {{/each}}");
    const error = syntaxError("{{!-- {{#if}} --}}\n{{#with x}}\n{{#if y}}{{/if}}");
    expect([error.line, error.column, error.reason]).toEqual([2, 1, "block {{#with}} is never closed"]);
    expect(syntaxError("{{#if a}}{{else}}").reason).toBe("block {{#if}} is never closed");
  });

  it("counts lines across CRLF line endings", () => {
    const error = syntaxError("a\r\nb\r\n  {{x}");
    expect([error.line, error.column]).toEqual([3, 6]);
  });
});

describe("unsupported or invalid constructs", () => {
  it.each([
    ["{{> partial}}", 1, 1, "partials ({{> name}}) are not supported"],
    ["{{*decorator}}", 1, 1, "decorators ({{* name}}) are not supported"],
    ["a\n {{foo x}}", 2, 4, 'unknown helper "foo"'],
    [
      "{{parameters.fn x}}",
      1,
      3,
      '"parameters.fn" is not a helper; only helpers take arguments or open blocks',
    ],
    [
      "{{#parameters.list}}x{{/parameters.list}}",
      1,
      4,
      '"parameters.list" is not a helper; only helpers take arguments or open blocks',
    ],
    [
      '{{"abc"}}',
      1,
      3,
      "a literal cannot stand alone in {{ }}; write the value without braces or pass it to a helper",
    ],
    ["{{{{raw}}}}x{{{{/raw}}}}", 1, 5, 'unknown helper "raw"'],
    ["{{#upper x}}{{/upper}}", 1, 4, 'helper "upper" cannot open a block; write {{upper ...}}'],
    ["{{if x}}", 1, 3, '"if" is a block helper; write {{#if ...}}...{{/if}}'],
    ["{{upper x y}}", 1, 11, 'helper "upper" takes 1 argument, got 2'],
    ["{{eq x}}", 1, 3, 'helper "eq" takes 2 arguments, got 1'],
    ["{{default x}}", 1, 3, 'helper "default" takes at least 2 arguments, got 1'],
    ["{{upper x case=1}}", 1, 11, 'helper "upper" takes no named arguments'],
    ["{{#if x foo=1}}{{/if}}", 1, 9, 'helper "if" accepts only the named argument includeZero'],
    ["{{@foo}}", 1, 3, 'unknown data variable "@foo"; available: @root, @index, @key, @first, @last'],
    ["{{#if x as |y|}}{{/if}}", 1, 1, "{{#if}} does not provide block parameters"],
    ["{{#each x as |a b c|}}{{/each}}", 1, 1, "{{#each}} provides at most 2 block parameters"],
    ["{{#each x as |__cfyOut|}}{{/each}}", 1, 1, 'block parameter names must not start with "__cfy"'],
    ["{{__cfyOut 'a' 'b' c}}", 1, 3, 'unknown helper "__cfyOut"'],
    ["{{password 7}}", 1, 12, "password length must be an integer from 8 to 128"],
    ["{{password 129}}", 1, 12, "password length must be an integer from 8 to 128"],
    ["{{password '16'}}", 1, 12, "password length must be an integer from 8 to 128"],
  ])("%j is rejected at %i:%i", (source, line, column, reason) => {
    const error = syntaxError(source);
    expect({ line: error.line, column: error.column, reason: error.reason }).toEqual({
      line,
      column,
      reason,
    });
  });

  it("explains that a bare helper name is a helper call", () => {
    expect(syntaxError("{{json}}").reason).toBe(
      'helper "json" takes 1 argument, got 0 (to read a variable named "json", write {{this.json}})',
    );
    expect(compileTemplate("{{this.json}}", { name: "t" }).render({ json: 1 })).toBe(1);
  });

  it("lets a block parameter shadow a helper name, as Handlebars does", () => {
    const template = compileTemplate("{{#each list as |upper|}}{{upper}}{{/each}}", { name: "t" });
    expect(template.render({ list: ["a", "b"] })).toBe("ab");
  });
});

describe("secret keys must be literals", () => {
  it.each([
    ["{{secret parameters.key}}", 1, 10],
    ["x {{upper (secret (concat 'a' 'b'))}}", 1, 19],
    ["{{#if x}}\n  {{secret context.name}}\n{{/if}}", 2, 12],
  ])("%j is rejected at the key", (source, line, column) => {
    const error = syntaxError(source);
    expect([error.line, error.column]).toEqual([line, column]);
    expect(error.reason).toMatch(/the key of "secret" must be a quoted literal/);
  });

  it("rejects an empty key and a missing key", () => {
    expect(syntaxError('{{secret ""}}').reason).toBe('the key of "secret" must not be empty');
    expect(syntaxError("{{secret}}").reason).toMatch(/helper "secret" takes 1 argument, got 0/);
  });
});
