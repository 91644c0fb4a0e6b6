/**
 * The quick parse (src/config/quick-parse.ts, js-yaml) must give exactly what ConfigSource's
 * `yaml` parse gives, or nothing: a document it answers for has no YAML error or warning and
 * the same value, so validate, startup and reload see the same config whichever parser read it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { EventLocator, UNKNOWN } from "../src/config/event-locator.js";
import { parseOffThread } from "../src/config/parse-off-thread.js";
import { parseQuickly } from "../src/config/quick-parse.js";
import { ConfigSource, TO_JS_OPTIONS, YAML_OPTIONS } from "../src/config/source.js";
import { exampleText } from "./fixtures/configs/helpers.js";

/** What the `yaml` parse (with source positions) makes of `text`: its value, or that it reports something. */
function bySlowParse(text: string): { value: unknown } | "reports" {
  const doc = parseDocument(text, YAML_OPTIONS);
  if (doc.errors.length || doc.warnings.length) return "reports";
  try {
    return { value: doc.toJS(TO_JS_OPTIONS) };
  } catch {
    return "reports";
  }
}

/** Scalars and fragments whose resolution differs between YAML schemas or parsers. */
const PIECES = [
  "1_000",
  "0o17",
  "0O17",
  "017",
  "0x1F",
  "0b101",
  "+12",
  "-0",
  "1e3",
  "1.",
  "1.5e",
  "+.inf",
  "-.INF",
  ".nan",
  "-.nan",
  ".NaN",
  "true",
  "True",
  "tRue",
  "yes",
  "no",
  "on",
  "null",
  "Null",
  "~",
  "",
  "2001-12-14",
  "12:30:00",
  "1:30",
  "123456789012345678901234567890",
  "'q'",
  "'it''s'",
  '"\\u0041"',
  '"x\\ty"',
  '""',
  "''",
  "a # c",
  "a#c",
  "<<",
  "__proto__",
  "constructor",
  "x y",
  "'a: b'",
  "[a, b]",
  "{a: 1}",
  "{<<: {a: 1}}",
  "[]",
  "{}",
  "'1'",
  "1",
  "1.0",
  "a",
  "b",
  "&x 1",
  "*x",
  "!!str 1",
  "!!float 1",
  "! a",
  "|\n  literal",
  ">-\n  folded",
  "-1.5e-3",
  "00",
  "'null'",
  "? a",
  "- ",
  "Hello!",
];

const piece = fc.constantFrom(...PIECES);
/** A small YAML document: block mappings and sequences, flow collections, at most three deep. */
const documents = fc.letrec<{ node: string; doc: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    piece,
    fc
      .array(fc.tuple(piece, tie("node")), { minLength: 1, maxLength: 3 })
      .map((pairs) => pairs.map(([k, v]) => `\n${k}: ${indent(v)}`).join("")),
    fc
      .array(tie("node"), { minLength: 1, maxLength: 3 })
      .map((items) => items.map((v) => `\n- ${indent(v)}`).join("")),
    fc.array(piece, { maxLength: 3 }).map((items) => `[${items.join(", ")}]`),
    fc
      .array(fc.tuple(piece, piece), { maxLength: 3 })
      .map((pairs) => `{${pairs.map(([k, v]) => `${k}: ${v}`).join(", ")}}`),
  ),
  doc: fc
    .array(fc.tuple(piece, tie("node")), { minLength: 1, maxLength: 3 })
    .map((pairs) => pairs.map(([k, v]) => `${k}: ${indent(v)}\n`).join("")),
}));

function indent(node: string): string {
  return node.replaceAll("\n", "\n  ");
}

