// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * The real CLI as a child process: `validate` output and exit codes (0 valid, 1 invalid,
 * 2 unreadable file or bad usage), `--json`, and `serve` refusing the configs `validate`
 * rejects (unset variables included) with the same messages.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  example,
  exampleText,
  FULL_ENV,
  positionOf,
  runCli,
  tempDir,
  writeConfig,
} from "./fixtures/configs/helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await tempDir("cli-validate-");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const UNSET_WARNINGS = [
  ["13", "19", "BROKER_USERNAME", "broker.auth.users[0].username"],
  ["14", "19", "BROKER_PASSWORD", "broker.auth.users[0].password"],
  ["22", "10", "BROKER_ENCRYPTION_KEY", "broker.encryption.key"],
] as const;

/** Runs shared by several tests (each CLI run costs most of a second of CPU). */
let exampleRun: ReturnType<typeof runCli> | undefined;
const validateExample = () => {
  exampleRun ??= runCli(["validate", "broker.yaml"]);
  return exampleRun;
};

/** A config with two errors of different stages' kind: a duplicate service name and a bad version. */
const TWO_ERRORS = () =>
  example(
    ["    name: redis\n", "    name: postgresql # twice\n"],
    ["          version: 2.1.0\n", "          version: two\n"],
  );

describe("cfy-broker validate", () => {
  it("accepts the example: exit 0, warnings for unset environment variables only", async () => {
    const result = await validateExample();
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    const text = exampleText();
    const expected = UNSET_WARNINGS.map(([, , name, path]) => {
      const { line, column } = positionOf(text, `\${${name}}`);
      return `broker.yaml:${line}:${column}: warning: environment variable ${name} is not set (${path})`;
    });
    expect(result.stderr.trimEnd().split("\n")).toEqual([...expected, "broker.yaml: valid, 3 warning(s)"]);
  });

  it("rejects an invalid file with exit 1 and file:line:column: error: message (path)", async () => {
    const text = example(["    name: redis\n", "    name: redis cache\n"]);
    const file = await writeConfig(dir, text, "bad-name.yaml");
    const result = await runCli(["validate", file], { env: FULL_ENV });
    expect(result.code).toBe(1);
    const { line, column } = positionOf(text, "redis cache");
    expect(result.stderr.split("\n")).toEqual([
      `${file}:${line}:${column}: error: service name "redis cache" is not CLI-friendly: use letters, digits, ".", "-" and "_" only (OSB C2/C3) (services[1].name)`,
      `${file}: invalid, 1 error(s), 0 warning(s)`,
      "",
    ]);
  });

  it("lists every error of a file, and warnings next to them", async () => {
    const text = TWO_ERRORS();
    const file = await writeConfig(dir, text, "two-errors.yaml");
    const result = await runCli(["validate", file]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines.filter((l) => l.includes(": warning: "))).toHaveLength(3);
    const errors = lines.filter((l) => l.includes(": error: "));
    const version = positionOf(text, "two\n");
    const name = positionOf(text, "postgresql # twice");
    expect(errors).toEqual([
      `${file}:${version.line}:${version.column}: error: "two" is not a semantic version (e.g. 1.2.0) (services[0].plans[1].maintenance_info.version)`,
      `${file}:${name.line}:${name.column}: error: service name "postgresql" is already used by services[0] (services[1].name)`,
    ]);
    expect(lines.at(-1)).toBe(`${file}: invalid, 2 error(s), 3 warning(s)`);
  });

  it("one run lists every independent error: schema, template, semantic and example, each at file:line:column", async () => {
    const text = example(
      // postgresql/large: a schema error; postgresql/small, same service: a template syntax error.
      ["        maximum_polling_duration: 7200\n", "        maximum_polling_duration: soon\n"],
      ['extensions: "{{parameters.extensions}}"', 'extensions: "{{parameters.extensions}"'],
      // redis/cache-small: an example its schema refuses; redis/cache-large: a plan id used twice.
      ["parameters: { tls: true }", "parameters: { tls: maybe }"],
      ["3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a34", "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33"],
    );
    const file = await writeConfig(dir, text, "all-errors.yaml");
    const result = await runCli(["validate", file], { env: FULL_ENV });
    expect(result.code).toBe(1);
    const at = (needle: string, shift = 0) => {
      const { line, column } = positionOf(text, needle, shift);
      return `${file}:${line}:${column}: error:`;
    };
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      `${at('parameters.extensions}"', "parameters.extensions".length)} template syntax: unexpected '}'; expected '}}' (services[0].plans[0].inputs.extensions)`,
      `${at("soon")} must be an integer (services[0].plans[1].maximum_polling_duration)`,
      `${at("maybe")} example "sessions": provision parameters.tls: must be boolean (services[1].plans[0].examples[0].parameters.tls)`,
      `${at("3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33\n        name: cache-large")} plan id "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a33" is already used by plan at services[1].plans[0].id; ids must be unique across the catalog (services[1].plans[1].id)`,
      `${file}: invalid, 4 error(s), 0 warning(s)`,
    ]);
  });

  it("an example of the wrong shape leaves out its plan's examples, not the plan's templates", async () => {
    const text = example(
      // postgresql/small: the example lacks its name (a schema error) and its parameters break the schema...
      [
        "          - name: orders-db\n            description: A database with a read-only user\n",
        "          - description: A database with a read-only user\n",
      ],
      ["parameters: { db_name: orders, extensions: [pg_trgm] }", "parameters: { db_name: Orders }"],
      // ...and a template of the same plan reads a parameter no request can carry.
      ['db_name: "{{parameters.db_name}}"', 'db_name: "{{parameters.dbname}}"'],
    );
    const file = await writeConfig(dir, text, "bad-example.yaml");
    const result = await runCli(["validate", file], { env: FULL_ENV });
    expect(result.code).toBe(1);
    const at = (needle: string) => {
      const { line, column } = positionOf(text, needle);
      return `${file}:${line}:${column}: error:`;
    };
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      `${at('parameters.dbname}}"')} template reads parameters.dbname, which the plan's parameter schemas and defaults do not define (services[0].plans[0].inputs.db_name)`,
      `${at("description: A database with a read-only user")} missing required property "name" (services[0].plans[0].examples[0])`,
      `${file}: invalid, 2 error(s), 0 warning(s)`,
    ]);
  });

  it("a YAML syntax error is an invalid file (exit 1), not an unreadable one", async () => {
    const text = example(["    name: postgresql\n", "    name: postgresql: sql\n"]);
    const file = await writeConfig(dir, text, "yaml-error.yaml");
    const result = await runCli(["validate", file]);
    expect(result.code).toBe(1);
    const { line, column } = positionOf(text, "postgresql: sql");
    expect(result.stderr).toContain(`${file}:${line}:${column}: error: YAML: `);
  });

  it("--json prints {valid, issues} on stdout, with the same exit codes", async () => {
    const good = await runCli(["validate", "--json", "broker.yaml"]);
    expect(good.code).toBe(0);
    const goodJson = JSON.parse(good.stdout);
    expect(goodJson.valid).toBe(true);
    expect(goodJson.issues.map((i: { severity: string; path: string }) => [i.severity, i.path])).toEqual(
      UNSET_WARNINGS.map(([, , , path]) => ["warning", path]),
    );
    expect(goodJson.issues[0]).toEqual({
      severity: "warning",
      file: "broker.yaml",
      line: 13,
      column: 19,
      path: "broker.auth.users[0].username",
      message: "environment variable BROKER_USERNAME is not set",
    });

    const text = TWO_ERRORS();
    const file = await writeConfig(dir, text, "two-errors-json.yaml");
    const bad = await runCli(["validate", file, "--json"], { env: FULL_ENV });
    expect(bad.code).toBe(1);
    const badJson = JSON.parse(bad.stdout);
    expect(badJson.valid).toBe(false);
    expect(badJson.issues).toEqual([
      {
        severity: "error",
        file,
        ...positionOf(text, "two\n"),
        path: "services[0].plans[1].maintenance_info.version",
        message: '"two" is not a semantic version (e.g. 1.2.0)',
      },
      {
        severity: "error",
        file,
        ...positionOf(text, "postgresql # twice"),
        path: "services[1].name",
        message: 'service name "postgresql" is already used by services[0]',
      },
    ]);
  });

  it("reads ./broker.yaml by default and --config FILE otherwise", async () => {
    const cwd = join(dir, "cwd");
    await mkdir(cwd, { recursive: true });
    await writeConfig(cwd, example(["    name: redis\n", "    name: redis cache\n"]));
    const byDefault = await runCli(["validate"], { cwd, env: FULL_ENV });
    expect(byDefault.code).toBe(1);
    expect(byDefault.stderr).toMatch(/^broker\.yaml:\d+:\d+: error: service name "redis cache"/);

    const other = await writeConfig(cwd, exampleText(), "other.yaml");
    const byFlag = await runCli(["validate", "--config", other], { cwd, env: FULL_ENV });
    expect(byFlag.code).toBe(0);
    expect(byFlag.stderr).toBe(`${other}: valid\n`);
  });

  it("exit 2 when the file cannot be read", async () => {
    const missing = join(dir, "missing.yaml");
    const result = await runCli(["validate", missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`cannot read ${missing}: ENOENT\n`);
    const directory = await runCli(["validate", dir]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toBe(`cannot read ${dir}: EISDIR\n`);
  });

  it("exit 2 for bad usage: unknown option, extra argument, unknown command", async () => {
    const option = await runCli(["validate", "--strict", "broker.yaml"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^cfy-broker validate: .*--strict/);
    const extra = await runCli(["validate", "broker.yaml", "other.yaml"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/^cfy-broker validate: unexpected argument other\.yaml/);
    const command = await runCli(["validat"]);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^cfy-broker: unknown command "validat"/);
  });
});

/** Every line of `text` parsed as JSON (a line that is not fails the test). */
const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown> & { msg: string });

