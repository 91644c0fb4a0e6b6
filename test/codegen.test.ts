/**
 * `cfy-broker codegen`: the committed generated/ and docs/broker-yaml.md are fresh, `--check`
 * catches a schema edited without regenerating (in a copy of the package, never in the repo),
 * regeneration fixes it, the generated code type-checks on its own, and the broker.yaml
 * reference documents every schema property (a property without a description fails codegen).
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli, tempDir } from "./fixtures/configs/helpers.js";

const exec = promisify(execFile);

let copy: string;

/**
 * A copy of the checkout (bin, dist, schema, generated, docs, the example broker.yaml, and the
 * codegen tool with the sources it imports) with the repo's node_modules.
 */
async function copyPackage(dir: string): Promise<void> {
  const entries = [
    "package.json",
    "bin",
    "dist",
    "schema",
    "generated",
    "docs",
    "broker.yaml",
    "src",
    "scripts",
  ];
  for (const entry of entries) await cp(join(ROOT, entry), join(dir, entry), { recursive: true });
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
}

beforeAll(async () => {
  copy = await tempDir("codegen-");
  await copyPackage(copy);
});
afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

describe("cfy-broker codegen", () => {
  it("--check exits 0 on the committed tree: generated/ and docs/broker-yaml.md are fresh", async () => {
    const result = await runCli(["codegen", "--check"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("--check exits 1 and names the stale file when a schema changed; codegen regenerates it", async () => {
    const schemaFile = join(copy, "schema/broker.schema.json");
    const schema = JSON.parse(await readFile(schemaFile, "utf8"));
    schema.definitions.plan.properties.description.description = "Short description (changed by a test).";
    await writeFile(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
    const bin = join(copy, "bin/cfy-broker.js");
    const generated = join(copy, "generated/broker-config.ts");
    const docs = join(copy, "docs/broker-yaml.md");
    const before = await readFile(generated, "utf8");
    const docsBefore = await readFile(docs, "utf8");

    const check = await runCli(["codegen", "--check"], { bin, cwd: copy });
    expect(check.code).toBe(1);
    expect(check.stderr).toBe(
      "stale generated/broker-config.ts\nstale docs/broker-yaml.md\n" +
        "generated/ or docs/broker-yaml.md is out of date: run `npm run codegen` and commit the result\n",
    );
    expect(await readFile(generated, "utf8")).toBe(before);
    expect(await readFile(docs, "utf8")).toBe(docsBefore);

    const write = await runCli(["codegen"], { bin, cwd: copy });
    expect(write.code).toBe(0);
    expect(write.stderr).toBe("wrote generated/broker-config.ts\nwrote docs/broker-yaml.md\n");
    expect(await readFile(generated, "utf8")).toContain("Short description (changed by a test).");
    expect(sectionOf(await readFile(docs, "utf8"), "services[].plans[].description")).toContain(
      "Short description (changed by a test).",
    );

    const again = await runCli(["codegen", "--check"], { bin, cwd: copy });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
  }, 120_000); // three codegen runs, each loading the codegen toolchain: slow on a shared machine
});

describe("docs/broker-yaml.md", () => {
  it("documents every schema property with its path, type, default, description and an example", async () => {
    const text = await readFile(join(ROOT, "docs/broker-yaml.md"), "utf8");
    const schema = JSON.parse(await readFile(join(ROOT, "schema/broker.schema.json"), "utf8"));
    // Paths computed here from the schema by a walk of its own (objects and lists only), so a
    // property the generator skipped is missed here and fails.
    for (const path of objectPropertyPaths(schema, schema, "")) {
      expect(sectionOf(text, path), path).toMatch(/- Type: `.+`\n- Required: (yes|no)/);
      expect(sectionOf(text, path), path).toMatch(/- Example:/);
    }
    // A default and a schema example, a broker.yaml example, a map entry, a oneOf alternative.
    expect(sectionOf(text, "broker.listen.host")).toContain('- Default: `"0.0.0.0"`');
    expect(sectionOf(text, "broker.listen.host")).toContain(`- Example: \`host: \${BROKER_HOST:-0.0.0.0}\``);
    expect(sectionOf(text, "services[].plans[].examples[].name")).toContain("- Example: `name: orders-db`");
    expect(sectionOf(text, "services[].plans[].inputs.<name>")).toContain(
      "- Example: `instance_name: \"{{default context.instance_name (concat 'pg-' instance.short_id)}}\"`",
    );
    expect(sectionOf(text, "cloudify.auth.token")).toContain(
      "Required: yes, in the form of the value that has it",
    );
  });

  it("codegen fails and names the property when a schema property has no description", async () => {
    const dir = await tempDir("codegen-undocumented-");
    try {
      await copyPackage(dir);
      const schemaFile = join(dir, "schema/broker.schema.json");
      const schema = JSON.parse(await readFile(schemaFile, "utf8"));
      delete schema.definitions.brokerSettings.properties.operations.properties.poll_interval_ms.description;
      delete schema.definitions.planExample.properties.bind_resource.description;
      await writeFile(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
      const docsBefore = await readFile(join(dir, "docs/broker-yaml.md"), "utf8");

      const result = await runCli(["codegen"], { bin: join(dir, "bin/cfy-broker.js"), cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        "schema/broker.schema.json: properties the reference cannot document:\n" +
          "  broker.operations.poll_interval_ms: no description\n" +
          "  services[].plans[].examples[].bind_resource: no description\n",
      );
      expect(await readFile(join(dir, "docs/broker-yaml.md"), "utf8")).toBe(docsBefore);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("generated code", () => {
  it("type-checks on its own under the project's compiler options", async () => {
    const dir = join(copy, "typecheck");
    await mkdir(dir, { recursive: true });
    const tsconfig = {
      extends: join(ROOT, "tsconfig.json"),
      compilerOptions: { noEmit: true, rootDir: ROOT, types: [] },
      include: [],
      files: [join(ROOT, "generated/broker-config.ts"), join(ROOT, "generated/osb.ts")],
    };
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const check = await exec(process.execPath, [tsc, "-p", join(dir, "tsconfig.json"), "--listFiles"]).then(
      (ok) => ({ code: 0, stdout: ok.stdout }),
      (failed: { code: number; stdout: string }) => failed,
    );
    // --listFiles proves both files were checked; tsc prints diagnostics on stdout.
    const files = check.stdout.split("\n").filter((line) => line.startsWith(join(ROOT, "generated")));
    expect(files.sort()).toEqual([join(ROOT, "generated/broker-config.ts"), join(ROOT, "generated/osb.ts")]);
    expect(check.stdout).not.toMatch(/error TS\d+/);
    expect(check.code).toBe(0);
  });
});

/** The section of the reference documenting `path`, up to the next heading. */
function sectionOf(text: string, path: string): string {
  const start = text.indexOf(`### \`${path}\`\n`);
  if (start < 0) throw new Error(`docs/broker-yaml.md has no section for ${path}`);
  const next = text.indexOf("\n#", start + 1);
  return text.slice(start, next < 0 ? undefined : next);
}

interface Node {
  $ref?: string;
  properties?: Record<string, Node>;
  items?: Node;
  oneOf?: Node[];
}

/** Paths of the named properties reachable through properties, list items and oneOf forms. */
function objectPropertyPaths(
  root: { definitions: Record<string, Node> },
  node: Node,
  prefix: string,
): string[] {
  const resolved = node.$ref ? root.definitions[node.$ref.split("/").pop()!]! : node;
  const paths: string[] = [];
  for (const form of [resolved, ...(resolved.oneOf ?? [])]) {
    for (const [key, child] of Object.entries(form.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      paths.push(path, ...objectPropertyPaths(root, child, path));
    }
    if (form.items) paths.push(...objectPropertyPaths(root, form.items, `${prefix}[]`));
  }
  return paths;
}