describe("quick parse of broker.yaml", () => {
  it("reads the example broker.yaml, with the value the `yaml` parse gives", () => {
    const text = exampleText();
    const quick = parseQuickly(text);
    expect(quick).toBeDefined();
    expect(quick).toEqual(bySlowParse(text));
  });

  it("answers for a document only with the `yaml` parse's value, and for many of them", () => {
    let answered = 0;
    fc.assert(
      fc.property(documents.doc, (text) => {
        const quick = parseQuickly(text);
        if (!quick) return;
        answered++;
        expect(bySlowParse(text), text).toEqual(quick);
      }),
      { numRuns: 3000 },
    );
    // Not a test that passes by answering nothing: most generated documents are plain YAML.
    expect(answered).toBeGreaterThan(500);
  });

  it.each([
    ["an explicit tag the `yaml` parse refuses", "a: !!float 1\n"],
    ["a custom tag", "a: !secret x\n"],
    ["a directive that changes how scalars resolve", "%YAML 1.1\n---\na: yes\n"],
    ["a null key (named differently by the two parsers)", "~: a\nb: 1\n"],
    ["an alias (expansion bounded by the `yaml` parse)", "a: &x {b: 1}\nc: *x\n"],
    ["a duplicate key", "a: 1\na: 2\n"],
    ["a syntax error", "a: [1, 2\nb: 3\n"],
    ["a complex key", "[a, b]: 1\n"],
    ["an empty file", ""],
  ])("leaves %s to the `yaml` parse", (_what, text) => {
    expect(parseQuickly(text)).toBeUndefined();
  });

  it.each([
    ["merge keys", "base: {a: 1}\nx:\n  <<: {a: 2, b: 3}\n  a: 1\n"],
    ["YAML 1.2 core scalars", "a: [0o17, 0x1F, 1_000, yes, ~, .inf, -.nan, 1e3, '1']\n"],
    ["an exclamation mark inside a value", "description: Hello! It works\n"],
    ["a key named __proto__", "__proto__: {a: 1}\n"],
  ])("reads %s as the `yaml` parse does", (_what, text) => {
    const quick = parseQuickly(text);
    expect(quick).toBeDefined();
    expect(quick).toEqual(bySlowParse(text));
  });

  it("reads the same value on the parse worker (it runs the quick parse from its source text)", async () => {
    const text = `${exampleText()}\n# a comment only the worker sees\n`;
    const offThread = await parseOffThread(text);
    expect(offThread).toEqual(bySlowParse(text));
  });
});

/** Every path to a value of `value`, and paths that go one step past an existing one. */
function pathsOf(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  const paths = [path, [...path, "nope"], [...path, 7]];
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) paths.push(...pathsOf(item, [...path, i]));
  } else if (value !== null && typeof value === "object")
    for (const [key, child] of Object.entries(value)) paths.push(...pathsOf(child, [...path, key]));
  return paths;
}

describe("positions of a document parsed quickly (js-yaml's events, not `yaml`'s document)", () => {
  function expectSamePlaces(text: string): number {
    const slow = ConfigSource.parseWithYaml("x.yaml", text);
    if (slow.value === undefined || slow.issues.length) return 0;
    const quick = ConfigSource.parsedElsewhere("x.yaml", text);
    const paths = pathsOf(slow.value);
    for (const path of paths) {
      const where = `${JSON.stringify(path)} in ${JSON.stringify(text)}`;
      expect(quick.position(path), where).toEqual(slow.source.position(path));
      expect(quick.keyPosition(path), where).toEqual(slow.source.keyPosition(path));
      expect(quick.scalarSource(path), where).toEqual(slow.source.scalarSource(path));
    }
    return paths.length;
  }

  it("places every value of generated documents where the `yaml` document does", () => {
    let compared = 0;
    fc.assert(
      fc.property(documents.doc, (text) => {
        compared += expectSamePlaces(text);
      }),
      { numRuns: 1500 },
    );
    expect(compared).toBeGreaterThan(5000);
  });

  it("places every value of the example broker.yaml, and a large one, where the `yaml` document does", () => {
    const text = exampleText();
    expect(expectSamePlaces(text)).toBeGreaterThan(300);
    // The events place nearly all of it themselves (not a test passing by asking `yaml` each time).
    const locator = EventLocator.build(text);
    const paths = pathsOf(ConfigSource.parse("x.yaml", text).value);
    const placed = paths.filter((path) => locator.nodeAt(path) !== UNKNOWN);
    expect(placed.length / paths.length).toBeGreaterThan(0.9);
    const lines = text.split("\n");
    expect(expectSamePlaces(lines.map((line) => line.replace(/\s+#.*$/, "")).join("\r\n"))).toBeGreaterThan(
      300,
    );
  });
});
