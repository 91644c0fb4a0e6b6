/**
 * The broker against a manager as strict as a real 7.x one (docs/CLOUDIFY.md rules CFY-*):
 * deprovisioning when uninstall is unavailable, deletions that fail. Real HTTP: test → broker →
 * Cloudify emulator.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { deploymentIdFor } from "../src/broker/model/ids.js";
import { clientFor } from "./support/emulator.js";
import {
  ASYNC,
  hold,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  useStack,
  type ValidatingOsbClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;
useStack(
  (started) => {
    ({ osb, emulator } = started);
  },
  // Workflows long enough to queue behind (pg uninstall: 1500 ms × 0.3).
  {
    emulator: {
      timings: { pendingMs: 5, createEnvMs: 20, deleteEnvMs: 20, workflowMs: 30, cancelMs: 5, scale: 0.3 },
    },
  },
);

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

  it("CFY-AVAIL-4 M14 an uninstall that fails when dequeued (unavailable by then) still ends in deletion", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    // Someone else's uninstall runs on the deployment (pg uninstall: 1500 ms × 0.3); the
    // broker's queues behind it and, when dequeued, is found unavailable: nothing is active.
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
    // Hold the deletion to see the executions before Cloudify drops them with the deployment.
    const release = hold(emulator, "DELETE", `/api/v3.1/deployments/osb-${id}`);
    try {
      expect((await deprovision(id)).status).toBe(202);
      await expect
        .poll(() => emulator.requests.count({ method: "DELETE", path: `/api/v3.1/deployments/osb-${id}` }), {
          timeout: 10_000,
          interval: 10,
        })
        .toBeGreaterThan(0);
      const uninstalls = workflows(id, "uninstall");
      expect(uninstalls.map((e) => e.status)).toEqual(["terminated", "failed"]);
      expect(uninstalls[1]!.error).toBe("Error dequeueing execution: Workflow not available: uninstall");
    } finally {
      release();
    }
    const last = await waitForInstanceOperation(osb, id);
    expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });
});

describe("CFY-AVAIL-8 a deprovision halting an install midway", () => {
  it("the install leaves a node live but not started: uninstall is forced, then the deployment is deleted", async () => {
    const id = newId();
    expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    // Halted while install runs (pg install: 3000 ms × 0.3).
    await expect
      .poll(() => workflows(id, "install").map((e) => e.status), { timeout: 10_000, interval: 10 })
      .toEqual(["started"]);
    expect((await deprovision(id)).status).toBe(202);
    await expect
      .poll(() => workflows(id, "install").map((e) => e.status), { timeout: 10_000, interval: 10 })
      .toEqual(["cancelled"]);
    const [node] = emulator.state.nodeInstances(`osb-${id}`);
    expect(["creating", "created", "configuring", "configured", "starting"]).toContain(node?.state);
    const last = await waitForInstanceOperation(osb, id);
    expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });
});

describe("CFY-OWN one instance never touches another's deployment", () => {
  const sha = (value: string) => createHash("sha256").update(value).digest("hex");

  it("CFY-OWN-1 a crafted valid id never maps onto the deployment of an id that needed hashing", async () => {
    const victim = `victim ${newId()}`;
    await provisionInstance(osb, encodeURIComponent(victim), provisionBody());
    const victimDeployment = deploymentIdFor(victim);
    expect(emulator.state.deployment(victimDeployment)).toBeDefined();
    // What the old mapping gave the victim: `osb-<sanitised>-<12 hex>`; the crafted id aims at it.
    const crafted = `${victim.replace(/[^A-Za-z0-9._-]/g, "_")}-${sha(victim).slice(0, 12)}`;
    expect(deploymentIdFor(crafted)).not.toBe(victimDeployment);
    await provisionInstance(osb, crafted, provisionBody());
    await deprovisionSucceeds(crafted);
    expect(emulator.state.deployment(victimDeployment)).toBeDefined();
    expect(emulator.state.deployment(victimDeployment)?.installation_status).toBe("active");
  });

  it("CFY-OWN-2 a deployment under the instance's id that is not its own is never uninstalled, deleted or updated", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    // Behind the broker's back the deployment is replaced by someone else's with the same id.
    const cloudify = clientFor(emulator);
    try {
      await cloudify.executions.start({ deploymentId: `osb-${id}`, workflowId: "uninstall" });
      await expect
        .poll(() => emulator.state.deployment(`osb-${id}`)?.installation_status, { timeout: 10_000 })
        .toBe("inactive");
      await cloudify.deployments.delete(`osb-${id}`);
      await cloudify.deployments.waitUntilGone(`osb-${id}`, { intervalMs: 20, timeoutMs: 10_000 });
      await cloudify.deployments.create(`osb-${id}`, {
        blueprintId: "redis",
        labels: [{ "osb-instance-id": "someone-else" }],
        asyncCreate: false,
      });
    } finally {
      await cloudify.close();
    }
    const patched = await osb.patch(
      instancePath(id),
      { service_id: PG.service, parameters: { backup_retention_days: 14 } },
      ASYNC,
    );
    expect(patched.status).toBe(202);
    const updated = await waitForInstanceOperation(osb, id);
    expect(updated.body.state).toBe("failed");
    expect(updated.body.description).toContain("does not belong to this instance");
    expect((await deprovision(id)).status).toBe(202);
    const last = await waitForInstanceOperation(osb, id);
    expect(last.body.state).toBe("failed");
    expect(last.body.description).toContain(`Refusing to uninstall Cloudify deployment osb-${id}`);
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
    expect(workflows(id, "update")).toEqual([]);
    expect(emulator.requests.count({ method: "DELETE", path: `/api/v3.1/deployments/osb-${id}` })).toBe(1);
  });

  it('CFY-OWN-3 a long id with " and control characters: a lost create answer is adopted, and deprovision works', async () => {
    const id = `${"x".repeat(300)}"\u0001${newId()}`;
    const deployment = deploymentIdFor(id);
    emulator.faults.add({
      type: "gateway_timeout",
      performAfterMs: 200,
      method: "PUT",
      path: `/api/v3.1/deployments/${deployment}`,
      times: 1,
    });
    const path = instancePath(encodeURIComponent(id));
    expect((await osb.put(path, provisionBody(), ASYNC)).status).toBe(202);
    const provisioned = await waitForInstanceOperation(osb, encodeURIComponent(id));
    expect(provisioned.body, JSON.stringify(provisioned.body)).toMatchObject({ state: "succeeded" });
    expect((await osb.delete(path, DEPROV_QUERY)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, encodeURIComponent(id))).body.state).toBe("succeeded");
    expect(emulator.state.deployment(deployment)).toBeUndefined();
  });
});

describe("CFY-DEL a deletion that fails", () => {
  it("CFY-DEL-2 a failed delete_deployment_environment fails the deprovision with Cloudify's reason; a retry deletes", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody());
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "delete_deployment_environment",
      deploymentId: `osb-${id}`,
      message: "could not remove the deployment's working directory",
      times: 1,
    });
    expect((await deprovision(id)).status).toBe(202);
    const failed = await waitForInstanceOperation(osb, id);
    expect(failed.body.state).toBe("failed");
    expect(failed.body.description).toContain("could not remove the deployment's working directory");
    expect(failed.body.instance_usable).toBe(false);
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
    await deprovisionSucceeds(id);
  });
});
