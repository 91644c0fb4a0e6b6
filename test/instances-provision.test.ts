/**
 * Provision (OSB section 5), idempotency of PUT (section 12), request validation (H11, H14, X4,
 * X5), AsyncRequired (A2), MaintenanceInfoConflict (H13), blueprint-derived schemas and the
 * labels on deployments. Real HTTP: test → broker → Cloudify emulator. Every answer is checked
 * against schema/osb-openapi.yaml by the validating client.
 */
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import type { OsbResponse } from "./support/osb-client.js";
import type { ValidatingOsbClient } from "./support/stack.js";
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
  useStack,
  waitForInstanceOperation,
} from "./support/stack.js";

let stack: Stack;
let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;

useStack((started) => ({ stack, osb, emulator } = started));

function put(id: string, body: unknown, options: Parameters<ValidatingOsbClient["put"]>[2] = ASYNC) {
  return osb.put(instancePath(id), body, options);
}
function lastOperation(id: string, operation?: string) {
  return osb.get(`${instancePath(id)}/last_operation`, { query: { operation } });
}

/**
 * Keeps the instance's provision in progress: Cloudify answers 503 to the creation of its
 * deployment until released, so the broker keeps retrying (deterministic, no timing).
 */
function holdCreate(id: string): () => void {
  return hold(emulator, "PUT", deploymentPath(id));
}

/** The broker has tried (and been refused) at least once, so its operation is really under way. */
async function untilCreateAttempted(id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (emulator.requests.count({ method: "PUT", path: deploymentPath(id) }) === 0) {
    if (Date.now() > deadline) throw new Error(`the broker never tried to create deployment osb-${id}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A refused request changed nothing (H11): no instance, no Cloudify deployment. */
async function expectNothingCreated(id: string): Promise<void> {
  const last = await lastOperation(id);
  expect(last.status).toBe(404);
  expect(emulator.requests.count({ path: deploymentPath(id) })).toBe(0);
  expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
}

function expectError(response: OsbResponse, status: number, error: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.body.error).toBe(error);
  expect(typeof response.body.description).toBe("string");
  expect(response.body.description.length).toBeGreaterThan(0);
  // instance_usable / update_repeatable only on update and deprovision errors (H12).
  expect(response.body).not.toHaveProperty("instance_usable");
  expect(response.body).not.toHaveProperty("update_repeatable");
}

describe("PROV status table", () => {
  it("PROV 202 A2 starts an async provision: operation, dashboard_url in the first response, Retry-After", async () => {
    const id = newId();
    const response = await put(id, provisionBody());
    expect(response.status).toBe(202);
    expect(typeof response.body.operation).toBe("string");
    expect(response.body.operation.length).toBeGreaterThan(0);
    expect(response.body.operation.length).toBeLessThanOrEqual(10_000);
    expect(response.body.dashboard_url).toBe(`https://dashboard.example.com/postgresql/${id}`);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);

    const last = await waitForInstanceOperation(osb, id);
    expect(last.body.state).toBe("succeeded");
    // A11: GETI works at once after a succeeded provision, with the same dashboard URL.
    const fetched = await osb.get(instancePath(id));
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({
      service_id: PG.service,
      plan_id: PG.small,
      dashboard_url: `https://dashboard.example.com/postgresql/${id}`,
      maintenance_info: { version: "1.0.0" },
    });
  });

  it("PROV 201 never: an async-only plan answers 422 AsyncRequired without accepts_incomplete (A2, X10)", async () => {
    for (const query of [{}, { accepts_incomplete: "false" }]) {
      const id = newId();
      const response = await put(id, provisionBody(), { query });
      expectError(response, 422, "AsyncRequired");
      await expectNothingCreated(id);
    }
  });

  it("PROV 202 A5 §12 in progress + identical: 202 with the same operation, never 200", async () => {
    const id = newId();
    const release = holdCreate(id);
    try {
      const first = await put(id, provisionBody());
      expect(first.status).toBe(202);
      await untilCreateAttempted(id);
      const again = await put(id, provisionBody());
      expect(again.status).toBe(202);
      expect(again.body.operation).toBe(first.body.operation);
      expect(again.body.dashboard_url).toBe(first.body.dashboard_url);
      expect(Number(again.headers.get("retry-after"))).toBeGreaterThan(0);
      const last = await lastOperation(id);
      expect(last.body.state).toBe("in progress");
      expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
  });

  it("PROV A2 an identical re-send without accepts_incomplete while in progress is 422 AsyncRequired, not 202", async () => {
    const id = newId();
    const release = holdCreate(id);
    try {
      expect((await put(id, provisionBody())).status).toBe(202);
      await untilCreateAttempted(id);
      expectError(await put(id, provisionBody(), { query: {} }), 422, "AsyncRequired");
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
  });

  it("PROV 200 X8 §12 done + identical: 200, with or without accepts_incomplete", async () => {
    const id = newId();
    await provisionInstance(osb, id);
    const puts = emulator.requests.count({ method: "PUT", path: deploymentPath(id) });
    for (const options of [ASYNC, { query: {} }]) {
      const again = await put(id, provisionBody(), options);
      expect(again.status).toBe(200);
      expect(again.body.dashboard_url).toBe(`https://dashboard.example.com/postgresql/${id}`);
      expect(again.body).not.toHaveProperty("operation");
    }
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(puts);
  });

  it("PROV 409 §12 done + different attributes (plan, parameters, org, space, context)", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody(PG.small, { parameters: { db_name: "orders" } }));
    const base = provisionBody(PG.small, { parameters: { db_name: "orders" } });
    const variants = [
      { ...base, plan_id: PG.large },
      { ...base, parameters: { db_name: "other" } },
      { ...base, space_guid: "space-guid-2" },
      { ...base, organization_guid: "org-guid-2" },
      { ...base, context: { ...base.context, instance_name: "renamed" } },
    ];
    for (const body of variants) expectError(await put(id, body), 409, "Conflict");
    // Nothing changed (H11).
    const fetched = await osb.get(instancePath(id));
    expect(fetched.body).toMatchObject({ plan_id: PG.small, parameters: { db_name: "orders" } });
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
  });

  it("PROV 409 §12 in progress + different attributes", async () => {
    const id = newId();
    const release = holdCreate(id);
    try {
      const first = await put(id, provisionBody());
      expect(first.status).toBe(202);
      expectError(await put(id, provisionBody(PG.large)), 409, "Conflict");
      expectError(await put(id, provisionBody(PG.small, { parameters: { db_name: "x" } })), 409, "Conflict");
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({});
  });

  it("PROV 422 MaintenanceInfoConflict when maintenance_info.version differs from the plan's (H13)", async () => {
    const id = newId();
    const response = await put(id, provisionBody(PG.small, { maintenance_info: { version: "0.9.0" } }));
    expectError(response, 422, "MaintenanceInfoConflict");
    expect(response.body.description).toContain("1.0.0");
    await expectNothingCreated(id);
    // A plan without maintenance_info refuses any version.
    const other = newId();
    expectError(
      await put(other, provisionBody(REDIS.large, { maintenance_info: { version: "1.0.0" } })),
      422,
      "MaintenanceInfoConflict",
    );
    await expectNothingCreated(other);
  });

  it("PROV X5 maintenance_info {} counts as absent; the plan's own version is accepted", async () => {
    const empty = newId();
    expect((await put(empty, provisionBody(PG.small, { maintenance_info: {} }))).status).toBe(202);
    const matching = newId();
    expect(
      (await put(matching, provisionBody(PG.small, { maintenance_info: { version: "1.0.0" } }))).status,
    ).toBe(202);
    expect((await waitForInstanceOperation(osb, empty)).body.state).toBe("succeeded");
    expect((await waitForInstanceOperation(osb, matching)).body.state).toBe("succeeded");
  });
});