describe("cfy-broker serve refuses what validate rejects", () => {
  it("unset environment variables are errors: exit 1 with validate's messages", async () => {
    const validated = await validateExample();
    const served = await runCli(["serve", "--config", "broker.yaml", "--state", join(dir, "state-unset")]);
    expect(served.code).toBe(1);
    const warnings = validated.stderr.split("\n").filter((l) => l.includes(": warning: "));
    expect(warnings).toHaveLength(3);
    // serve logs JSON, so its refusal is JSON lines too: the same messages, with their positions.
    const lines = jsonLines(served.stderr);
    const errors = lines.filter((l) => l.severity === "error");
    expect(errors.map((l) => l.msg)).toEqual(warnings.map((l) => l.replace(": warning: ", ": error: ")));
    for (const line of errors) {
      expect(line.level).toBe("error");
      expect(line.msg).toMatch(new RegExp(`^broker\\.yaml:${line.line}:${line.column}: error: `));
    }
    expect(lines.at(-1)?.msg).toBe("broker.yaml: cannot serve an invalid configuration");
  });

  it("an invalid file: exit 1 with validate's messages", async () => {
    const file = await writeConfig(dir, TWO_ERRORS(), "serve-two-errors.yaml");
    const validated = await runCli(["validate", file], { env: FULL_ENV });
    const served = await runCli(["serve", "--config", file, "--state", join(dir, "state-invalid")], {
      env: FULL_ENV,
    });
    expect(validated.code).toBe(1);
    expect(served.code).toBe(1);
    const validateErrors = validated.stderr.split("\n").filter((l) => l.includes(": error: "));
    const serveErrors = jsonLines(served.stderr).filter((l) => l.severity === "error");
    expect(serveErrors.map((l) => l.msg)).toEqual(validateErrors);
    expect(serveErrors).toHaveLength(2);
  });

  it("exit 2 for an unreadable file or a bad --port", async () => {
    const missing = join(dir, "missing.yaml");
    const unreadable = await runCli(["serve", "--config", missing], { env: FULL_ENV });
    expect(unreadable.code).toBe(2);
    expect(jsonLines(unreadable.stderr).map((l) => l.msg)).toEqual([`cannot read ${missing}: ENOENT`]);
    const port = await runCli(["serve", "--port", "http"], { env: FULL_ENV });
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port must be a TCP port, got http/);
  });
});
