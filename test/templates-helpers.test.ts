import { describe, expect, it } from "vitest";
import {
  compileTemplate,
  TemplateRenderError,
  templateHelperNames,
  templateHelpers,
} from "../src/templates/index.js";

function render(
  source: string,
  context: object = {},
  options: { seed?: string; secrets?: Record<string, string> } = {},
) {
  return compileTemplate(source, { name: "t" }).render(context, options);
}

function renderError(source: string, context: object = {}, options = {}): TemplateRenderError {
  try {
    render(source, context, options);
  } catch (error) {
    if (error instanceof TemplateRenderError) return error;
    throw error;
  }
  throw new Error(`expected a render error for ${source}`);
}

describe("helper list", () => {
  it("documents every helper name", () => {
    expect([...templateHelperNames].sort()).toEqual(
      [
        "and",
        "base64",
        "base64decode",
        "bool",
        "concat",
        "default",
        "each",
        "eq",
        "if",
        "int",
        "json",
        "lookup",
        "lower",
        "ne",
        "not",
        "number",
        "or",
        "password",
        "secret",
        "unless",
        "upper",
        "urlencode",
        "uuid",
        "with",
      ].sort(),
    );
    for (const doc of templateHelpers) {
      expect(doc.usage.length).toBeGreaterThan(0);
      expect(doc.description.length).toBeGreaterThan(0);
    }
    expect(templateHelpers.filter((h) => h.block).map((h) => h.name)).toEqual([
      "if",
      "unless",
      "each",
      "with",
    ]);
  });

  it("does not offer Handlebars' log helper", () => {
    expect(templateHelperNames).not.toContain("log");
    expect(() => compileTemplate("{{log 'x'}}", { name: "t" })).toThrow(/unknown helper "log"/);
  });
});

describe("default", () => {
  const ctx = { v: { zero: 0, no: false, empty: "", nil: null, text: "x" } };
  it.each([
    ["{{default v.missing 'fb'}}", "fb"],
    ["{{default v.nil 'fb'}}", "fb"],
    ["{{default v.empty 'fb'}}", "fb"],
    ["{{default v.zero 'fb'}}", 0],
    ["{{default v.no 'fb'}}", false],
    ["{{default v.text 'fb'}}", "x"],
    ["{{default v.missing v.nil v.text 'fb'}}", "x"],
    ["{{default v.missing v.nil}}", null],
  ])("%s -> %j", (source, expected) => {
    expect(render(source, ctx)).toStrictEqual(expected);
  });
});

describe("json", () => {
  it("serialises values and missing values", () => {
    expect(render("{{json v}}", { v: { a: [1, "2", null, true] } })).toBe('{"a":[1,"2",null,true]}');
    expect(render("{{json v}}", { v: "text" })).toBe('"text"');
    expect(render("{{json v}}", {})).toBe("null");
  });

  it("reports values that cannot be serialised", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(renderError("{{json v}}", { v: cyclic }).reason).toMatch(
      /helper "json": value cannot be converted/,
    );
  });
});

