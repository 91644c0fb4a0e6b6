import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTANCES, type InstanceRecord } from "../src/broker/model/records.js";
import { readStateDir } from "../src/state/index.js";
import { EXAMPLE_FILE, runCli } from "./fixtures/configs/helpers.js";
import {
  ASYNC,
  instancePath,
  newId,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  startStack,
} from "./support/stack.js";

let stack: Stack;
const healthy = newId();
const stuck = newId();

const instance = async (id: string) =>
  (await readStateDir(stack.stateDir))[INSTANCES]?.[id] as unknown as InstanceRecord | undefined;

beforeAll(async () => {
  stack = await startStack();
  await provisionInstance(stack.osb, healthy, provisionBody(REDIS.small));
  // Every deployment create now fails transiently (a fault applies once unless told otherwise):
  // the next provision retries with backoff.
  stack.emulator!.faults.add({
    type: "http_error",
    status: 503,
    method: "PUT",
    path: "/api/v3.1/deployments",
    times: 1_000_000,
  });
  expect((await stack.osb.put(instancePath(stuck), provisionBody(REDIS.small), ASYNC)).status).toBe(202);
  const deadline = Date.now() + 30_000;
  while (((await instance(stuck))?.operation.attempts ?? 0) < 5) {
    if (Date.now() > deadline)
      throw new Error(`the provision never retried 5 times: ${JSON.stringify(await instance(stuck))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 60_000);
let brokerClosed = false;
afterAll(async () => {
  if (!brokerClosed) await stack?.broker.close();
  await stack?.emulator?.close();
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
});

describe("cfy-broker instances", () => {
  it("lists every instance with plan, status, deployment and last operation, beside the running broker", async () => {
    const result = await runCli(["instances", "--state", stack.stateDir], { cwd: "/" });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^INSTANCE\s+PLAN\s+STATUS\s+DEPLOYMENT\s+LAST OPERATION\s+AGE$/);
    expect(rows).toHaveLength(2);
    // Without a readable broker.yaml (run from /), plans are shown by id.
    expect(rows[0]).toMatch(
      new RegExp(`^${healthy}\\s+${REDIS.small}\\s+provisioned\\s+osb-${healthy}\\s+provision succeeded, `),
    );
    expect(rows[1]).toMatch(
      new RegExp(
        `^${stuck}\\s+${REDIS.small}\\s+provisioning\\s+osb-${stuck}\\s+provision in progress \\(create_deployment\\), `,
      ),
    );

    const json = await runCli(["instances", "--json", "--config", EXAMPLE_FILE, "--state", stack.stateDir]);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(listed.map((i) => [i.instance_id, i.plan, i.status])).toEqual([
      [healthy, "redis/cache-small", "provisioned"],
      [stuck, "redis/cache-small", "provisioning"],
    ]);
  });
});

describe("cfy-broker operations", () => {
  it("lists operations in progress; --stuck finds the one that cannot progress and exits 1", async () => {
    const all = await runCli(["operations", "--state", stack.stateDir], { cwd: "/" });
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(
      new RegExp(`^instance\\s+${stuck}\\s+provision\\s+create_deployment\\s+`, "m"),
    );
    expect(all.stdout).not.toContain(healthy);

    const found = await runCli(["operations", "--stuck", "--json", "--state", stack.stateDir], { cwd: "/" });
    expect(found.code).toBe(1);
    const [row] = JSON.parse(found.stdout);
    expect(row).toMatchObject({ kind: "instance", id: stuck, type: "provision", step: "create_deployment" });
    expect(row.stuck).toMatch(/failed attempts in a row/);
  });

  it("fail: refused while the broker holds the state; needs confirmation; then the operation is failed with the reason", async () => {
    const locked = await runCli(
      [
        "operations",
        "fail",
        stuck,
        "--reason",
        "manager refuses creates",
        "--yes",
        "--state",
        stack.stateDir,
      ],
      { cwd: "/" },
    );
    expect(locked.code).toBe(2);
    expect(locked.stderr.trimEnd().split("\n")).toHaveLength(1); // one line, no stack trace
    expect(locked.stderr).toMatch(/in use by another broker process.*Stop it first/);

    await stack.broker.close();
    brokerClosed = true;
    const unconfirmed = await runCli(
      ["operations", "fail", stuck, "--reason", "manager refuses creates", "--state", stack.stateDir],
      { cwd: "/" },
    );
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("add --yes to confirm");
    expect((await instance(stuck))?.operation.state).toBe("in progress");

    const failed = await runCli(
      [
        "operations",
        "fail",
        stuck,
        "--reason",
        "manager refuses creates",
        "--yes",
        "--state",
        stack.stateDir,
      ],
      { cwd: "/" },
    );
    expect(failed.stderr).toContain("status now provision_failed");
    expect(failed.code).toBe(0);
    const record = await instance(stuck);
    expect(record?.status).toBe("provision_failed");
    expect(record?.operation).toMatchObject({
      state: "failed",
      description: "failed by an operator: manager refuses creates",
    });
    expect((await runCli(["operations", "--stuck", "--state", stack.stateDir], { cwd: "/" })).code).toBe(0);
  });

  it("purge: refused while the deployment exists in Cloudify; forgets an instance whose deployment is gone", async () => {
    // Only the Cloudify connection must resolve: no platform credentials or encryption key.
    const { BROKER_USERNAME, BROKER_PASSWORD, BROKER_ENCRYPTION_KEY, ...env } = stack.env;
    const kept = await runCli(
      ["operations", "purge", healthy, "--yes", "--config", EXAMPLE_FILE, "--state", stack.stateDir],
      { env },
    );
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain(
      `deployment osb-${healthy} of instance ${healthy} still exists in Cloudify`,
    );
    expect(await instance(healthy)).toBeDefined();

    const purged = await runCli(
      ["operations", "purge", stuck, "--yes", "--config", EXAMPLE_FILE, "--state", stack.stateDir],
      { env },
    );
    expect(purged.stderr).toContain(`forgot instance ${stuck}`);
    expect(purged.code).toBe(0);
    expect(await instance(stuck)).toBeUndefined();
    expect(await instance(healthy)).toBeDefined();
  });
});
