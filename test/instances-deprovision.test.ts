/**
 * Deprovision (OSB section 8), last_operation (A6-A8, X6, X7), tombstones, deprovision while a
 * provision is running, and a full lifecycle. Real HTTP: test → broker → Cloudify emulator;
 * every answer is checked against schema/osb-openapi.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import type { OsbResponse } from "./support/osb-client.js";
import {
  ASYNC,
  deploymentPath,
  hold,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  startStack,
  useStack,
  type ValidatingOsbClient,
  validatingClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;
let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;

useStack((started) => ({ stack, osb, emulator } = started));

function deprovision(
  client: ValidatingOsbClient,
  id: string,
  query: Record<string, string | undefined> = {
    service_id: PG.service,
    plan_id: PG.small,
    accepts_incomplete: "true",
  },
) {
  return client.delete(instancePath(id), { query });
}
function lastOperation(client: ValidatingOsbClient, id: string, query: Record<string, string> = {}) {
  return client.get(`${instancePath(id)}/last_operation`, { query });
}

function expectError(response: OsbResponse, status: number, error: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body.error).toBe(error);
  expect(response.body.description.length).toBeGreaterThan(0);
}

/** What Cloudify itself answers for the instance's deployment (404 once it is gone). */
async function cloudifyStatus(em: EmulatorHandle, id: string): Promise<number> {
  const response = await fetch(`${em.url}${deploymentPath(id)}`, {
    headers: {
      Authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}`,
      Tenant: "default_tenant",
    },
  });
  await response.arrayBuffer();
  return response.status;
}

async function provisioned(body = provisionBody()): Promise<string> {
  const id = newId();
  await provisionInstance(osb, id, body);
  return id;
}

/** Keeps a deprovision in progress: Cloudify answers 503 to deleting the deployment until released. */
function holdDelete(id: string): () => void {
  return hold(emulator, "DELETE", deploymentPath(id));
}

describe("DEPROV status table", () => {
  it("DEPROV 202 deletes everything the provision created: uninstall, then the deployment (404 at Cloudify)", async () => {
    const id = await provisioned();
    // Cloudify drops a deployment's executions with it: hold the deletion to see the uninstall first.
    const release = holdDelete(id);
    let uninstalls: Record<string, unknown>[] = [];
    try {
      const response = await deprovision(osb, id);
      expect(response.status).toBe(202);
      expect(response.body.operation.length).toBeGreaterThan(0);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      const deadline = Date.now() + 10_000;
      while (emulator.requests.count({ method: "DELETE", path: deploymentPath(id) }) === 0) {
        if (Date.now() > deadline) throw new Error("the broker never tried to delete the deployment");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      uninstalls = emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === "uninstall");
    } finally {
      release();
    }
    // The deployment is deleted only after the uninstall workflow ended.
    expect(uninstalls.map((e) => e.status)).toEqual(["terminated"]);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
    expect(await cloudifyStatus(emulator, id)).toBe(404);
  });

  it("DEPROV 200 never: 422 AsyncRequired without accepts_incomplete, instance untouched (A2, H11)", async () => {
    const id = await provisioned();
    for (const flag of [undefined, "false"]) {
      const response = await deprovision(osb, id, {
        service_id: PG.service,
        plan_id: PG.small,
        accepts_incomplete: flag,
      });
      expectError(response, 422, "AsyncRequired");
    }
    expect((await osb.get(instancePath(id))).status).toBe(200);
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
  });

  it("DEPROV 202 A5 §12 in progress: a re-send answers 202 with the same operation, never 200", async () => {
    const id = await provisioned();
    const release = holdDelete(id);
    try {
      const first = await deprovision(osb, id);
      expect(first.status).toBe(202);
      const deadline = Date.now() + 10_000;
      while (emulator.requests.count({ method: "DELETE", path: deploymentPath(id) }) === 0) {
        if (Date.now() > deadline) throw new Error("the broker never tried to delete the deployment");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const again = await deprovision(osb, id);
      expect(again.status).toBe(202);
      expect(again.body.operation).toBe(first.body.operation);
      const last = await lastOperation(osb, id, { operation: "deprovision" });
      expect(last.body.state).toBe("in progress");
      expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
      // Another operation meanwhile: 422 ConcurrencyError (section 8 / 12).
      const update = await osb.patch(
        instancePath(id),
        { service_id: PG.service, parameters: { backup_retention_days: 1 } },
        ASYNC,
      );
      expectError(update, 422, "ConcurrencyError");
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });

  const malformed: [string, Record<string, string>][] = [
    ["missing service_id", { plan_id: PG.small, accepts_incomplete: "true" }],
    ["empty service_id", { service_id: "", plan_id: PG.small, accepts_incomplete: "true" }],
    ["missing plan_id", { service_id: PG.service, accepts_incomplete: "true" }],
    ["empty plan_id", { service_id: PG.service, plan_id: "", accepts_incomplete: "true" }],
    [
      "accepts_incomplete neither true nor false",
      { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "1" },
    ],
  ];
  for (const [name, query] of malformed) {
    it(`DEPROV 400 ${name}; the instance is untouched (H11)`, async () => {
      const id = await provisioned();
      expectError(await deprovision(osb, id, query), 400, "BadRequest");
      expect((await osb.get(instancePath(id))).status).toBe(200);
      expect(emulator.requests.count({ method: "DELETE", path: deploymentPath(id) })).toBe(0);
    });
  }

  it("DEPROV 410 for an instance the broker never saw (orphan mitigation, section 13)", async () => {
    const id = newId();
    expectError(await deprovision(osb, id), 410, "Gone");
    // Orphan-mitigation DELETEs need not accept incomplete operations.
    expectError(await deprovision(osb, id, { service_id: PG.service, plan_id: PG.small }), 410, "Gone");
    expect((await lastOperation(osb, id)).status).toBe(404);
  });

  it("DEPROV 410 §12 gone (identical or different request); X7 last_operation answers succeeded after deprovision", async () => {
    const id = await provisioned();
    expect((await deprovision(osb, id)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    // osb-checker polls 3 times per step, with or without the literal operation (X6, X7).
    for (const query of [{}, { operation: "deprovision" }, { operation: "whatever" }, {}] as Record<
      string,
      string
    >[]) {
      const last = await lastOperation(osb, id, query);
      expect(last.status).toBe(200);
      expect(last.body.state).toBe("succeeded");
    }
    expectError(await deprovision(osb, id), 410, "Gone");
    expectError(
      await deprovision(osb, id, {
        service_id: REDIS.service,
        plan_id: REDIS.large,
        accepts_incomplete: "true",
      }),
      410,
      "Gone",
    );
    expect((await osb.get(instancePath(id))).status).toBe(404);
  });

  it("DEPROV uninstall tasks failing in Cloudify do not block the deletion (uninstall runs with ignore_failure)", async () => {
    const id = await provisioned();
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "uninstall",
      deploymentId: `osb-${id}`,
      message: "volume vol-0a1b is still attached",
      times: 1,
    });
    expect((await deprovision(osb, id)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });

  it("DEPROV A6 Cloudify refusing the deletion is reported failed with instance_usable; a second DELETE finishes", async () => {
    const id = await provisioned();
    emulator.faults.add({
      type: "http_error",
      status: 400,
      errorCode: "illegal_action_error",
      method: "DELETE",
      path: deploymentPath(id),
      times: 1,
    });
    expect((await deprovision(osb, id)).status).toBe(202);
    const failed = await waitForInstanceOperation(osb, id);
    expect(failed.body.state).toBe("failed");
    expect(failed.body.description).toContain("illegal_action_error");
    expect(failed.body.instance_usable).toBe(false);
    // update_repeatable belongs to updates only (H12).
    expect(failed.body).not.toHaveProperty("update_repeatable");
    expect(emulator.state.deployment(`osb-${id}`)).toBeDefined();
    // The instance still exists: the platform keeps it and may DELETE again.
    expect((await osb.get(instancePath(id))).status).toBe(200);
    expect((await deprovision(osb, id)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  });
});

describe("LOI", () => {
  it("LOI 404 for an unknown instance (A7)", async () => {
    const response = await lastOperation(osb, newId());
    expectError(response, 404, "NotFound");
  });

  it("LOI X6 the operation hint is only a hint: broker tokens, literals and unknown values report the latest operation", async () => {
    const id = newId();
    const accepted = await osb.put(instancePath(id), provisionBody(), ASYNC);
    expect(accepted.status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    for (const operation of [
      accepted.body.operation,
      "provision",
      "update",
      "deprovision",
      "no-such-op",
      "%2F..",
    ]) {
      const last = await lastOperation(osb, id, {
        operation,
        service_id: PG.service,
        plan_id: PG.small,
      });
      expect(last.status).toBe(200);
      expect(last.body).toEqual({ state: "succeeded" });
      expect(last.headers.get("retry-after")).toBeNull();
    }
  });
});

describe("DEPROV while provisioning (section 8: halt the create and delete)", () => {
  let slow: Stack;
  let slowOsb: ValidatingOsbClient;
  beforeAll(async () => {
    // Environments and installs that take long enough to be caught running (install: 3000 ms × 0.5).
    slow = await startStack({
      emulator: {
        timings: { pendingMs: 5, createEnvMs: 600, deleteEnvMs: 20, workflowMs: 30, cancelMs: 5, scale: 0.5 },
      },
    });
    slowOsb = validatingClient(slow);
  });
  afterAll(async () => {
    await slow?.stop();
  });

  it("DEPROV 202 during a running install: the install is cancelled, the deployment deleted, LOI reports the delete", async () => {
    const id = newId();
    const em = slow.emulator!;
    expect((await slowOsb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    const deadline = Date.now() + 10_000;
    const install = () => em.state.executions(`osb-${id}`).find((e) => e.workflow_id === "install");
    while (install()?.status !== "started") {
      if (Date.now() > deadline) throw new Error(`install never started: ${JSON.stringify(install())}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Hold the final deletion to look at the executions before Cloudify drops them.
    const hold = em.faults.add({
      type: "http_error",
      status: 503,
      method: "DELETE",
      path: deploymentPath(id),
      times: 1_000_000,
    });
    try {
      const response = await deprovision(slowOsb, id);
      expect(response.status).toBe(202);
      while (em.requests.count({ method: "DELETE", path: deploymentPath(id) }) === 0) {
        if (Date.now() > deadline) throw new Error("the broker never tried to delete the deployment");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(install()?.status).toBe("cancelled");
      // Cancelled midway, the install left its node live but not started (CFY-AVAIL-8): uninstall
      // is not available (nothing is active), so the broker forces it before deleting.
      const uninstall = em.state.executions(`osb-${id}`).filter((e) => e.workflow_id === "uninstall");
      expect(uninstall.map((e) => e.status)).toEqual(["terminated"]);
      expect(em.state.nodeInstances(`osb-${id}`).map((n) => n.state)).toEqual(["deleted"]);
    } finally {
      em.faults.remove(hold);
    }
    const last = await waitForInstanceOperation(slowOsb, id);
    expect(last.body.state).toBe("succeeded");
    expect(em.state.deployment(`osb-${id}`)).toBeUndefined();
    expect(await cloudifyStatus(em, id)).toBe(404);
    expect((await slowOsb.get(instancePath(id))).status).toBe(404);
    expectError(await deprovision(slowOsb, id), 410, "Gone");
  });

  it("DEPROV 202 while Cloudify creates the deployment environment: creation cancelled, deployment deleted", async () => {
    const id = newId();
    const em = slow.emulator!;
    expect((await slowOsb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    const deadline = Date.now() + 10_000;
    const create = () =>
      em.state.executions(`osb-${id}`).find((e) => e.workflow_id === "create_deployment_environment");
    while (create()?.status !== "started") {
      if (Date.now() > deadline)
        throw new Error(`environment creation never started: ${JSON.stringify(create())}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const workflowsStarted = em.requests.count({ method: "POST", path: "/api/v3.1/executions" });
    expect((await deprovision(slowOsb, id)).status).toBe(202);
    expect((await waitForInstanceOperation(slowOsb, id)).body.state).toBe("succeeded");
    expect(em.state.deployment(`osb-${id}`)).toBeUndefined();
    expect(await cloudifyStatus(em, id)).toBe(404);
    // Neither install nor uninstall: an environment that never came up has nothing installed.
    expect(em.requests.count({ method: "POST", path: "/api/v3.1/executions" })).toBe(workflowsStarted);
  });

  it("DEPROV 202 while the request creating the deployment is under way: the deployment is still known as the instance's and deleted (CFY-OWN-2)", async () => {
    // Found by test/reliability/kill.test.ts: the provision's step outcome (which records the
    // create execution, the instance's proof of owning a deployment whose labels are not
    // written yet) was dropped with the replaced operation, and the deprovision then refused
    // the deployment as foreign ("its osb-instance-id label is missing").
    const id = newId();
    const em = slow.emulator!;
    const held = em.faults.add({ type: "hold", method: "PUT", path: deploymentPath(id), times: 1 });
    try {
      expect((await slowOsb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
      const deadline = Date.now() + 10_000;
      while (em.requests.count({ method: "PUT", path: deploymentPath(id) }) === 0) {
        if (Date.now() > deadline) throw new Error("the broker never asked Cloudify for the deployment");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect((await deprovision(slowOsb, id)).status).toBe(202);
    } finally {
      // Cloudify now creates the deployment, after the deprovision replaced the provision.
      em.faults.remove(held);
    }
    const last = await waitForInstanceOperation(slowOsb, id);
    expect(last.body, JSON.stringify(last.body)).toMatchObject({ state: "succeeded" });
    expect(em.state.deployment(`osb-${id}`)).toBeUndefined();
    expect(await cloudifyStatus(em, id)).toBe(404);
  });

  it("DEPROV 202 before Cloudify created anything: nothing is created afterwards", async () => {
    const id = newId();
    const em = slow.emulator!;
    const hold = em.faults.add({
      type: "http_error",
      status: 503,
      method: "PUT",
      path: deploymentPath(id),
      times: 1_000_000,
    });
    try {
      expect((await slowOsb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
      const response = await deprovision(slowOsb, id);
      expect(response.status).toBe(202);
      expect((await waitForInstanceOperation(slowOsb, id)).body.state).toBe("succeeded");
    } finally {
      em.faults.remove(hold);
    }
    // The provision was replaced by the deprovision: the broker never creates the deployment now.
    expect((await lastOperation(slowOsb, id)).body.state).toBe("succeeded");
    expect(em.state.deployment(`osb-${id}`)).toBeUndefined();
    expect((await slowOsb.get(instancePath(id))).status).toBe(404);
  });
});

describe("tombstones", () => {
  let short: Stack;
  let shortOsb: ValidatingOsbClient;
  beforeAll(async () => {
    short = await startStack({ env: { BROKER_TOMBSTONE_SECONDS: "1" } });
    shortOsb = validatingClient(short);
  });
  afterAll(async () => {
    await short?.stop();
  });

  it("LOI A7 A8 X7 succeeded during the tombstone period, then 410 Gone", async () => {
    const id = newId();
    await provisionInstance(shortOsb, id, provisionBody(REDIS.small));
    expect(
      (
        await deprovision(shortOsb, id, {
          service_id: REDIS.service,
          plan_id: REDIS.small,
          accepts_incomplete: "true",
        })
      ).status,
    ).toBe(202);
    const done = await waitForInstanceOperation(shortOsb, id);
    // Either still in the tombstone period (succeeded) or already past it (410): never failed.
    if (done.status === 200) expect(done.body.state).toBe("succeeded");
    const deadline = Date.now() + 10_000;
    let last = await lastOperation(shortOsb, id);
    while (last.status === 200) {
      expect(last.body.state).toBe("succeeded");
      if (Date.now() > deadline) throw new Error("the tombstone never expired");
      await new Promise((resolve) => setTimeout(resolve, 50));
      last = await lastOperation(shortOsb, id);
    }
    expectError(last, 410, "Gone");
    expectError(
      await deprovision(shortOsb, id, {
        service_id: REDIS.service,
        plan_id: REDIS.small,
        accepts_incomplete: "true",
      }),
      410,
      "Gone",
    );
  });
});

describe("lifecycle", () => {
  it("PROV GETI UPD DEPROV a full lifecycle: provision, fetch, update, deprovision, GET 404, DELETE again 410", async () => {
    const id = newId();
    const provisionResponse = await osb.put(
      instancePath(id),
      provisionBody(PG.small, { parameters: { db_name: "shop" } }),
      ASYNC,
    );
    expect(provisionResponse.status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body).toEqual({ state: "succeeded" });

    const fetched = await osb.get(instancePath(id), { query: { service_id: PG.service, plan_id: PG.small } });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual({
      service_id: PG.service,
      plan_id: PG.small,
      dashboard_url: `https://dashboard.example.com/postgresql/${id}`,
      parameters: { db_name: "shop" },
      maintenance_info: { version: "1.0.0" },
    });

    const updateResponse = await osb.patch(
      instancePath(id),
      {
        service_id: PG.service,
        parameters: { extensions: ["pg_trgm"] },
        previous_values: { plan_id: PG.small },
      },
      ASYNC,
    );
    expect(updateResponse.status).toBe(202);
    expect(updateResponse.body.operation).not.toBe(provisionResponse.body.operation);
    expect((await waitForInstanceOperation(osb, id)).body).toEqual({ state: "succeeded" });
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({
      db_name: "shop",
      extensions: ["pg_trgm"],
    });
    expect(
      (emulator.state.deployment(`osb-${id}`) as { inputs: Record<string, unknown> }).inputs.extensions,
    ).toEqual(["pg_trgm"]);

    const deleteResponse = await deprovision(osb, id);
    expect(deleteResponse.status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expectError(await osb.get(instancePath(id)), 404, "NotFound");
    expectError(await deprovision(osb, id), 410, "Gone");
    expect(await cloudifyStatus(emulator, id)).toBe(404);
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
  });
});