describe("PROV 400 for malformed requests (H11, H14, X4)", () => {
  const base = provisionBody();
  const cases: [string, unknown][] = [
    ["missing service_id", { ...base, service_id: undefined }],
    ["empty service_id", { ...base, service_id: "" }],
    ["missing plan_id", { ...base, plan_id: undefined }],
    ["empty plan_id", { ...base, plan_id: "" }],
    ["missing organization_guid", { ...base, organization_guid: undefined }],
    ["empty organization_guid", { ...base, organization_guid: "" }],
    ["missing space_guid", { ...base, space_guid: undefined }],
    ["empty space_guid", { ...base, space_guid: "" }],
    ["non-string service_id", { ...base, service_id: 42 }],
    ["unknown service_id", { ...base, service_id: "no-such-service" }],
    ["unknown plan_id", { ...base, plan_id: "no-such-plan" }],
    ["plan of another service", { ...base, plan_id: REDIS.small }],
    ["parameters not an object", { ...base, parameters: ["db_name"] }],
    ["context not an object", { ...base, context: "cloudfoundry" }],
    ["maintenance_info.version not a string", { ...base, maintenance_info: { version: 1 } }],
  ];
  for (const [name, body] of cases) {
    it(`PROV 400 ${name}`, async () => {
      const id = newId();
      expectError(await put(id, body), 400, "BadRequest");
      await expectNothingCreated(id);
    });
  }

  for (const [name, raw] of [
    ["body that is not JSON", "{not json"],
    ["empty body", ""],
    ["JSON array body", "[]"],
    ["JSON null body", "null"],
  ] as const) {
    it(`PROV 400 ${name}`, async () => {
      const id = newId();
      expectError(await osb.put(instancePath(id), undefined, { ...ASYNC, raw }), 400, "BadRequest");
      await expectNothingCreated(id);
    });
  }

  it("PROV 400 for accepts_incomplete that is neither true nor false", async () => {
    const id = newId();
    expectError(await put(id, provisionBody(), { query: { accepts_incomplete: "yes" } }), 400, "BadRequest");
    await expectNothingCreated(id);
  });

  it("PROV H8 unknown fields are ignored", async () => {
    const id = newId();
    const response = await put(id, { ...provisionBody(), vendor_extension: { anything: true } });
    expect(response.status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
  });

  it("PROV 400 H14 invalid parameters: one answer listing every violation", async () => {
    const id = newId();
    const response = await put(
      id,
      provisionBody(PG.small, {
        parameters: {
          db_name: "Not A Name",
          backup_retention_days: 99,
          extensions: ["postgis", "timescaledb"],
          replicas: 3,
        },
      }),
    );
    expectError(response, 400, "BadRequest");
    const description: string = response.body.description;
    expect(description).toContain("parameters.db_name");
    expect(description).toContain("parameters.backup_retention_days");
    expect(description).toContain("parameters.extensions[1]");
    expect(description).toContain("parameters.replicas");
    await expectNothingCreated(id);
  });
});

describe("PROV behaviour", () => {
  it("PROV A4 concurrent identical PUTs create one deployment (one PUT /deployments at Cloudify)", async () => {
    const id = newId();
    const responses = await Promise.all(Array.from({ length: 6 }, () => put(id, provisionBody())));
    for (const response of responses) expect(response.status).toBe(202);
    expect(new Set(responses.map((r) => r.body.operation)).size).toBe(1);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
    const installs = emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === "install");
    expect(installs).toHaveLength(1);
  });

  it("PROV A4 a different operation on an instance being provisioned gets 422 ConcurrencyError", async () => {
    const id = newId();
    const release = holdCreate(id);
    try {
      expect((await put(id, provisionBody())).status).toBe(202);
      const patch = await osb.patch(
        instancePath(id),
        { service_id: PG.service, parameters: { backup_retention_days: 3 } },
        ASYNC,
      );
      expectError(patch, 422, "ConcurrencyError");
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect((await osb.get(instancePath(id))).body.parameters).toEqual({});
  });

  it("PROV deployments carry the osb labels and the rendered inputs", async () => {
    const id = newId();
    await provisionInstance(
      osb,
      id,
      provisionBody(PG.small, { parameters: { db_name: "orders", extensions: ["postgis"] } }),
    );
    const deployment = emulator.state.deployment(`osb-${id}`) as {
      labels: { key: string; value: string }[];
      inputs: Record<string, unknown>;
      blueprint_id: string;
    };
    const labels = Object.fromEntries(deployment.labels.map((l) => [l.key, l.value]));
    expect(labels).toMatchObject({
      "osb-broker": "cloudify-osb-broker",
      "osb-instance-id": id,
      "osb-service-id": PG.service,
      "osb-plan-id": PG.small,
      "osb-platform": "cloudfoundry",
      "osb-organization-guid": "org-guid-1",
      "osb-space-guid": "space-guid-1",
    });
    expect(deployment.blueprint_id).toBe("postgresql");
    expect(deployment.inputs).toMatchObject({
      instance_name: "orders-db",
      db_name: "orders",
      extensions: ["postgis"],
      pg_version: "16",
      cpu: 1,
      memory_gb: 2,
      backup_retention_days: 7,
    });
  });

  it("PROV GETI 404 while the provision is in progress (GETI table), 200 once it succeeded (A11)", async () => {
    const id = newId();
    const release = holdCreate(id);
    try {
      expect((await put(id, provisionBody())).status).toBe(202);
      const fetched = await osb.get(instancePath(id));
      expect(fetched.status).toBe(404);
      expect(fetched.body.error).toBe("NotFound");
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect((await osb.get(instancePath(id))).status).toBe(200);
  });
});

describe("GETI and H9", () => {
  it("GETI 404 for an unknown instance", async () => {
    expectError(await osb.get(instancePath(newId())), 404, "NotFound");
  });

  it("PROV H9 an instance id with reserved characters is decoded, kept exactly, and never yields a malformed dashboard_url", async () => {
    const raw = `odd id é/ 1?x=y#z% ${newId()}`;
    const id = encodeURIComponent(raw);
    const response = await put(id, provisionBody());
    expect(response.status).toBe(202);
    // The validating client rejects a dashboard_url that is not a URI; the example template
    // url-encodes the id, so even this one yields a valid URL naming the instance.
    expect(response.body.dashboard_url).toBe(
      `https://dashboard.example.com/postgresql/${encodeURIComponent(raw)}`,
    );
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
    expect((await osb.get(instancePath(id))).body.plan_id).toBe(PG.small);
    const deployments = emulator.requests
      .list()
      .filter((r) => r.method === "PUT" && r.path.startsWith("/api/v3.1/deployments/osbh-odd_id"));
    expect(deployments).toHaveLength(1);
    const deployment = emulator.state.deployment(deployments[0]!.path.split("/").at(-1)!) as {
      labels: { key: string; value: string }[];
    };
    expect(deployment.labels.find((l) => l.key === "osb-instance-id")?.value).toBe(raw);
    const deleted = await osb.delete(instancePath(id), {
      query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" },
    });
    expect(deleted.status).toBe(202);
    expect((await waitForInstanceOperation(osb, id)).body.state).toBe("succeeded");
  });
});

describe("PROV blueprint-derived parameter schemas (plan large ← blueprint postgresql-v2)", () => {
  /** Derived schemas arrive once the blueprint's inputs were read from Cloudify (bounded wait). */
  async function largePlanSchemas() {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const catalog = await osb.get("/v2/catalog");
      const plan = catalog.body.services
        .find((s: { id: string }) => s.id === PG.service)
        .plans.find((p: { id: string }) => p.id === PG.large);
      if (plan.schemas) return plan.schemas;
      if (Date.now() > deadline) throw new Error("the large plan never got its derived schemas");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it("CAT C4 the large plan's schemas are derived from postgresql-v2: types, defaults, constraints, fixed inputs left out", async () => {
    const schemas = await largePlanSchemas();
    const create = schemas.service_instance.create.parameters;
    expect(create.$schema).toBe("http://json-schema.org/draft-04/schema#");
    expect(create.type).toBe("object");
    expect(create.additionalProperties).toBe(false);
    // Inputs the plan fixes (and hidden inputs) are not offered.
    expect(Object.keys(create.properties).sort()).toEqual(["db_name", "extensions", "pg_version"]);
    expect(create.properties.pg_version).toMatchObject({
      type: "string",
      default: "16",
      enum: ["15", "16", "17"],
    });
    expect(create.properties.db_name).toMatchObject({
      type: "string",
      default: "app",
      pattern: "^[a-z_][a-z0-9_]*$",
      maxLength: 63,
    });
    expect(create.properties.extensions).toMatchObject({ type: "array", default: [] });
    expect(create.required).toBeUndefined();
    const update = schemas.service_instance.update.parameters;
    expect(Object.keys(update.properties).sort()).toEqual(["extensions", "pg_version"]);
  });

  it("PROV 400 parameters violating the derived schema, every violation named", async () => {
    await largePlanSchemas();
    const id = newId();
    const response = await put(
      id,
      provisionBody(PG.large, { parameters: { pg_version: "14", db_name: "Bad-Name", cpu: 64 } }),
    );
    expectError(response, 400, "BadRequest");
    expect(response.body.description).toContain("parameters.pg_version");
    expect(response.body.description).toContain("parameters.db_name");
    // cpu is fixed by the plan, so users may not set it.
    expect(response.body.description).toContain("parameters.cpu");
    await expectNothingCreated(id);
  });

  it("PROV valid derived parameters reach the deployment; the plan's fixed inputs win", async () => {
    await largePlanSchemas();
    const id = newId();
    await provisionInstance(
      osb,
      id,
      provisionBody(PG.large, { parameters: { pg_version: "17", db_name: "ledger" } }),
    );
    const deployment = emulator.state.deployment(`osb-${id}`) as {
      inputs: Record<string, unknown>;
      blueprint_id: string;
    };
    expect(deployment.blueprint_id).toBe("postgresql-v2");
    expect(deployment.inputs).toMatchObject({
      pg_version: "17",
      db_name: "ledger",
      cpu: 4,
      memory_gb: 16,
      storage_gb: 200,
      high_availability: true,
      owner_labels: { "managed-by": "osb", tier: "large" },
    });
    const fetched = await osb.get(instancePath(id));
    expect(fetched.body).toMatchObject({
      plan_id: PG.large,
      parameters: { pg_version: "17", db_name: "ledger" },
      maintenance_info: { version: "2.1.0" },
    });
  });
});
