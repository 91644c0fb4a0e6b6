/**
 * One naming style for log fields: every field the product's log calls name is snake_case (as
 * most were, and as request_id, instance_id and the metrics' labels are), so log queries never
 * have to guess. Scans every `log.<level>({ ... }, ...)` call in src/ for its top-level keys.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../src/util/package-root.js";

const ROOT = packageRoot();

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Top-level keys of the object literal that starts right after `open` in `text`. */
function topLevelKeys(text: string, open: number): string[] {
  let depth = 1;
  let i = open;
  while (depth && i < text.length) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") depth--;
    i++;
  }
  const parts: string[] = [];
  let nesting = 0;
  let current = "";
  for (const ch of text.slice(open, i - 1)) {
    if ("{[(".includes(ch)) nesting++;
    if ("}])".includes(ch)) nesting--;
    if (ch === "," && nesting === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.flatMap((part) => /^\s*["']?([A-Za-z_$][\w$]*)["']?\s*(:|$)/.exec(part)?.[1] ?? []);
}

describe("log fields", () => {
  it("are snake_case in every log call of src/", () => {
    const camel: string[] = [];
    let calls = 0;
    for (const file of sources(join(ROOT, "src"))) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/\.(trace|debug|info|warn|error|fatal)\(\s*\{/g)) {
        calls++;
        for (const key of topLevelKeys(text, match.index + match[0].length))
          if (/[a-z][A-Z]/.test(key)) {
            const line = text.slice(0, match.index).split("\n").length;
            camel.push(`${relative(ROOT, file)}:${line}: ${key}`);
          }
      }
    }
    expect(calls).toBeGreaterThan(40); // the scan finds the log calls at all
    expect(camel).toEqual([]);
  });
});
