// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * `${VAR}` interpolation in broker.yaml: defaults, the `$${` escape, malformed references,
 * type coercion of interpolated numbers, and unset variables (warnings when validating,
 * errors when the config is about to be served).
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.js";
import {
  example,
  exampleText,
  FULL_ENV,
  positionOf,
  tempDir,
  writeConfig,
} from "./fixtures/configs/helpers.js";

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await tempDir("cfg-env-");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string, env: Record<string, string>, mode: "validate" | "serve" = "validate") {
  const file = await writeConfig(dir, text, `broker-${++counter}.yaml`);
  return loadConfig(file, { mode, env: { ...env, BROKER_STATE_DIR: dir } });
}

const DESCRIPTION = "    description: PostgreSQL databases deployed by Cloudify\n";
const withDescription = (value: string) => example([DESCRIPTION, `    description: ${value}\n`]);
const descriptionOf = async (value: string, env: Record<string, string>) => {
  const result = await load(withDescription(value), { ...FULL_ENV, ...env });
  expect(result.issues.filter((i) => i.severity === "error")).toEqual([]);
  return result.loaded?.config.services[0]?.description;
};

describe("interpolation", () => {
  it("${VAR} is replaced by the variable's value", async () => {
    expect(await descriptionOf("PostgreSQL by ${TEAM}", { TEAM: "the data team" })).toBe(
      "PostgreSQL by the data team",
    );
  });

  it("${VAR:-default} uses the default when the variable is unset or empty, the value otherwise", async () => {
    expect(await descriptionOf("by ${TEAM:-platform ops}", {})).toBe("by platform ops");
    expect(await descriptionOf("by ${TEAM:-platform ops}", { TEAM: "" })).toBe("by platform ops");
    expect(await descriptionOf("by ${TEAM:-platform ops}", { TEAM: "dba" })).toBe("by dba");
  });

  it("$${ is a literal ${, even when the variable is set", async () => {
    expect(await descriptionOf("costs $${TEAM} and $${ more", { TEAM: "dba" })).toBe(
      "costs ${TEAM} and ${ more",
    );
  });

  it("a key named __proto__ stays an ordinary key of its mapping, interpolated like any other", async () => {
    const text = example([
      "      displayName: PostgreSQL\n",
      '      displayName: PostgreSQL\n      __proto__: { team: "${TEAM}" }\n',
    ]);
    const result = await load(text, { ...FULL_ENV, TEAM: "dba" });
    const metadata = result.loaded?.config.services[0]?.metadata as Record<string, unknown>;
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(metadata, "__proto__")?.value).toEqual({ team: "dba" });
  });

  it("a variable's value is used as it is, never interpolated again", async () => {
    expect(await descriptionOf("by ${TEAM}", { TEAM: "${OTHER}", OTHER: "no" })).toBe("by ${OTHER}");
  });

  it("a malformed reference is an error naming it, not silently kept as text", async () => {
    const text = withDescription("by ${TEAM:platform} and ${TEAM");
    const result = await load(text, { ...FULL_ENV, TEAM: "dba" });
    expect(result.loaded).toBeUndefined();
    const at = positionOf(text, "by ${TEAM:");
    expect(result.issues.map((i) => [i.severity, i.path, i.line, i.column])).toEqual([
      ["error", "services[0].description", at.line, at.column],
      ["error", "services[0].description", at.line, at.column],
    ]);
    expect(result.issues[0]?.message).toBe(
      'malformed environment reference "${TEAM:…": write ${NAME} or ${NAME:-default}, or $${ for a literal ${',
    );
    expect(result.issues[1]?.message).toMatch(/^malformed environment reference "\$\{TEAM":/);
  });

  it("interpolated numbers are coerced where the schema wants a number", async () => {
    const result = await load(
      exampleText(),
      { ...FULL_ENV, BROKER_PORT: "0", BROKER_POLL_INTERVAL_MS: "25" },
      "serve",
    );
    expect(result.issues).toEqual([]);
    expect(result.loaded?.runtime?.listen.port).toBe(0);
    expect(result.loaded?.runtime?.operations.pollIntervalMs).toBe(25);
  });

  it("only interpolated values are coerced: the same number written in the file is an error", async () => {
    const text = example([
      "    poll_interval_ms: ${BROKER_POLL_INTERVAL_MS:-2000}",
      '    poll_interval_ms: "25"',
    ]);
    const result = await load(text, FULL_ENV);
    expect(result.issues).toEqual([
      expect.objectContaining({
        path: "broker.operations.poll_interval_ms",
        message: "must be a number, not a string",
        ...positionOf(text, '"25"'),
      }),
    ]);
  });

  it("an interpolated value of the wrong type is a schema error at the value", async () => {
    const text = exampleText();
    const result = await load(text, { ...FULL_ENV, BROKER_POLL_INTERVAL_MS: "often" });
    expect(result.loaded).toBeUndefined();
    expect(result.issues).toEqual([
      expect.objectContaining({
        severity: "error",
        path: "broker.operations.poll_interval_ms",
        message: "must be an integer",
        ...positionOf(text, "${BROKER_POLL_INTERVAL_MS:-2000}"),
      }),
    ]);
  });
});

