/**
 * `cfy-broker codegen`: the committed generated/ is fresh, `--check` catches a schema edited
 * without regenerating (in a copy of the package, never in the repo), regeneration fixes it,
 * and the generated code type-checks on its own.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli, tempDir } from "./fixtures/configs/helpers.js";

const exec = promisify(execFile);

let copy: string;

/** A copy of the checkout (bin, dist, schema, generated, and the codegen tool with the sources it imports) with the repo's node_modules. */
beforeAll(async () => {
  copy = await tempDir("codegen-");
  for (const entry of ["package.json", "bin", "dist", "schema", "generated", "src", "scripts"]) {
    await cp(join(ROOT, entry), join(copy, entry), { recursive: true });
  }
  await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
});
afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

describe("cfy-broker codegen", () => {
  it("--check exits 0 on the committed tree: generated/ is fresh", async () => {
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
    const before = await readFile(generated, "utf8");

    const check = await runCli(["codegen", "--check"], { bin, cwd: copy });
    expect(check.code).toBe(1);
    expect(check.stderr).toBe(
      "stale generated/broker-config.ts\ngenerated/ is out of date: run `npm run codegen` and commit the result\n",
    );
    expect(await readFile(generated, "utf8")).toBe(before);

    const write = await runCli(["codegen"], { bin, cwd: copy });
    expect(write.code).toBe(0);
    expect(write.stderr).toBe("wrote generated/broker-config.ts\n");
    expect(await readFile(generated, "utf8")).toContain("Short description (changed by a test).");

    const again = await runCli(["codegen", "--check"], { bin, cwd: copy });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe("");
  }, 120_000); // three codegen runs, each loading the codegen toolchain: slow on a shared machine
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
