/**
 * `cfy-broker upgrade --all` against a running broker and a real emulator: after a plan's
 * maintenance_info version is raised (with an input change, so Cloudify runs a deployment
 * update), every instance behind is upgraded through the broker's OSB API; one whose update
 * Cloudify fails is reported and makes the exit 1; a second run upgrades what is left.
 */
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTANCES, type InstanceRecord } from "../src/broker/model/records.js";
import { readStateDir } from "../src/state/index.js";
import { example, exampleText, runCli, tempDir } from "./fixtures/configs/helpers.js";
import {
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  startStack,
} from "./support/stack.js";

let dir: string;
let file: string;
let stack: Stack;
const first = newId();
const second = newId();
const cache = newId();

const version = async (id: string) =>
  ((await readStateDir(stack.stateDir))[INSTANCES]?.[id] as unknown as InstanceRecord | undefined)
    ?.maintenanceVersion;

beforeAll(async () => {
  dir = await tempDir("cli-upgrade-");
  file = join(dir, "broker.yaml");
  await writeFile(file, exampleText());
  stack = await startStack({ configFile: file });
  await provisionInstance(stack.osb, first, provisionBody(PG.small));
  await provisionInstance(stack.osb, second, provisionBody(PG.small));
  await provisionInstance(stack.osb, cache, provisionBody(REDIS.small));
  await writeFile(
    file,
    example(
      [
        "          version: 1.0.0\n          description: PostgreSQL 16",
        "          version: 1.1.0\n          description: PostgreSQL 16",
      ],
      ["          cpu: 1\n", "          cpu: 2\n"],
    ),
  );
  expect((await stack.broker.reload()).ok).toBe(true);
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

const upgrade = () =>
  runCli(["upgrade", "--all", "--config", file, "--url", stack.broker.url, "--state", stack.stateDir], {
    env: stack.env,
  });

describe("cfy-broker upgrade --all", () => {
  it("upgrades every instance behind through the broker, reports a failed one and exits 1", async () => {
    stack.emulator!.faults.add({
      type: "fail_workflow",
      workflowId: "update",
      deploymentId: `osb-${second}`,
      message: "disk quota exceeded",
    });
    const result = await upgrade();
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain("2 instance(s) behind: 1 upgraded, 1 failed");
    const rows = result.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^INSTANCE\s+PLAN\s+FROM\s+TO\s+RESULT$/);
    // One row per instance behind, in no promised order: find each by its id.
    const body = rows.slice(1);
    expect(body).toHaveLength(2);
    expect(body.find((row) => row.startsWith(first))).toMatch(
      new RegExp(`^${first}\\s+postgresql/small\\s+1\\.0\\.0\\s+1\\.1\\.0\\s+upgraded$`),
    );
    expect(body.find((row) => row.startsWith(second))).toMatch(
      new RegExp(`^${second}\\s+postgresql/small\\s+1\\.0\\.0\\s+1\\.1\\.0\\s+failed: .*disk quota exceeded`),
    );
    expect(await version(first)).toBe("1.1.0");
    expect(await version(second)).toBe("1.0.0");
    expect(await version(cache)).toBe("1.0.0"); // its plan's version did not change
  }, 120_000);

  it("a second run upgrades what is left; then nothing is behind", async () => {
    stack.emulator!.faults.clear();
    const result = await upgrade();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("1 instance(s) behind: 1 upgraded, 0 failed");
    expect(await version(second)).toBe("1.1.0");
    const again = await upgrade();
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("0 instance(s) behind");
  }, 120_000);
});