describe("unset variables", () => {
  const UNSET = ["BROKER_USERNAME", "BROKER_PASSWORD", "BROKER_ENCRYPTION_KEY"];

  it("are warnings when validating and errors when serving, with the same message and position", async () => {
    const validated = await load(exampleText(), {}, "validate");
    const served = await load(exampleText(), {}, "serve");
    expect(validated.loaded).toBeDefined();
    expect(served.loaded).toBeUndefined();
    const strip = (issues: typeof validated.issues) =>
      issues.map(({ line, column, path, message }) => ({ line, column, path, message }));
    expect(strip(served.issues)).toEqual(strip(validated.issues));
    expect(validated.issues.map((i) => i.severity)).toEqual(["warning", "warning", "warning"]);
    expect(served.issues.map((i) => i.severity)).toEqual(["error", "error", "error"]);
    expect(served.issues.map((i) => i.message)).toEqual(
      UNSET.map((name) => `environment variable ${name} is not set`),
    );
  });

  it("serving with every variable set resolves the runtime settings", async () => {
    const result = await load(exampleText(), { ...FULL_ENV, CLOUDIFY_PASSWORD: "cfy-secret" }, "serve");
    expect(result.issues).toEqual([]);
    expect(result.loaded?.runtime?.users).toEqual([
      { username: FULL_ENV.BROKER_USERNAME, password: FULL_ENV.BROKER_PASSWORD },
    ]);
    expect(result.loaded?.runtime?.cloudify.auth).toEqual({ username: "admin", password: "cfy-secret" });
  });

  it("H6 a credential pair left empty by unset variables is disabled, the second pair is used when set", async () => {
    const one = await load(exampleText(), FULL_ENV, "serve");
    expect(one.loaded?.runtime?.users).toHaveLength(1);
    const two = await load(
      exampleText(),
      { ...FULL_ENV, BROKER_NEXT_USERNAME: "platform-next", BROKER_NEXT_PASSWORD: "next-pass" },
      "serve",
    );
    expect(two.loaded?.runtime?.users).toEqual([
      { username: FULL_ENV.BROKER_USERNAME, password: FULL_ENV.BROKER_PASSWORD },
      { username: "platform-next", password: "next-pass" },
    ]);
    const half = await load(exampleText(), { ...FULL_ENV, BROKER_NEXT_USERNAME: "platform-next" }, "serve");
    expect(half.loaded?.runtime?.users).toHaveLength(1);
  });

  it("serving, a bad key is reported beside the catalog's errors, in one run", async () => {
    const short = Buffer.from("too-short-key").toString("base64");
    const text = example(["        name: large\n", "        name: small\n"]);
    const result = await load(text, { ...FULL_ENV, BROKER_ENCRYPTION_KEY: short }, "serve");
    expect(result.loaded).toBeUndefined();
    expect(result.issues.map(({ line, column, path, message }) => ({ line, column, path, message }))).toEqual(
      [
        {
          ...positionOf(text, "${BROKER_ENCRYPTION_KEY}"),
          path: "broker.encryption.key",
          message: "encryption key: key must be base64 of 32 bytes, decodes to 13",
        },
        {
          ...positionOf(text, "small\n        description: 4 vCPU"),
          path: "services[0].plans[1].name",
          message: 'plan name "small" is already used in this service by plans[0]',
        },
      ],
    );
  });

  it("an encryption key the keyring cannot use is an error at its position when serving", async () => {
    const text = exampleText();
    const short = Buffer.from("too-short-key").toString("base64");
    const bad = await load(text, { ...FULL_ENV, BROKER_ENCRYPTION_KEY: short }, "serve");
    expect(bad.loaded).toBeUndefined();
    expect(bad.issues).toEqual([
      expect.objectContaining({
        severity: "error",
        ...positionOf(text, "${BROKER_ENCRYPTION_KEY}"),
        path: "broker.encryption.key",
        message: "encryption key: key must be base64 of 32 bytes, decodes to 13",
      }),
    ]);
    expect(JSON.stringify(bad.issues)).not.toContain(short);

    const twice = await load(
      text,
      { ...FULL_ENV, BROKER_PREVIOUS_ENCRYPTION_KEY: FULL_ENV.BROKER_ENCRYPTION_KEY },
      "serve",
    );
    expect(twice.issues).toEqual([
      expect.objectContaining({
        ...positionOf(text, "${BROKER_PREVIOUS_ENCRYPTION_KEY:-}"),
        path: "broker.encryption.previous_keys[0]",
        message: "the same encryption key is listed twice",
      }),
    ]);

    const keyFile = await writeConfig(dir, "not-a-key\n", "old.key");
    const fromFile = await load(text, { ...FULL_ENV, BROKER_PREVIOUS_KEY_FILE: keyFile }, "serve");
    expect(fromFile.issues).toEqual([
      expect.objectContaining({
        ...positionOf(text, '"${BROKER_PREVIOUS_KEY_FILE:-/dev/null}"'),
        path: "broker.encryption.previous_keys[1].file",
        message: expect.stringMatching(/^encryption key: key must be base64 of 32 bytes/),
      }),
    ]);
  });

  it("messages name the variable, never its value", async () => {
    const result = await load(exampleText(), { ...FULL_ENV, BROKER_POLL_INTERVAL_MS: "hunter2-is-secret" });
    expect(result.issues.map((i) => i.path)).toEqual(["broker.operations.poll_interval_ms"]);
    expect(JSON.stringify(result.issues)).not.toContain("hunter2");
  });
});
