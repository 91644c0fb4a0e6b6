/**
 * The broker against a manager as strict as a real 7.x one (docs/CLOUDIFY.md rules CFY-*):
 * deprovisioning when uninstall is unavailable, deletions that fail. Real HTTP: test → broker →
 * Cloudify emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  type Stack,
  startStack,
  type ValidatingOsbClient,
  validatingClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;
let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;

beforeAll(async () => {
  // Workflows long enough to queue behind (pg uninstall: 1500 ms × 0.3).
  stack = await startStack({
    emulator: {
      timings: { pendingMs: 5, createEnvMs: 20, deleteEnvMs: 20, workflowMs: 30, cancelMs: 5, scale: 0.3 },
    },
  });
  osb = validatingClient(stack);
  emulator = stack.emulator!;
});
afterAll(async () => {
  await stack?.stop();
});

const DEPROV_QUERY = { query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" } };
const deprovision = (id: string) => osb.delete(instancePath(id), DEPROV_QUERY);
const workflows = (id: string, workflowId: string) =>
  emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === workflowId);

async function deprovisionSucceeds(id: string) {
  expect((await deprovision(id)).status).toBe(202);
  const last = await waitForInstanceOperation(osb, id);
  expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
  expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
}

describe("CFY-AVAIL deprovision when uninstall is not available", () => {
  it("CFY-AVAIL-1 an install that failed before starting any node: the deployment is deleted without uninstall", async () => {
    const id = newId();
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "install",
      deploymentId: `osb-${id}`,
      message: "no capacity",
      times: 1,
    });
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("failed");
    expect(emulator.state.nodeInstances(`osb-${id}`).every((n) => n.state === "uninitialized")).toBe(true);
    await deprovisionSucceeds(id);
  });

  it("CFY-AVAIL-1 a deprovision retried after uninstall already ran deletes the deployment", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    // The first deprovision uninstalls, then Cloudify refuses the deletion once.
    emulator.faults.add({
      type: "http_error",
      status: 400,
      errorCode: "illegal_action_error",
      method: "DELETE",
      path: `/api/v3.1/deployments/osb-${id}`,
      times: 1,
    });
    expect((await deprovision(id)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("failed");
    expect(workflows(id, "uninstall").map((e) => e.status)).toEqual(["terminated"]);
    expect(emulator.state.nodeInstances(`osb-${id}`).every((n) => n.state === "deleted")).toBe(true);
    // The retry finds uninstall unavailable (nothing active) and goes straight to deleting.
    await deprovisionSucceeds(id);
  });

  it("CFY-AVAIL-4 an uninstall that fails when dequeued (unavailable by then) still ends in deletion", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    // Someone else's uninstall runs on the deployment; the broker's queues behind it and is
    // found unavailable when dequeued.
    const other = await fetch(`${emulator.url}/api/v3.1/executions`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}`,
        Tenant: "default_tenant",
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ deployment_id: `osb-${id}`, workflow_id: "uninstall" }),
    });
    expect(other.status).toBe(201);
    await deprovisionSucceeds(id);
    const uninstalls = workflows(id, "uninstall");
    expect(uninstalls).toEqual([]); // gone with the deployment; the request log shows both POSTs
    expect(emulator.requests.count({ method: "POST", path: "/api/v3.1/executions" })).toBeGreaterThanOrEqual(
      2,
    );
  });
});