describe("text helpers", () => {
  it("urlencode percent-encodes reserved characters", () => {
    expect(render("{{urlencode v}}", { v: "p@ss/w:rd?&=# é" })).toBe("p%40ss%2Fw%3Ard%3F%26%3D%23%20%C3%A9");
    expect(renderError("{{urlencode v}}", { v: "\uD800" }).reason).toMatch(/not valid Unicode/);
  });

  it("base64 encodes UTF-8 text", () => {
    expect(render("{{base64 v}}", { v: "user:pässword" })).toBe(
      Buffer.from("user:pässword").toString("base64"),
    );
    expect(render("{{base64 'a'}}")).toBe("YQ==");
  });

  it("base64decode accepts standard, URL-safe, unpadded and wrapped input", () => {
    expect(render("{{base64decode 'aGVsbG8gd29ybGQ='}}")).toBe("hello world");
    expect(render("{{base64decode 'aGVsbG8gd29ybGQ'}}")).toBe("hello world");
    expect(render("{{base64decode v}}", { v: "aGVs\nbG8g\nd29y\nbGQ=" })).toBe("hello world");
    expect(render("{{base64decode v}}", { v: Buffer.from("??>>").toString("base64url") })).toBe("??>>");
  });

  it("base64decode rejects invalid base64 and non-UTF-8 bytes without echoing the value", () => {
    const bad = renderError("{{base64decode v}}", { v: "not*base64!" });
    expect(bad.reason).toBe('helper "base64decode": value is not valid base64');
    expect(bad.message).not.toContain("not*base64!");
    expect(renderError("{{base64decode v}}", { v: "/w==" }).reason).toMatch(/not UTF-8 text/);
  });

  it("lower and upper change case", () => {
    expect(render("{{lower v}}-{{upper v}}", { v: "MiXed" })).toBe("mixed-MIXED");
  });

  it("concat joins arguments as text", () => {
    expect(render("{{concat 'db-' v.id '-' v.n v.missing v.nil}}", { v: { id: "x", n: 7, nil: null } })).toBe(
      "db-x-7",
    );
  });

  it("treats missing and null arguments of text helpers as empty text", () => {
    expect(render("[{{upper v}}][{{base64 v}}][{{urlencode v}}]", {})).toBe("[][][]");
  });

  it("refuses objects where text is expected", () => {
    expect(renderError("{{upper v}}", { v: { a: 1 } }).reason).toBe(
      'helper "upper": expects text, got an object',
    );
    expect(renderError("{{concat 'a' v}}", { v: [1] }).reason).toBe(
      'helper "concat": expects text, got a list',
    );
  });
});

describe("type conversions", () => {
  it.each([
    ["{{int v}}", 5, 5],
    ["{{int v}}", 5.9, 5],
    ["{{int v}}", -0.5, 0],
    ["{{int v}}", " 42 ", 42],
    ["{{int v}}", "-7", -7],
    ["{{number v}}", "2.5", 2.5],
    ["{{number v}}", "1e3", 1000],
    ["{{number v}}", 4, 4],
    ["{{bool v}}", "Yes", true],
    ["{{bool v}}", "off", false],
    ["{{bool v}}", "", false],
    ["{{bool v}}", 0, false],
    ["{{bool v}}", 2, true],
    ["{{bool v}}", true, true],
    ["{{bool v}}", null, false],
  ])("%s with %j -> %j", (source, v, expected) => {
    expect(render(source, { v })).toStrictEqual(expected);
  });

  it("keeps -0 out of int results", () => {
    expect(Object.is(render("{{int v}}", { v: -0.5 }), 0)).toBe(true);
  });

  it("renders converted values inside text", () => {
    expect(render("replicas={{int v}}", { v: "3" })).toBe("replicas=3");
  });

  it.each([
    ["{{int v}}", "3.5", 'helper "int": cannot convert a string to an integer'],
    ["{{int v}}", true, 'helper "int": cannot convert a boolean to an integer'],
    ["{{int v}}", undefined, 'helper "int": value is not set'],
    ["{{int v}}", 1e20, 'helper "int": value is outside the safe integer range'],
    ["{{number v}}", "abc", 'helper "number": cannot convert a string to a number'],
    ["{{number v}}", "", 'helper "number": cannot convert a string to a number'],
    ["{{number v}}", null, 'helper "number": value is not set'],
    ["{{bool v}}", "maybe", 'helper "bool": text is not one of true/false/yes/no/on/off/1/0'],
    ["{{bool v}}", [1], 'helper "bool": cannot convert a list to a boolean'],
  ])("%s with %j fails: %s", (source, v, reason) => {
    const error = renderError(source, { v });
    expect(error.reason).toBe(reason);
    expect(error.templateName).toBe("t");
    expect(error.helper).toBe(source.slice(2, source.indexOf(" ")));
  });
});

