/**
 * Issue 9 item 7: every plan's blueprint is checked against the manager, not only those of plans
 * that derive their schemas. At start and at reload a missing one is logged as an error naming
 * its plans and reported in readiness (without failing it: the other plans work); `validate
 * --cloudify` fails with an error at the `blueprint_id` naming the plan and the blueprint.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatorHandle, shippedBlueprintsPath, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { packageRoot } from "../src/util/package-root.js";
import { EXAMPLE_FILE, exampleText, nthPositionOf, runCli } from "./fixtures/configs/helpers.js";
import { capturingLogger } from "./fixtures/state-helpers.js";
import { type Stack, startStack } from "./support/stack.js";

/** The shipped emulator catalogue without the redis blueprint (never uploaded to this manager). */
function withoutRedis(): unknown {
  const catalogue = parse(readFileSync(shippedBlueprintsPath(), "utf8"), { merge: true }) as {
    blueprints: { id: string }[];
  };
  catalogue.blueprints = catalogue.blueprints.filter((b) => b.id !== "redis");
  return catalogue;
}

const REDIS_MISSING =
  "blueprint redis does not exist in Cloudify (plans redis/cache-small, redis/cache-large)";

async function readiness(
  stack: Stack,
): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(new URL("/readyz", stack.broker.url));
  return { status: response.status, body: (await response.json()) as never };
}

/** Polls readiness until its `blueprints` entry satisfies `predicate` (the check runs in the background). */
async function blueprintsReported(stack: Stack, predicate: (text: string) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await readiness(stack);
    if (predicate(answer.body.checks.blueprints ?? "")) return answer;
    if (Date.now() > deadline) throw new Error(`readiness never reported it: ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the broker checks every plan's blueprint at start", () => {
  let stack: Stack;
  const captured = capturingLogger();
  beforeAll(async () => {
    stack = await startStack({
      emulator: { logger: silentLogger, blueprints: withoutRedis() as never },
      logger: captured.logger,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("logs the missing blueprint as an error naming its plans, and reports it in readiness without failing it", async () => {
    const ready = await blueprintsReported(stack, (text) => text.includes("does not exist"));
    expect(ready.body.checks.blueprints).toBe(REDIS_MISSING);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ok");
    const errors = captured.lines().filter((line) => line.level === "error" && line.blueprint === "redis");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ plans: ["redis/cache-small", "redis/cache-large"] });
    expect(String(errors[0]!.msg)).toContain("blueprint redis does not exist in Cloudify");
  });
});

describe("and again at reload", () => {
  let stack: Stack;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "osb-blueprints-"));
    await writeFile(join(dir, "broker.yaml"), await readFile(join(packageRoot(), "broker.yaml"), "utf8"));
    stack = await startStack({ configFile: join(dir, "broker.yaml") });
  });
  afterAll(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a reload naming a blueprint the manager lacks is reported; fixing it clears the report", async () => {
    expect((await blueprintsReported(stack, (text) => text === "ok")).body.status).toBe("ok");
    const original = await readFile(join(dir, "broker.yaml"), "utf8");
    const changed = original.replace("blueprint_id: redis\n", "blueprint_id: redis-v9\n");
    expect(changed).not.toBe(original);
    await writeFile(join(dir, "broker.yaml"), changed);
    expect((await stack.broker.reload()).ok).toBe(true);
    const ready = await blueprintsReported(stack, (text) => text.includes("redis-v9 does not exist"));
    expect(ready.body.checks.blueprints).toBe(
      "blueprint redis-v9 does not exist in Cloudify (plans redis/cache-small, redis/cache-large)",
    );
    expect(ready.body.status).toBe("ok");
    await writeFile(join(dir, "broker.yaml"), original);
    expect((await stack.broker.reload()).ok).toBe(true);
    await blueprintsReported(stack, (text) => text === "ok");
  });
});

describe("validate --cloudify", () => {
  let emulator: EmulatorHandle;
  beforeAll(async () => {
    emulator = await startEmulator({ logger: silentLogger, blueprints: withoutRedis() as never });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("fails with an error at the blueprint_id naming the plan and the blueprint; needs only the Cloudify settings", async () => {
    // No platform credentials or encryption key in the environment: only the manager's URL.
    const result = await runCli(["validate", "--config", EXAMPLE_FILE, "--cloudify"], {
      env: { CLOUDIFY_URL: emulator.url },
    });
    expect(result.code).toBe(1);
    const { line, column } = nthPositionOf(exampleText(), "blueprint_id: redis", 1);
    const at = `${EXAMPLE_FILE}:${line}:${column + "blueprint_id: ".length}: error:`;
    const errors = result.stderr.split("\n").filter((l) => l.includes("does not exist in Cloudify"));
    expect(errors).toEqual([
      `${at} plan redis/cache-small: blueprint redis does not exist in Cloudify; every provision of this plan would fail (services[1].blueprint_id)`,
      `${at} plan redis/cache-large: blueprint redis does not exist in Cloudify; every provision of this plan would fail (services[1].blueprint_id)`,
    ]);
  });
});
