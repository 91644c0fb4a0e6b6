/**
 * Every independent error in one run (issue 13 §3), as a property over many bad files: each
 * is the example broker.yaml with one value under `services` replaced by one of the wrong type
 * (a number for a list or mapping, a mapping for a scalar), plus two semantic errors in other
 * places. Whatever the replaced value, the run lists
 * - the schema's errors about it, and no error that follows from it (no check reads a value
 *   the schema rejected), and
 * - each semantic error outside what the bad value breaks: always one in another service or
 *   in a sibling plan.
 * The scope rules themselves (which subtree a bad value leaves out) are spelled out one by one
 * in config-validate's "one round of fixes".
 */

import { describe, expect, it } from "vitest";
import { isMap, isSeq, type Node, parseDocument } from "yaml";
import { interpolateEnv } from "../src/config/env.js";
import type { ConfigIssue } from "../src/config/issues.js";
import { loadConfigText } from "../src/config/load.js";
import { validateAgainstSchema } from "../src/config/schema-validation.js";
import { ConfigSource, type Path } from "../src/config/source.js";
import { example, FULL_ENV } from "./fixtures/configs/helpers.js";

/** Two semantic errors: in postgresql/large and in redis/cache-small. */
const SEMANTIC = [
  { plan: ["services", 0, "plans", 1], path: "services[0].plans[1].maintenance_info.version" },
  { plan: ["services", 1, "plans", 0], path: "services[1].plans[0].maintenance_info.version" },
] as const;

const BASE = example(
  ["          version: 2.1.0\n", "          version: two\n"],
  [
    "          version: 1.0.0\n        inputs:\n          memory_mb: 256",
    "          version: one\n        inputs:\n          memory_mb: 256",
  ],
);

/** Every value under services down to the values of a plan's properties, with a replacement of the wrong type. */
function mutations(): { path: Path; replacement: unknown }[] {
  const out: { path: Path; replacement: unknown }[] = [];
  const walk = (node: unknown, path: Path): void => {
    if (path[0] === "services" && path.length >= 3)
      out.push({ path, replacement: isMap(node) || isSeq(node) ? 12345 : { unexpected: 1 } });
    if (path.length >= 6) return;
    if (isMap(node))
      for (const pair of node.items)
        walk(pair.value, [...path, String((pair.key as { value: unknown }).value)]);
    else if (isSeq(node))
      node.items.forEach((item, i) => {
        walk(item, [...path, i]);
      });
  };
  walk(parseDocument(BASE).contents as Node, []);
  return out;
}

/** What the JSON Schema alone says about `text` (the oracle: load must say this and no more about the bad value). */
function schemaErrors(text: string): ConfigIssue[] {
  const parsed = ConfigSource.parse("broker.yaml", text);
  const interpolated = interpolateEnv(parsed.value, parsed.source, FULL_ENV, "warning");
  return validateAgainstSchema(interpolated.value, parsed.source, interpolated.interpolated).issues;
}

const key = (issue: ConfigIssue) => `${issue.line}:${issue.column} ${issue.path}: ${issue.message}`;
const isSemantic = (issue: ConfigIssue) =>
  SEMANTIC.some((s) => s.path === issue.path) && /is not a semantic version/.test(issue.message);
const within = (path: Path, prefix: readonly (string | number)[]) =>
  prefix.every((segment, i) => path[i] === segment);

describe("a value of the wrong type anywhere under services", { timeout: 60_000 }, () => {
  const cases = mutations();

  it("covers the services, their properties and their plans' properties", () => {
    expect(cases.length).toBeGreaterThan(150);
    expect(cases.some(({ path }) => path.length === 5 && path[2] === "plans")).toBe(true);
  });

  it("gives its schema errors, nothing that follows from it, and the semantic errors elsewhere", async () => {
    let checked = 0;
    for (const { path, replacement } of cases) {
      const doc = parseDocument(BASE);
      doc.setIn(path, doc.createNode(replacement));
      const text = doc.toString();
      const expected = schemaErrors(text);
      if (!expected.some((issue) => issue.path.startsWith("services"))) continue; // the schema allows it
      checked++;
      const { issues, loaded } = await loadConfigText("broker.yaml", text, {
        mode: "validate",
        env: FULL_ENV,
      });
      expect(loaded).toBeUndefined();
      const errors = issues.filter((issue) => issue.severity === "error");
      const where = `with ${JSON.stringify(path)} = ${JSON.stringify(replacement)}`;
      expect(
        errors
          .filter((issue) => !isSemantic(issue))
          .map(key)
          .sort(),
        where,
      ).toEqual(expected.map(key).sort());
      const reported = new Set(errors.filter(isSemantic).map((issue) => issue.path));
      for (const semantic of SEMANTIC) {
        const otherService = path[1] !== semantic.plan[1];
        const siblingPlan =
          !otherService && path[2] === "plans" && path.length >= 4 && !within(path, semantic.plan);
        if (otherService || siblingPlan)
          expect(reported.has(semantic.path), `${semantic.path} ${where}`).toBe(true);
      }
    }
    expect(checked).toBeGreaterThan(140);
  });
});