describe("conditions", () => {
  const ctx = { n: 3, s: "3", t: true, f: false, empty: [], list: [0], zero: 0, text: "x" };
  it.each([
    ["{{eq n 3}}", true],
    ["{{eq n s}}", false],
    ["{{ne n s}}", true],
    ["{{eq missing undefined}}", true],
    ["{{and t text list}}", true],
    ["{{and t empty}}", false],
    ["{{and t zero}}", false],
    ["{{or f missing text}}", true],
    ["{{or f empty zero}}", false],
    ["{{not empty}}", true],
    ["{{not list}}", false],
    ["{{not missing}}", true],
  ])("%s -> %j", (source, expected) => {
    expect(render(source, ctx)).toBe(expected);
  });

  it("work as #if conditions", () => {
    expect(render("{{#if (and (eq n 3) (not f))}}yes{{else}}no{{/if}}", ctx)).toBe("yes");
    expect(render("{{#if (or (eq s 3) missing)}}yes{{else}}no{{/if}}", ctx)).toBe("no");
  });

  it("#if accepts includeZero", () => {
    expect(render("{{#if zero}}y{{else}}n{{/if}}", ctx)).toBe("n");
    expect(render("{{#if zero includeZero=true}}y{{else}}n{{/if}}", ctx)).toBe("y");
  });
});

describe("lookup", () => {
  it("reads a computed own property", () => {
    const ctx = { outputs: { "db-host": "h1", other: "h2" }, parameters: { which: "db-host" } };
    expect(render("{{lookup outputs parameters.which}}", ctx)).toBe("h1");
    expect(render("{{lookup outputs 'other'}}", ctx)).toBe("h2");
    expect(render("{{lookup outputs parameters.nothing}}", ctx)).toBeUndefined();
  });
});

describe("secret", () => {
  it("returns the pre-fetched value", () => {
    const secrets = { db_password: "s3cr3t p@ss" };
    expect(render('{{secret "db_password"}}', {}, { secrets })).toBe("s3cr3t p@ss");
    expect(render('postgres://u:{{urlencode (secret "db_password")}}@h', {}, { secrets })).toBe(
      "postgres://u:s3cr3t%20p%40ss@h",
    );
  });

  it("names the missing key and never a value", () => {
    const error = renderError('{{secret "db_password"}}', {}, { secrets: { other: "other-value" } });
    expect(error.message).toBe('template "t": helper "secret": secret "db_password" is not available');
    expect(error.secretKey).toBe("db_password");
    expect(renderError('{{secret "k"}}').secretKey).toBe("k");
  });

  it("does not read inherited properties of the secrets object", () => {
    expect(renderError('{{secret "toString"}}', {}, { secrets: {} }).secretKey).toBe("toString");
  });
});

