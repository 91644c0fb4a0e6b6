/**
 * `cfy-broker catalog`: prints the catalog JSON the broker would serve (no Cloudify, no
 * secrets needed), or the config's issues with exit 1; exit 2 when the file cannot be read.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { example, ROOT, runCli, tempDir, writeConfig } from "./fixtures/configs/helpers.js";
import { validateResponse } from "./support/osb-openapi.js";
import { PG, REDIS } from "./support/stack.js";

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
    expect(result.stderr).toBe("");
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
