/**
 * Update (OSB section 7) and its idempotency (section 12), plan changes (C6), `updatable: false`
 * inputs, context-only updates, maintenance_info (H13, X5), GETI during an update (section 6) and
 * updates that fail in Cloudify (A6, H12). Real HTTP: test → broker → Cloudify emulator; every
 * answer is checked against schema/osb-openapi.yaml.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import type { OsbResponse } from "./support/osb-client.js";
import {
  ASYNC,
  hold,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  useStack,
  type ValidatingOsbClient,
  waitForInstanceOperation,
} from "./support/stack.js";

let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;

useStack(async (started) => {
  ({ osb, emulator } = started);
  // The large plan's schemas are derived from its blueprint once the broker has read it from
  // Cloudify; tests of their validation need them in force.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const catalog = await osb.get("/v2/catalog");
    const services: { id: string; plans: { id: string; schemas?: unknown }[] }[] = catalog.body.services;
    if (services.find((s) => s.id === PG.service)?.plans.find((p) => p.id === PG.large)?.schemas) break;
    if (Date.now() > deadline) throw new Error("the large plan never got its derived schemas");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

const initiatePath = (id: string) => `/api/v3.1/deployment-updates/osb-${id}/update/initiate`;

function patch(id: string, body: unknown, options: Parameters<ValidatingOsbClient["patch"]>[2] = ASYNC) {
  return osb.patch(instancePath(id), body, options);
}

type Deployment = { blueprint_id: string; inputs: Record<string, unknown> };
const deployment = (id: string) => emulator.state.deployment(`osb-${id}`) as Deployment;
const updates = (id: string) => emulator.requests.count({ method: "POST", path: initiatePath(id) });

/** Keeps an update in progress: Cloudify answers 503 to starting the deployment update until released. */
function holdUpdate(id: string): () => void {
  return hold(emulator, "POST", initiatePath(id));
}

