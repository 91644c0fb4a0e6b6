// biome-ignore-all lint/suspicious/noTemplateCurlyInString: broker.yaml spells environment references ${VAR}
/**
 * Hot reload of broker.yaml in a running broker (in this process, real HTTP, no Cloudify):
 * an edit changes the served catalog at once; a broken edit is reported with its positions and
 * the previous catalog stays in force; credentials follow the file too.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { example, exampleText, positionOf, tempDir, writeConfig } from "./fixtures/configs/helpers.js";
import { validateResponse } from "./support/osb-openapi.js";
import { PG, REDIS, type Stack, useStack } from "./support/stack.js";

const SMALL_DESCRIPTION = "        description: 1 vCPU, 2 GB memory, 10 GB storage\n";

let dir: string;
let file: string;
let stack: Stack;

useStack(
  (started) => {
    stack = started.stack;
  },
  async () => {
    dir = await tempDir("reload-");
    file = await writeConfig(dir, exampleText());
    return { emulator: false, configFile: file };
  },
);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  // Every test starts from the example in force.
  await writeConfig(dir, exampleText());
  expect((await stack.broker.reload()).ok).toBe(true);
});

const plan = (catalog: { services: { plans: { id: string }[] }[] }, id: string) =>
  catalog.services.flatMap((s) => s.plans).find((p) => p.id === id) as Record<string, unknown> | undefined;

describe("reload", () => {
  it("an edited plan description is served after reload, ids unchanged (C5)", async () => {
    const before = await stack.osb.get("/v2/catalog");
    expect(plan(before.body, PG.small)?.description).toBe("1 vCPU, 2 GB memory, 10 GB storage");

    await writeConfig(
      dir,
      example([SMALL_DESCRIPTION, "        description: 2 vCPU, 4 GB memory, 20 GB storage\n"]),
    );
    const result = await stack.broker.reload();
    expect(result).toEqual({ ok: true, issues: [] });

    const after = await stack.osb.get("/v2/catalog");
    expect(validateResponse("get", "/v2/catalog", 200, after.body)).toEqual([]);
    expect(plan(after.body, PG.small)?.description).toBe("2 vCPU, 4 GB memory, 20 GB storage");
    const ids = (body: typeof before.body) =>
      body.services.flatMap((s: { id: string; plans: { id: string }[] }) => [
        s.id,
        ...s.plans.map((p) => p.id),
      ]);
    expect(ids(after.body)).toEqual(ids(before.body));
  });

  it("a plan added to the file appears, a plan removed disappears", async () => {
    const text = example([
      "      - id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a34\n        name: cache-large\n",
      "      - id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a35\n        name: cache-medium\n        description: 1 GB cache\n        inputs: { memory_mb: 1024 }\n      - id: 3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a34\n        name: cache-large\n",
    ]);
    await writeConfig(dir, text);
    expect((await stack.broker.reload()).ok).toBe(true);
    const added = await stack.osb.get("/v2/catalog");
    expect(added.body.services[1].plans.map((p: { name: string }) => p.name)).toEqual([
      "cache-small",
      "cache-medium",
      "cache-large",
    ]);

    await writeConfig(dir, exampleText());
    expect((await stack.broker.reload()).ok).toBe(true);
    const removed = await stack.osb.get("/v2/catalog");
    expect(plan(removed.body, "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a35")).toBeUndefined();
    expect(plan(removed.body, REDIS.large)).toBeDefined();
  });

  it("a broken edit keeps the previous catalog and reports every issue with its position", async () => {
    const good = await stack.osb.get("/v2/catalog");
    const broken = example(
      [SMALL_DESCRIPTION, "        description: changed, but the file is broken\n"],
      ["        name: large\n", "        name: small # twice\n"],
      ["          version: 2.1.0\n", "          version: latest\n"],
    );
    await writeConfig(dir, broken);
    const result = await stack.broker.reload();
    expect(result.ok).toBe(false);
    expect(result.issues.map(({ file: f, line, column, path }) => ({ file: f, line, column, path }))).toEqual(
      [
        { file, ...positionOf(broken, "small # twice"), path: "services[0].plans[1].name" },
        { file, ...positionOf(broken, "latest\n"), path: "services[0].plans[1].maintenance_info.version" },
      ],
    );

    const after = await stack.osb.get("/v2/catalog");
    expect(after.status).toBe(200);
    expect(after.body).toEqual(good.body);
  });

  it("a YAML syntax error keeps the previous catalog", async () => {
    const good = await stack.osb.get("/v2/catalog");
    await writeConfig(dir, example(["    name: redis\n", "    name: [redis\n"]));
    const result = await stack.broker.reload();
    expect(result.ok).toBe(false);
    expect(result.issues[0]?.message).toMatch(/^YAML: /);
    expect((await stack.osb.get("/v2/catalog")).body).toEqual(good.body);
  });

  it("H6 credentials follow the file: a new password is required after reload", async () => {
    await writeConfig(
      dir,
      example(["        password: ${BROKER_PASSWORD}\n", "        password: rotated-in-the-file\n"]),
    );
    expect((await stack.broker.reload()).ok).toBe(true);
    const old = await stack.osb.get("/v2/catalog");
    expect(old.status).toBe(401);
    const rotated = await stack.osb.get("/v2/catalog", {
      headers: {
        Authorization: `Basic ${Buffer.from(`${stack.env.BROKER_USERNAME}:rotated-in-the-file`).toString("base64")}`,
      },
    });
    expect(rotated.status).toBe(200);
  });

  it("a reload after a broken edit is fixed serves the fixed file", async () => {
    await writeConfig(dir, example(["        name: large\n", "        name: small\n"]));
    expect((await stack.broker.reload()).ok).toBe(false);
    await writeConfig(dir, example([SMALL_DESCRIPTION, "        description: fixed\n"]));
    expect((await stack.broker.reload()).ok).toBe(true);
    expect(plan((await stack.osb.get("/v2/catalog")).body, PG.small)?.description).toBe("fixed");
  });
});
