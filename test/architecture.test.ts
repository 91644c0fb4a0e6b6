/**
 * The layout's dependency rules, checked on the import statements themselves: the runtime (src/)
 * never imports the tools (emulator/, scripts/), the runtime build holds no tool code, and
 * dependencies run one way: protocol (src/osb) -> domain (src/broker) -> Cloudify client / state.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { cp, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "./fixtures/configs/helpers.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") || path.endsWith(".js") ? [path] : [];
  });
}

/** Every relative module a file imports (static, dynamic and type-only), resolved to a repo path. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    found.push(relative(ROOT, resolve(dirname(file), match[1]!)));
  }
  return found;
}

function violations(under: string, forbidden: string[]): string[] {
  return sources(join(ROOT, under)).flatMap((file) =>
    imports(file)
      .filter((target) => forbidden.some((f) => target === f || target.startsWith(`${f}/`)))
      .map((target) => `${relative(ROOT, file)} imports ${target}`),
  );
}

describe("layout", () => {
  it("src/ never imports the tools (emulator/, scripts/, bench/)", () => {
    expect(violations("src", ["emulator", "scripts", "bench"])).toEqual([]);
  });

  it("the domain (src/broker) never imports the protocol layer, the server, the CLI or the metrics", () => {
    expect(violations("src/broker", ["src/osb", "src/server", "src/cli", "src/metrics"])).toEqual([]);
  });

  it("the metrics and the Cloudify client never import the domain", () => {
    expect(violations("src/metrics", ["src/broker"])).toEqual([]);
    expect(violations("src/cloudify", ["src/broker", "src/osb"])).toEqual([]);
  });

  it("the runtime build (dist/) holds no emulator or codegen code", () => {
    expect(existsSync(join(ROOT, "dist/src/cli/main.js"))).toBe(true);
    const built = sources(join(ROOT, "dist")).map((f) => relative(join(ROOT, "dist"), f));
    expect(built.filter((f) => /(^|\/)(emulator|codegen|scripts)(\/|$)/.test(f))).toEqual([]);
  });

  it("package.json ships no tools and keeps codegen dependencies out of the runtime tree", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(manifest.files).not.toContain("emulator");
    expect(manifest.files).not.toContain("scripts");
    for (const dev of ["json-schema-to-typescript", "openapi-typescript", "semver", "tsx"]) {
      expect(manifest.dependencies).not.toHaveProperty(dev);
    }
  });

  it("a runtime install (no tools beside dist/) answers demo, emulator and codegen with one line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runtime-install-"));
    try {
      for (const entry of ["package.json", "bin", "dist", "schema", "generated", "broker.yaml"]) {
        await cp(join(ROOT, entry), join(dir, entry), { recursive: true });
      }
      await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
      for (const command of ["demo", "emulator", "codegen"]) {
        const result = await promisify(execFile)(
          process.execPath,
          [join(dir, "bin/cfy-broker.js"), command],
          {
            cwd: dir,
          },
        ).then(
          () => ({ code: 0, stderr: "" }),
          (error: { code: number; stderr: string }) => error,
        );
        expect(result.code).toBe(2);
        expect(result.stderr).toBe(
          `cfy-broker ${command}: a development tool, available only in a source checkout after \`npm ci\` (not in a runtime install)\n`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