async function untilUpdateAttempted(id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (updates(id) === 0) {
    if (Date.now() > deadline) throw new Error(`the broker never tried to update deployment osb-${id}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function expectError(response: OsbResponse, status: number, error: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body.error).toBe(error);
  expect(response.body.description.length).toBeGreaterThan(0);
}

/** A provisioned small postgresql instance. */
async function provisioned(body = provisionBody()): Promise<string> {
  const id = newId();
  await provisionInstance(osb, id, body);
  return id;
}

describe("UPD status table", () => {
  it("UPD 202 a parameter change runs a Cloudify deployment update; GETI shows the merged parameters", async () => {
    const id = await provisioned(provisionBody(PG.small, { parameters: { db_name: "orders" } }));
    const response = await patch(id, {
      service_id: PG.service,
      parameters: { backup_retention_days: 21 },
      previous_values: { plan_id: PG.small, maintenance_info: {} },
      maintenance_info: {},
    });
    expect(response.status).toBe(202);
    expect(response.body.operation.length).toBeGreaterThan(0);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await waitForInstanceOperation(osb, id)).body).toEqual({ state: "succeeded" });
    expect(updates(id)).toBe(1);
    expect(deployment(id).inputs).toMatchObject({ backup_retention_days: 21, db_name: "orders" });
    const fetched = await osb.get(instancePath(id));
    expect(fetched.body.parameters).toEqual({ db_name: "orders", backup_retention_days: 21 });
    expect(fetched.body.plan_id).toBe(PG.small);
  });

  it("UPD 200 a request with no effect answers 200 without touching Cloudify", async () => {
    const id = await provisioned();
    for (const options of [ASYNC, { query: {} }]) {
      const response = await patch(id, { service_id: PG.service, maintenance_info: {} }, options);
      expect(response.status).toBe(200);
      expect(response.body).not.toHaveProperty("operation");
      // dashboard_url may be repeated; absent would mean "keep the old one" just the same.
      if (response.body.dashboard_url !== undefined)
        expect(response.body.dashboard_url).toBe(`https://dashboard.example.com/postgresql/${id}`);
    }
    // Parameters equal to the current ones change nothing either.
    const same = await patch(id, { service_id: PG.service, plan_id: PG.small, parameters: {} });
    expect(same.status).toBe(200);
    expect(updates(id)).toBe(0);
  });

  it("UPD 422 AsyncRequired when the change needs Cloudify and accepts_incomplete is missing; nothing applied", async () => {
    const id = await provisioned();
    const response = await patch(
      id,
      { service_id: PG.service, parameters: { backup_retention_days: 3 } },
      { query: {} },
    );
    expectError(response, 422, "AsyncRequired");
    expect(updates(id)).toBe(0);
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({});
  });

  it("UPD 202 A5 §12 in progress: identical re-send 202 with the same operation, different 422 ConcurrencyError; GETI/DEPROV 422", async () => {
    const id = await provisioned();
    const body = { service_id: PG.service, parameters: { backup_retention_days: 9 } };
    const release = holdUpdate(id);
    try {
      const first = await patch(id, body);
      expect(first.status).toBe(202);
      await untilUpdateAttempted(id);
      const again = await patch(id, body);
      expect(again.status).toBe(202);
      expect(again.body.operation).toBe(first.body.operation);
      // Section 12: identical without accepts_incomplete cannot be 202 (A2).
      expectError(await patch(id, body, { query: {} }), 422, "AsyncRequired");
      const other = await patch(id, { service_id: PG.service, parameters: { backup_retention_days: 10 } });
      expectError(other, 422, "ConcurrencyError");
      // GETI while an update is in progress: 422 ConcurrencyError (section 6, MUST).
      expectError(await osb.get(instancePath(id)), 422, "ConcurrencyError");
      // DEPROV while an update is in progress: 422 ConcurrencyError (section 8).
      const deprovision = await osb.delete(instancePath(id), {
        query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" },
      });
      expectError(deprovision, 422, "ConcurrencyError");
      // A re-PUT of the original provision while updating is the same instance: 200.
      expect((await osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(200);
      const last = await osb.get(`${instancePath(id)}/last_operation`, { query: { operation: "update" } });
      expect(last.body.state).toBe("in progress");
      expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({ backup_retention_days: 9 });
    expect(deployment(id).inputs.backup_retention_days).toBe(9);
  });

  it("UPD 404 for an unknown instance (documented choice)", async () => {
    const response = await patch(newId(), {
      service_id: PG.service,
      parameters: { backup_retention_days: 1 },
    });
    expectError(response, 404, "NotFound");
  });
});

describe("UPD 400 for malformed requests (H14, X4)", () => {
  let id: string;
  beforeAll(async () => {
    id = await provisioned();
  });

  const cases: [string, Record<string, unknown>][] = [
    ["missing service_id", { parameters: { backup_retention_days: 1 } }],
    ["empty service_id", { service_id: "", parameters: { backup_retention_days: 1 } }],
    ["unknown service_id", { service_id: "no-such-service" }],
    ["service_id of another service than the instance's (X4)", { service_id: REDIS.service }],
    ["empty plan_id", { service_id: PG.service, plan_id: "" }],
    ["unknown plan_id", { service_id: PG.service, plan_id: "no-such-plan" }],
    ["plan of another service", { service_id: PG.service, plan_id: REDIS.small }],
    ["parameters not an object", { service_id: PG.service, parameters: "big" }],
    ["context not an object", { service_id: PG.service, context: [1] }],
  ];
  for (const [name, body] of cases) {
    it(`UPD 400 ${name}`, async () => {
      expectError(await patch(id, body), 400, "BadRequest");
      expect(updates(id)).toBe(0);
    });
  }

  it("UPD 400 for a body that is not a JSON object", async () => {
    for (const raw of ["{", "", "[]"]) {
      expectError(await osb.patch(instancePath(id), undefined, { ...ASYNC, raw }), 400, "BadRequest");
    }
  });

  it("UPD 400 H14 invalid parameters against the update schema: every violation named; nothing applied", async () => {
    const response = await patch(id, {
      service_id: PG.service,
      // db_name may only be set at provision; the others break the update schema's constraints.
      parameters: { db_name: "other", backup_retention_days: -1, extensions: ["nope"] },
    });
    expectError(response, 400, "BadRequest");
    expect(response.body.description).toContain("parameters.db_name");
    expect(response.body.description).toContain("parameters.backup_retention_days");
    expect(response.body.description).toContain("parameters.extensions[0]");
    expect(updates(id)).toBe(0);
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({});
  });
});

describe("UPD plans, inputs, context and maintenance_info", () => {
  it("UPD C6 a plan change is refused with 422 where plan_updateable is false (cache-large)", async () => {
    const id = await provisioned(provisionBody(REDIS.large));
    const response = await patch(id, { service_id: REDIS.service, plan_id: REDIS.small });
    expectError(response, 422, "UnprocessableEntity");
    expect(response.body.description).toContain("plan_updateable");
    expect(updates(id)).toBe(0);
    expect((await osb.get(instancePath(id))).body.plan_id).toBe(REDIS.large);
  });

  it("UPD C6 small → large runs a Cloudify deployment update to blueprint postgresql-v2", async () => {
    const id = await provisioned(provisionBody(PG.small, { parameters: { db_name: "orders" } }));
    const response = await patch(id, {
      service_id: PG.service,
      plan_id: PG.large,
      previous_values: { plan_id: PG.small },
    });
    expect(response.status).toBe(202);
    // A10: during a plan change the platform polls with the plan before the update.
    const polled = await osb.get(`${instancePath(id)}/last_operation`, {
      query: { service_id: PG.service, plan_id: PG.small, operation: response.body.operation },
    });
    expect(polled.status).toBe(200);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(updates(id)).toBe(1);
    const d = deployment(id);
    expect(d.blueprint_id).toBe("postgresql-v2");
    expect(d.inputs).toMatchObject({
      cpu: 4,
      memory_gb: 16,
      storage_gb: 200,
      high_availability: true,
      db_name: "orders",
      owner_labels: { "managed-by": "osb", tier: "large" },
    });
    const fetched = await osb.get(instancePath(id));
    expect(fetched.body.plan_id).toBe(PG.large);
    // The instance now runs the large plan's maintenance version.
    expect(fetched.body.maintenance_info).toEqual({ version: "2.1.0" });
  });

  it("UPD derived update schema (large ← postgresql-v2): pg_version moves to 17 in Cloudify; db_name is refused", async () => {
    const id = await provisioned(provisionBody(PG.large, { parameters: { db_name: "ledger" } }));
    const refused = await patch(id, {
      service_id: PG.service,
      parameters: { db_name: "other", pg_version: "14" },
    });
    expectError(refused, 400, "BadRequest");
    expect(refused.body.description).toContain("parameters.db_name");
    expect(refused.body.description).toContain("parameters.pg_version");
    expect(updates(id)).toBe(0);

    expect((await patch(id, { service_id: PG.service, parameters: { pg_version: "17" } })).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(deployment(id).inputs).toMatchObject({ pg_version: "17", db_name: "ledger", cpu: 4 });
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({
      db_name: "ledger",
      pg_version: "17",
    });
  });

  it("UPD 400 an update that would change an `updatable: false` input is refused naming it", async () => {
    // Large fixes owner_labels with updatable: false; moving to small would change them.
    const id = await provisioned(provisionBody(PG.large));
    const response = await patch(id, { service_id: PG.service, plan_id: PG.small });
    expectError(response, 400, "BadRequest");
    expect(response.body.description).toContain("owner_labels");
    expect(updates(id)).toBe(0);
    expect((await osb.get(instancePath(id))).body.plan_id).toBe(PG.large);
  });

  it("UPD context-only update (allow_context_updates): applied at once when no input depends on it", async () => {
    const id = await provisioned();
    const context = { ...provisionBody().context, space_name: "renamed-space" };
    const response = await patch(id, { service_id: PG.service, context }, { query: {} });
    expect(response.status).toBe(200);
    expect(updates(id)).toBe(0);
    // The new context is now the instance's: an identical PATCH has no effect.
    expect((await patch(id, { service_id: PG.service, context })).status).toBe(200);
    expect(updates(id)).toBe(0);
  });

  it("UPD context-only update that changes a deployment input (instance_name) updates Cloudify", async () => {
    const id = await provisioned();
    const context = { ...provisionBody().context, instance_name: "payments-db" };
    const response = await patch(id, { service_id: PG.service, context });
    expect(response.status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(deployment(id).inputs.instance_name).toBe("payments-db");
  });

  it("UPD 422 a context-only update where allow_context_updates is false (redis)", async () => {
    const id = await provisioned(provisionBody(REDIS.small));
    const context = { ...provisionBody().context, instance_name: "renamed-cache" };
    expectError(await patch(id, { service_id: REDIS.service, context }), 422, "UnprocessableEntity");
    expect(updates(id)).toBe(0);
    expect(deployment(id).inputs.instance_name).toBe("orders-db");
  });

  it("UPD 422 MaintenanceInfoConflict for a version the plan does not have; X5 {} is absent", async () => {
    const id = await provisioned();
    expectError(
      await patch(id, { service_id: PG.service, maintenance_info: { version: "9.9.9" } }),
      422,
      "MaintenanceInfoConflict",
    );
    const empty = await patch(id, {
      service_id: PG.service,
      maintenance_info: {},
      previous_values: { maintenance_info: {} },
    });
    expect(empty.status).toBe(200);
    const current = await patch(id, { service_id: PG.service, maintenance_info: { version: "1.0.0" } });
    expect(current.status).toBe(200);
    expect(updates(id)).toBe(0);
  });
});

describe("UPD failures in Cloudify", () => {
  it("UPD A6 an update failing in Cloudify is reported failed with Cloudify's words, instance_usable and update_repeatable", async () => {
    const id = await provisioned();
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "update",
      deploymentId: `osb-${id}`,
      message: "disk resize refused by the storage backend",
      times: 1,
    });
    const body = { service_id: PG.service, parameters: { backup_retention_days: 30 } };
    expect((await patch(id, body)).status).toBe(202);
    const last = await waitForInstanceOperation(osb, id);
    expect(last.body.state).toBe("failed");
    expect(last.body.description).toContain("disk resize refused by the storage backend");
    expect(last.body.instance_usable).toBe(true);
    expect(last.body.update_repeatable).toBe(true);
    // The instance keeps what it had (section 7: a failed update applies nothing).
    const fetched = await osb.get(instancePath(id));
    expect(fetched.status).toBe(200);
    expect(fetched.body.parameters).toEqual({});
    // update_repeatable: the identical update may be sent again, and now succeeds.
    expect((await patch(id, body)).status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body).toEqual({ state: "succeeded" });
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({ backup_retention_days: 30 });
  });

  it("UPD Cloudify unavailable (503 bursts) while updating: the update still succeeds", async () => {
    const id = await provisioned();
    emulator.faults.add({
      type: "http_error",
      status: 503,
      method: "POST",
      path: initiatePath(id),
      times: 2,
    });
    expect(
      (await patch(id, { service_id: PG.service, parameters: { backup_retention_days: 2 } })).status,
    ).toBe(202);
    const last = await waitForInstanceOperation(osb, id);
    expect(last.body).toEqual({ state: "succeeded" });
    expect(deployment(id).inputs.backup_retention_days).toBe(2);
  });
});