describe("password", () => {
  const seed = "binding-7f3a";

  it("has the requested length, letters and digits, and every character class", () => {
    for (const length of [8, 9, 16, 32, 64, 127, 128]) {
      const password = render(`{{password ${length}}}`, {}, { seed }) as string;
      expect(password).toHaveLength(length);
      expect(password).toMatch(/^[A-Za-z0-9]+$/);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[0-9]/);
    }
  });

  it("is stable for one seed, across renders and separately compiled copies", () => {
    const first = compileTemplate("{{password 24}}", { name: "plans.small.credentials.password" });
    const second = compileTemplate("{{password 24}}", { name: "plans.small.credentials.password" });
    const value = first.render({}, { seed });
    expect(first.render({}, { seed })).toBe(value);
    expect(second.render({}, { seed })).toBe(value);
  });

  it("matches the pinned derivation (changing it would rotate every existing binding's password)", () => {
    const template = compileTemplate("{{password 16}}", { name: "pinned" });
    expect(template.render({}, { seed: "pinned-seed" })).toBe(PINNED_PASSWORD);
  });

  it("K3 is one value per binding: the same across templates and call sites, different across seeds, lengths and names", () => {
    const a = compileTemplate("{{password 32}}", {
      name: "plans.small.binding.workflow.create.parameters.password",
    });
    const b = compileTemplate("{{password 32}}", { name: "plans.small.binding.credentials.password" });
    expect(b.render({}, { seed: "seed-1" })).toBe(a.render({}, { seed: "seed-1" }));
    const [p1, p2] = (render("{{password 32}} {{password 32}}", {}, { seed }) as string).split(" ");
    expect(p1).toBe(p2);
    const values = new Set([
      a.render({}, { seed: "seed-1" }),
      a.render({}, { seed: "seed-2" }),
      render('{{password 32 "admin"}}', {}, { seed: "seed-1" }),
      render("{{password 24}}", {}, { seed: "seed-1" }),
    ]);
    expect(values.size).toBe(4);
    // A shorter password is not a prefix of a longer one: the length is part of the derivation.
    expect(
      (a.render({}, { seed: "seed-1" }) as string).startsWith(
        render("{{password 24}}", {}, { seed: "seed-1" }) as string,
      ),
    ).toBe(false);
  });

  it("gives one value per name in loops; a computed name gives one per iteration, reproducibly", () => {
    const same = compileTemplate("{{#each users}}{{password 12}},{{/each}}", { name: "t" });
    expect(
      new Set((same.render({ users: [1, 2, 3] }, { seed }) as string).split(",").filter(Boolean)).size,
    ).toBe(1);
    const named = compileTemplate("{{#each users}}{{password 12 (concat 'user-' @index)}},{{/each}}", {
      name: "t",
    });
    const out = named.render({ users: [1, 2, 3] }, { seed }) as string;
    expect(new Set(out.split(",").filter(Boolean)).size).toBe(3);
    expect(named.render({ users: [1, 2, 3] }, { seed })).toBe(out);
  });

  it("keeps its value when an earlier conditional call is skipped", () => {
    const template = compileTemplate("{{#if extra}}{{password 10}}-{{/if}}{{password 10}}", { name: "t" });
    const withExtra = (template.render({ extra: true }, { seed }) as string).split("-")[1];
    expect(template.render({ extra: false }, { seed })).toBe(withExtra);
  });

  it("refuses an empty or non-text name", () => {
    expect(renderError('{{password 16 ""}}', {}, { seed }).reason).toBe(
      'helper "password": a name must be non-empty text',
    );
    expect(renderError("{{password 16 n}}", { n: 3 }, { seed }).helper).toBe("password");
  });

  it("accepts a computed length and checks its bounds at render time", () => {
    expect(render("{{password n}}", { n: 20 }, { seed })).toHaveLength(20);
    expect(renderError("{{password n}}", { n: 200 }, { seed }).reason).toBe(
      'helper "password": length must be an integer from 8 to 128',
    );
    expect(renderError("{{password n}}", { n: "20" }, { seed }).helper).toBe("password");
  });

  it("requires a seed", () => {
    expect(renderError("{{password 16}}").reason).toBe(
      'helper "password": needs a per-binding seed (render option `seed`), none was given',
    );
    expect(renderError("{{password 16}}", {}, { seed: "" }).helper).toBe("password");
  });
});

describe("uuid", () => {
  it("is a version-4-shaped UUID, one per binding and name, stable per seed", () => {
    const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const template = compileTemplate('{{uuid}} {{uuid}} {{uuid "other"}}', { name: "t" });
    const [a, b, c] = (template.render({}, { seed: "s" }) as string).split(" ");
    expect(a).toMatch(pattern);
    expect(c).toMatch(pattern);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(template.render({}, { seed: "s" })).toBe(`${a} ${b} ${c}`);
    expect(template.render({}, { seed: "other" })).not.toBe(`${a} ${b} ${c}`);
    expect(renderError("{{uuid}}").helper).toBe("uuid");
  });
});

// Computed independently (Python hmac) from the documented derivation: HMAC-SHA256(seed,
// "cfy-broker/template/password/v2\0<name>\0<length>\0<attempt>\0<block>"), name "" here.
const PINNED_PASSWORD = "IES6Ufsu7JRT24d6";
