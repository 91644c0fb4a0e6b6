import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Comments and test titles cite rules of docs/CONTRACT.md by id (H12, A4, X5, M16, K1…) and by
 * section ("OSB section 8", "§12"). Every citation must resolve there, and nothing in the
 * repository may point at a file outside it (reference notes kept beside a checkout are not
 * part of the product).
 */

const ROOT = join(import.meta.dirname, "..");
const CONTRACT = "docs/CONTRACT.md";

/** What is scanned: everything written by hand (generated/, dist/, node_modules are not). */
const SCANNED = [
  "src",
  "test",
  "emulator",
  "tools",
  "scripts",
  "bench",
  "bin",
  "schema",
  "docs",
  "deploy",
  ".ci",
  "README.md",
  "Dockerfile",
  "broker.yaml",
  "package.json",
];
const TEXT = /\.(ts|js|mjs|cjs|json|ya?ml|md|sh|txt|hbs)$|^(run|Dockerfile)$/;

const RULE_ID = /\b([HCAXMK])([0-9]{1,2})\b/g;
const SECTION = /(?:\b(?:OSB|contract|CONTRACT\.md)\s+section\s+|§)([0-9]{1,2})\b/gi;
// Built from pieces so this file does not match itself.
const OUTSIDE = [
  ["..", "/shared"].join(""),
  ["/work", "/"].join(""),
  ["shared", "/reference"].join(""),
  ["osb-contract", ".md"].join(""),
  ["cloudify-rest", ".md"].join(""),
  ["peers", ".md"].join(""),
];

interface Finding {
  file: string;
  line: number;
  what: string;
}

function files(path: string): string[] {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    return []; // optional top-level entries (tools/, scripts/, deploy/) may not exist
  }
  if (stat.isFile()) return TEXT.test(path.split("/").pop()!) ? [path] : [];
  return readdirSync(path).flatMap((name) => (name === "node_modules" ? [] : files(join(path, name))));
}

function contractDefinitions(contract: string): { ids: Set<string>; sections: Set<string> } {
  const ids = new Set([...contract.matchAll(/\*\*([HCAXMK][0-9]{1,2})\*\*/g)].map((m) => m[1]!));
  const sections = new Set([...contract.matchAll(/^## ([0-9]+)\./gm)].map((m) => m[1]!));
  return { ids, sections };
}

function unresolved(
  file: string,
  text: string,
  defined: { ids: Set<string>; sections: Set<string> },
): Finding[] {
  const findings: Finding[] = [];
  text.split("\n").forEach((content, i) => {
    const at = { file, line: i + 1 };
    for (const m of content.matchAll(RULE_ID)) {
      if (!defined.ids.has(m[0])) findings.push({ ...at, what: `rule id ${m[0]} is not in ${CONTRACT}` });
    }
    for (const m of content.matchAll(SECTION)) {
      if (!defined.sections.has(m[1]!))
        findings.push({ ...at, what: `"${m[0]}" names no section of ${CONTRACT}` });
    }
    for (const outside of OUTSIDE) {
      if (content.includes(outside))
        findings.push({ ...at, what: `refers to ${outside}, outside the repository` });
    }
  });
  return findings;
}

const defined = contractDefinitions(readFileSync(join(ROOT, CONTRACT), "utf8"));

describe("rule ids and references", () => {
  it("docs/CONTRACT.md defines the OSB rules (H, C, A, X) and the Cloudify rules (M)", () => {
    for (const id of ["H1", "H15", "C1", "C6", "A1", "A11", "X1", "X10", "M1", "M16"])
      expect(defined.ids, id).toContain(id);
    expect(defined.sections).toContain("12");
  });

  it("every rule id and section cited in the repository resolves in docs/CONTRACT.md, and no file points outside the repository", () => {
    const scanned = SCANNED.flatMap((entry) => files(join(ROOT, entry)))
      .map((path) => relative(ROOT, path))
      // This file's own examples of bad citations are deliberately unresolved.
      .filter((path) => path !== CONTRACT && path !== "test/contract-references.test.ts");
    expect(scanned.length).toBeGreaterThan(100);
    const findings = scanned.flatMap((file) =>
      unresolved(file, readFileSync(join(ROOT, file), "utf8"), defined),
    );
    expect(findings.map((f) => `${f.file}:${f.line}: ${f.what}`)).toEqual([]);
  });

  it("the scan reports an unknown id, an unknown section and a path outside the repository", () => {
    const text = [
      "// 409 on different attributes (OSB section 12, H99)",
      "// see OSB section 42",
      `// details in ${OUTSIDE[0]}/reference/x`,
      "// fine: H12, A4, X5, M13, §12",
    ].join("\n");
    expect(unresolved("x.ts", text, defined).map((f) => [f.line, f.what])).toEqual([
      [1, `rule id H99 is not in ${CONTRACT}`],
      [2, `"OSB section 42" names no section of ${CONTRACT}`],
      [3, `refers to ${OUTSIDE[0]}, outside the repository`],
      [3, `refers to ${OUTSIDE[2]}, outside the repository`],
    ]);
  });
});
