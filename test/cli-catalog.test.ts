/**
 * `cfy-broker catalog`: prints the catalog JSON the broker serves (no Cloudify, no secrets
 * needed), or the config's issues with exit 1; exit 2 when the file cannot be read. With
 * `--state DIR` or `--cloudify` the plans' derived schemas are in it, and the output is byte
 * for byte what a running broker serves; without, stderr says which plans lack them.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE_FILE, example, ROOT, runCli, tempDir, writeConfig } from "./fixtures/configs/helpers.js";
import { validateResponse } from "./support/osb-openapi.js";
import { PG, REDIS, type Stack, startStack } from "./support/stack.js";

let dir: string;

beforeAll(async () => {
  dir = await tempDir("cli-catalog-");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("cfy-broker catalog", () => {
  it("prints the example's catalog as JSON valid for GET /v2/catalog, without any environment", async () => {
    const result = await runCli(["catalog", "broker.yaml"]);
    expect(result.code).toBe(0);
    // The large plan derives its schemas from the blueprint's inputs, which need a manager or a cache.
    expect(result.stderr).toBe(
      "plan postgresql/large: derived parameter schemas omitted: its blueprint's inputs are needed: give --state DIR or --cloudify\n",
    );
    const catalog = JSON.parse(result.stdout);
    expect(validateResponse("get", "/v2/catalog", 200, catalog)).toEqual([]);
    expect(catalog.services.map((s: { id: string }) => s.id)).toEqual([PG.service, REDIS.service]);
    expect(catalog.services.flatMap((s: { plans: { id: string }[] }) => s.plans.map((p) => p.id))).toEqual([
      PG.small,
      PG.large,
      REDIS.small,
      REDIS.large,
    ]);
  });

  it("C1 prints an empty catalog for a config without services", async () => {
    const result = await runCli([
      "catalog",
      "--config",
      join(ROOT, "test/fixtures/configs/empty-catalog.yaml"),
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ services: [] });
  });

  it("exit 1 and the issues, and no catalog, for an invalid config", async () => {
    const file = await writeConfig(dir, example(["        name: large\n", "        name: small\n"]));
    const result = await runCli(["catalog", file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: error: plan name "small" is already used`,
        "m",
      ),
    );
  });

  it("exit 2 for a missing file", async () => {
    const missing = await runCli(["catalog", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`cannot read ${join(dir, "nope.yaml")}: ENOENT\n`);
    expect(missing.stdout).toBe("");
  });
});

describe("cfy-broker catalog is the served catalog", () => {
  let stack: Stack;
  let served: string;
  beforeAll(async () => {
    stack = await startStack();
    const get = () =>
      fetch(new URL("/v2/catalog", stack.broker.url), {
        headers: {
          Authorization: `Basic ${Buffer.from(`${stack.env.BROKER_USERNAME}:${stack.env.BROKER_PASSWORD}`).toString("base64")}`,
          "X-Broker-API-Version": "2.17",
        },
      }).then((r) => r.text());
    // The broker derives the large plan's schemas from Cloudify in the background and caches them.
    const deadline = Date.now() + 30_000;
    served = await get();
    while (!JSON.parse(served).services[0].plans[1].schemas && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      served = await get();
    }
    expect(JSON.parse(served).services[0].plans[1].schemas).toBeDefined();
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it("--state DIR: byte for byte the body of GET /v2/catalog, from the state's cache", async () => {
    const result = await runCli([
      "catalog",
      "--compact",
      "--config",
      EXAMPLE_FILE,
      "--state",
      stack.stateDir,
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${served}\n`);
    // Indented by default, the same catalog.
    const pretty = await runCli(["catalog", "--config", EXAMPLE_FILE, "--state", stack.stateDir]);
    expect(pretty.stdout).toBe(`${JSON.stringify(JSON.parse(served), null, 2)}\n`);
  });

  it("--cloudify: byte for byte the served catalog, derived from the manager", async () => {
    const result = await runCli(["catalog", "--compact", "--config", EXAMPLE_FILE, "--cloudify"], {
      env: stack.env,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${served}\n`);
  });

  it("says on stderr when the cache lacks a blueprint, and why; a manager without it too", async () => {
    const empty = await tempDir("cli-catalog-state-");
    try {
      const result = await runCli(["catalog", "--compact", "--config", EXAMPLE_FILE, "--state", empty]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe(
        `plan postgresql/large: derived parameter schemas omitted: blueprint postgresql-v2 is not in the cache of ${empty}\n`,
      );
      expect(result.stdout).not.toBe(`${served}\n`);
      expect(JSON.parse(result.stdout).services[0].plans[1].schemas).toBeUndefined();
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    const unreachable = await runCli(["catalog", "--config", EXAMPLE_FILE, "--cloudify"], {
      env: { ...stack.env, CLOUDIFY_URL: "http://127.0.0.1:9" },
    });
    expect(unreachable.code).toBe(0);
    expect(unreachable.stderr).toMatch(
      /^plan postgresql\/large: derived parameter schemas omitted: cannot read blueprint postgresql-v2 from Cloudify: /,
    );
  }, 60_000);
});
