/**
 * What the official conformance checker (osb-checker, Go suite, API 2.14) demands, walked
 * against the real broker and the Cloudify emulator (docs/CONTRACT.md section 16, X1-X10), plus
 * the checker's whole sequence: catalog → provision (async) → poll → bind → fetch binding →
 * unbind → poll → deprovision → poll, with the bodies the checker sends (`context` with a
 * platform, `"maintenance_info": {}`, `"bind_resource": {}`). One `it` per rule or step. Every
 * answer also goes through the validating client (schema/osb-openapi.yaml, X9 content type).
 */
import { describe, expect, it } from "vitest";
import type { OsbResponse, RequestOptions } from "./support/osb-client.js";
import {
  ASYNC,
  instancePath,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  useStack,
  ValidatingOsbClient,
  waitFor,
} from "./support/stack.js";

let stack: Stack;
let osb: ValidatingOsbClient;
/** The checker's own client: it announces API 2.14 (X2). */
let checker: ValidatingOsbClient;

useStack((started) => {
  ({ stack, osb } = started);
  checker = new ValidatingOsbClient(
    stack.broker.url,
    stack.env.BROKER_USERNAME!,
    stack.env.BROKER_PASSWORD!,
    "2.14",
  );
});

const bindingPath = (instanceId: string, bindingId: string) =>
  `${instancePath(instanceId)}/service_bindings/${bindingId}`;

/** The query osb-checker puts on DEPROV/UNBIND and on its polls. */
function hints(serviceId: string, planId: string, extra: Record<string, string> = {}): RequestOptions {
  return { query: { service_id: serviceId, plan_id: planId, ...extra } };
}

/** A provision body as osb-checker builds it: deprecated guids, a platform context, empty maintenance_info. */
function checkerProvisionBody(serviceId: string, planId: string, parameters?: Record<string, unknown>) {
  return {
    service_id: serviceId,
    plan_id: planId,
    organization_guid: "org-checker",
    space_guid: "space-checker",
    context: { platform: "cloudfoundry", organization_guid: "org-checker", space_guid: "space-checker" },
    maintenance_info: {},
    ...(parameters ? { parameters } : {}),
  };
}

/** A bind body as osb-checker builds it: context with a platform and an empty bind_resource. */
function checkerBindBody(serviceId: string, planId: string, extra: Record<string, unknown> = {}) {
  return {
    service_id: serviceId,
    plan_id: planId,
    context: { platform: "cloudfoundry", organization_guid: "org-checker", space_guid: "space-checker" },
    bind_resource: {},
    ...extra,
  };
}

/** X9: a 2xx is application/json with a JSON object body (`{}` when there is nothing to say). */
function expectJson(response: OsbResponse, status: number): Record<string, unknown> {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(typeof response.body, "body must be a JSON object").toBe("object");
  expect(response.body).not.toBeNull();
  expect(Array.isArray(response.body)).toBe(false);
  return response.body as Record<string, unknown>;
}

function expectError(response: OsbResponse, status: number, error?: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  if (error) expect(response.body?.error).toBe(error);
}

/** Polls a last_operation endpoint (with the checker's query) until it leaves `in progress`. */
function poll(client: ValidatingOsbClient, path: string, options: RequestOptions): Promise<OsbResponse> {
  return waitFor(() => client.get(`${path}/last_operation`, options));
}

/** A provisioned PG small instance (workflow bindings: bind and unbind are asynchronous). */
async function provisionedPg(): Promise<string> {
  const id = newId();
  await provisionInstance(osb, id, provisionBody(PG.small));
  return id;
}

/** A bound PG small binding on `instanceId`, made through the checker's async bind. */
async function boundPg(instanceId: string): Promise<string> {
  const bindingId = newId();
  const bind = await osb.put(
    bindingPath(instanceId, bindingId),
    checkerBindBody(PG.service, PG.small),
    ASYNC,
  );
  expect(bind.status, JSON.stringify(bind.body)).toBe(202);
  const last = await poll(osb, bindingPath(instanceId, bindingId), hints(PG.service, PG.small));
  expect(last.body).toMatchObject({ state: "succeeded" });
  return bindingId;
}

describe("osb-checker sequence (API 2.14): catalog → provision → poll → bind → get → unbind → deprovision → poll", () => {
  const instanceId = newId();
  const bindingId = newId();

  it("CAT the catalog lists the offering and plan the checker then provisions", async () => {
    const body = expectJson(await checker.get("/v2/catalog"), 200);
    const services = body.services as Array<{ id: string; bindable: boolean; plans: Array<{ id: string }> }>;
    const pg = services.find((s) => s.id === PG.service);
    expect(pg?.bindable).toBe(true);
    expect(pg?.plans.map((p) => p.id)).toContain(PG.small);
  });

  it("PROV async: 202 with an operation, the checker's body (maintenance_info {}, platform context) accepted", async () => {
    const response = await checker.put(
      instancePath(instanceId),
      checkerProvisionBody(PG.service, PG.small, { db_name: "checker" }),
      ASYNC,
    );
    const body = expectJson(response, 202);
    expect(typeof body.operation).toBe("string");
    expect(body.operation).not.toBe("");
  });

  it("LOI polled with operation=provision until succeeded; GETI answers at once", async () => {
    const last = await poll(
      checker,
      instancePath(instanceId),
      hints(PG.service, PG.small, { operation: "provision" }),
    );
    expect(expectJson(last, 200)).toMatchObject({ state: "succeeded" });
    const fetched = expectJson(await checker.get(instancePath(instanceId), hints(PG.service, PG.small)), 200);
    expect(fetched).toMatchObject({
      service_id: PG.service,
      plan_id: PG.small,
      parameters: { db_name: "checker" },
    });
  });

  it("BIND async with bind_resource {}: 202, LOB (no operation) polled until succeeded", async () => {
    const bind = await checker.put(
      bindingPath(instanceId, bindingId),
      checkerBindBody(PG.service, PG.small, { parameters: { privileges: "readonly" } }),
      ASYNC,
    );
    const body = expectJson(bind, 202);
    expect(body).not.toHaveProperty("credentials");
    const last = await poll(checker, bindingPath(instanceId, bindingId), hints(PG.service, PG.small));
    expect(expectJson(last, 200)).toMatchObject({ state: "succeeded" });
  });

  it("GETB delivers the credentials of the async binding", async () => {
    const body = expectJson(
      await checker.get(bindingPath(instanceId, bindingId), hints(PG.service, PG.small)),
      200,
    );
    const credentials = body.credentials as Record<string, unknown>;
    expect(credentials.database).toBe("checker");
    expect(typeof credentials.password).toBe("string");
    expect(credentials.password).not.toBe("");
    expect(body.parameters).toEqual({ privileges: "readonly" });
  });

  it("UNBIND async: 202, LOB polled until succeeded", async () => {
    const unbind = await checker.delete(
      bindingPath(instanceId, bindingId),
      hints(PG.service, PG.small, { accepts_incomplete: "true" }),
    );
    expectJson(unbind, 202);
    const last = await poll(checker, bindingPath(instanceId, bindingId), hints(PG.service, PG.small));
    expect(expectJson(last, 200)).toMatchObject({ state: "succeeded" });
    expectError(await checker.get(bindingPath(instanceId, bindingId)), 404, "NotFound");
  });

  it("DEPROV async: 202, LOI polled with operation=deprovision until succeeded; the instance is gone", async () => {
    const deprovision = await checker.delete(
      instancePath(instanceId),
      hints(PG.service, PG.small, { accepts_incomplete: "true" }),
    );
    expectJson(deprovision, 202);
    const last = await poll(
      checker,
      instancePath(instanceId),
      hints(PG.service, PG.small, { operation: "deprovision" }),
    );
    expect(expectJson(last, 200)).toMatchObject({ state: "succeeded" });
    expectError(await checker.get(instancePath(instanceId)), 404, "NotFound");
    expectError(
      await checker.delete(
        instancePath(instanceId),
        hints(PG.service, PG.small, { accepts_incomplete: "true" }),
      ),
      410,
      "Gone",
    );
  });
});

describe("osb-checker rules X1-X10", () => {
  it("X1 a missing or empty X-Broker-API-Version answers 412 on every endpoint and changes nothing", async () => {
    const id = newId();
    for (const version of [undefined, ""]) {
      const headers = { "X-Broker-API-Version": version };
      expectError(await osb.get("/v2/catalog", { headers }), 412, "PreconditionFailed");
      expectError(
        await osb.put(instancePath(id), provisionBody(PG.small), { ...ASYNC, headers }),
        412,
        "PreconditionFailed",
      );
      expectError(
        await osb.get(`${instancePath(id)}/last_operation`, { headers }),
        412,
        "PreconditionFailed",
      );
    }
    // The refused provisions left no instance behind (H11).
    expectError(await osb.get(`${instancePath(id)}/last_operation`), 404, "NotFound");
  });

  it("X2 API versions 2.13 and 2.14 are served: catalog, provision and its polling", async () => {
    for (const version of ["2.13", "2.14"]) {
      const client = new ValidatingOsbClient(
        stack.broker.url,
        stack.env.BROKER_USERNAME!,
        stack.env.BROKER_PASSWORD!,
        version,
      );
      expectJson(await client.get("/v2/catalog"), 200);
      const id = newId();
      expectJson(
        await client.put(instancePath(id), checkerProvisionBody(REDIS.service, REDIS.small), ASYNC),
        202,
      );
      const last = await poll(
        client,
        instancePath(id),
        hints(REDIS.service, REDIS.small, { operation: "provision" }),
      );
      expect(expectJson(last, 200), version).toMatchObject({ state: "succeeded" });
    }
  });

  it("X3 the 401 and 412 probes (empty bodies, no query) are answered before any validation, on every endpoint", async () => {
    const iid = newId();
    const bid = newId();
    const probes: Array<[string, string]> = [
      ["GET", "/v2/catalog"],
      ["PUT", instancePath(iid)],
      ["PATCH", instancePath(iid)],
      ["GET", instancePath(iid)],
      ["DELETE", instancePath(iid)],
      ["GET", `${instancePath(iid)}/last_operation`],
      ["PUT", bindingPath(iid, bid)],
      ["GET", bindingPath(iid, bid)],
      ["DELETE", bindingPath(iid, bid)],
      ["GET", `${bindingPath(iid, bid)}/last_operation`],
    ];
    for (const [method, path] of probes) {
      const body = method === "PUT" || method === "PATCH" ? "" : undefined;
      const noVersion = await osb.request(method, path, undefined, {
        raw: body,
        headers: { "X-Broker-API-Version": "" },
      });
      expectError(noVersion, 412, "PreconditionFailed");
      const noAuth = await osb.request(method, path, undefined, {
        raw: body,
        headers: { Authorization: undefined },
      });
      expectError(noAuth, 401, "Unauthorized");
      const wrongAuth = await osb.request(method, path, undefined, {
        raw: body,
        headers: { Authorization: `Basic ${Buffer.from("platform:wrong").toString("base64")}` },
      });
      expectError(wrongAuth, 401, "Unauthorized");
    }
  });

  it("X4 PROV: empty service_id, plan_id, organization_guid or space_guid and unknown ids answer 400", async () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ["service_id empty", { service_id: "" }],
      ["plan_id empty", { plan_id: "" }],
      ["organization_guid empty", { organization_guid: "" }],
      ["space_guid empty", { space_guid: "" }],
      ["service_id unknown", { service_id: newId() }],
      ["plan_id unknown", { plan_id: newId() }],
      ["plan_id of another service", { plan_id: REDIS.small }],
    ];
    for (const [name, override] of cases) {
      const id = newId();
      const response = await osb.put(
        instancePath(id),
        { ...checkerProvisionBody(PG.service, PG.small), ...override },
        ASYNC,
      );
      expect(response.status, name).toBe(400);
      expect(response.body?.error, name).toBe("BadRequest");
      expectError(await osb.get(`${instancePath(id)}/last_operation`), 404, "NotFound");
    }
  });

  it("X4 UPD: empty or unknown ids and another service's service_id answer 400; BIND: empty or unknown ids 400", async () => {
    const id = await provisionedPg();
    const updates: Array<[string, Record<string, unknown>]> = [
      ["service_id empty", { service_id: "", plan_id: PG.small }],
      ["plan_id empty", { service_id: PG.service, plan_id: "" }],
      ["service_id unknown", { service_id: newId(), plan_id: PG.small }],
      ["plan_id unknown", { service_id: PG.service, plan_id: newId() }],
      ["service_id of another service", { service_id: REDIS.service, plan_id: REDIS.small }],
      ["service_id of another service, own plan", { service_id: REDIS.service, plan_id: PG.small }],
    ];
    for (const [name, body] of updates) {
      const response = await osb.patch(instancePath(id), { ...body, maintenance_info: {} }, ASYNC);
      expect(response.status, `UPD ${name}: ${JSON.stringify(response.body)}`).toBe(400);
    }
    const binds: Array<[string, Record<string, unknown>]> = [
      ["service_id empty", { service_id: "" }],
      ["plan_id empty", { plan_id: "" }],
      ["service_id unknown", { service_id: newId() }],
      ["plan_id unknown", { plan_id: newId() }],
    ];
    for (const [name, override] of binds) {
      const bindingId = newId();
      const response = await osb.put(
        bindingPath(id, bindingId),
        { ...checkerBindBody(PG.service, PG.small), ...override },
        ASYNC,
      );
      expect(response.status, `BIND ${name}: ${JSON.stringify(response.body)}`).toBe(400);
      expectError(await osb.get(`${bindingPath(id, bindingId)}/last_operation`), 404, "NotFound");
    }
    // Nothing of that changed the instance (H11).
    const fetched = expectJson(await osb.get(instancePath(id)), 200);
    expect(fetched).toMatchObject({ service_id: PG.service, plan_id: PG.small });
  });

  it("X4 DEPROV and UNBIND: `?service_id=` and `?plan_id=` (empty) answer 400 and delete nothing", async () => {
    const id = await provisionedPg();
    const bindingId = await boundPg(id);
    for (const query of [
      { service_id: "", plan_id: PG.small },
      { service_id: PG.service, plan_id: "" },
      { service_id: "", plan_id: "" },
    ]) {
      const unbind = await osb.delete(bindingPath(id, bindingId), {
        query: { ...query, accepts_incomplete: "true" },
      });
      expectError(unbind, 400, "BadRequest");
      const deprovision = await osb.delete(instancePath(id), {
        query: { ...query, accepts_incomplete: "true" },
      });
      expectError(deprovision, 400, "BadRequest");
    }
    expectJson(await osb.get(bindingPath(id, bindingId)), 200);
    expectJson(await osb.get(instancePath(id)), 200);
  });

  it("X5 maintenance_info {} (PROV, UPD, previous_values) counts as absent, never as a MaintenanceInfoConflict", async () => {
    const id = newId();
    // REDIS small has maintenance_info 1.0.0: an empty object must not be compared with it.
    expectJson(await osb.put(instancePath(id), checkerProvisionBody(REDIS.service, REDIS.small), ASYNC), 202);
    const last = await poll(
      osb,
      instancePath(id),
      hints(REDIS.service, REDIS.small, { operation: "provision" }),
    );
    expect(last.body).toMatchObject({ state: "succeeded" });
    // An identical re-send without maintenance_info is the same request (200, not 409).
    const { maintenance_info: _, ...withoutInfo } = checkerProvisionBody(REDIS.service, REDIS.small);
    expectJson(await osb.put(instancePath(id), withoutInfo, ASYNC), 200);

    const update = await osb.patch(
      instancePath(id),
      {
        service_id: REDIS.service,
        plan_id: REDIS.small,
        parameters: { tls: false },
        context: { platform: "cloudfoundry", organization_guid: "org-checker", space_guid: "space-checker" },
        maintenance_info: {},
        previous_values: { plan_id: REDIS.small, service_id: REDIS.service, maintenance_info: {} },
      },
      ASYNC,
    );
    expect(update.status, JSON.stringify(update.body)).toBe(202);
    const updated = await poll(
      osb,
      instancePath(id),
      hints(REDIS.service, REDIS.small, { operation: "update" }),
    );
    expect(updated.body).toMatchObject({ state: "succeeded" });
    // The instance keeps its plan's maintenance version: {} asked for no upgrade.
    const fetched = expectJson(await osb.get(instancePath(id)), 200);
    expect(fetched.maintenance_info).toEqual({ version: "1.0.0" });
    expect(fetched.parameters).toEqual({ tls: false });
  });

  it("X5 bind_resource {} counts as absent: no app for RequiresApp, and the same request as one without it", async () => {
    // REDIS small binds only to applications: {} carries no app_guid.
    const redis = newId();
    await provisionInstance(osb, redis, provisionBody(REDIS.small));
    const refused = await osb.put(
      bindingPath(redis, newId()),
      checkerBindBody(REDIS.service, REDIS.small),
      ASYNC,
    );
    expectError(refused, 422, "RequiresApp");

    // PG large binds synchronously (outputs): bind with {}, then re-send without it → identical.
    const pg = newId();
    await provisionInstance(osb, pg, provisionBody(PG.large));
    const bindingId = newId();
    const created = expectJson(
      await osb.put(bindingPath(pg, bindingId), checkerBindBody(PG.service, PG.large), ASYNC),
      201,
    );
    const { bind_resource: _, ...withoutResource } = checkerBindBody(PG.service, PG.large);
    const again = await osb.put(bindingPath(pg, bindingId), withoutResource, ASYNC);
    expect(expectJson(again, 200)).toEqual(created);
    // And the other way round: created without bind_resource, re-sent with {}.
    const other = newId();
    expectJson(await osb.put(bindingPath(pg, other), withoutResource, ASYNC), 201);
    expectJson(await osb.put(bindingPath(pg, other), checkerBindBody(PG.service, PG.large), ASYNC), 200);
  });

  it("X6 LOI takes the literal operation=provision|update|deprovision; LOB is polled without operation", async () => {
    const id = newId();
    expectJson(await osb.put(instancePath(id), checkerProvisionBody(PG.service, PG.small), ASYNC), 202);
    const provisioned = await poll(
      osb,
      instancePath(id),
      hints(PG.service, PG.small, { operation: "provision" }),
    );
    expect(expectJson(provisioned, 200)).toMatchObject({ state: "succeeded" });

    const update = await osb.patch(
      instancePath(id),
      {
        service_id: PG.service,
        plan_id: PG.small,
        parameters: { backup_retention_days: 14 },
        maintenance_info: {},
      },
      ASYNC,
    );
    expect(update.status, JSON.stringify(update.body)).toBe(202);
    const updated = await poll(osb, instancePath(id), hints(PG.service, PG.small, { operation: "update" }));
    expect(expectJson(updated, 200)).toMatchObject({ state: "succeeded" });

    // LOB: service_id and plan_id only, never an operation.
    const bindingId = newId();
    expectJson(await osb.put(bindingPath(id, bindingId), checkerBindBody(PG.service, PG.small), ASYNC), 202);
    const bound = await poll(osb, bindingPath(id, bindingId), hints(PG.service, PG.small));
    expect(expectJson(bound, 200)).toMatchObject({ state: "succeeded" });
    expectJson(
      await osb.delete(
        bindingPath(id, bindingId),
        hints(PG.service, PG.small, { accepts_incomplete: "true" }),
      ),
      202,
    );
    const unbound = await poll(osb, bindingPath(id, bindingId), hints(PG.service, PG.small));
    expect(expectJson(unbound, 200)).toMatchObject({ state: "succeeded" });

    expectJson(
      await osb.delete(instancePath(id), hints(PG.service, PG.small, { accepts_incomplete: "true" })),
      202,
    );
    const deprovisioned = await poll(
      osb,
      instancePath(id),
      hints(PG.service, PG.small, { operation: "deprovision" }),
    );
    expect(expectJson(deprovisioned, 200)).toMatchObject({ state: "succeeded" });
  });

  it("X7 after an async UNBIND and DEPROV finished, LOB and LOI polled 3 more times answer 200 succeeded", async () => {
    const id = await provisionedPg();
    const bindingId = await boundPg(id);
    expectJson(
      await osb.delete(
        bindingPath(id, bindingId),
        hints(PG.service, PG.small, { accepts_incomplete: "true" }),
      ),
      202,
    );
    const unbound = await poll(osb, bindingPath(id, bindingId), hints(PG.service, PG.small));
    expect(unbound.body).toMatchObject({ state: "succeeded" });
    for (let i = 0; i < 3; i++) {
      const again = await osb.get(
        `${bindingPath(id, bindingId)}/last_operation`,
        hints(PG.service, PG.small),
      );
      expect(expectJson(again, 200), `LOB poll ${i + 1}`).toMatchObject({ state: "succeeded" });
    }

    expectJson(
      await osb.delete(instancePath(id), hints(PG.service, PG.small, { accepts_incomplete: "true" })),
      202,
    );
    const gone = await poll(osb, instancePath(id), hints(PG.service, PG.small, { operation: "deprovision" }));
    expect(gone.body).toMatchObject({ state: "succeeded" });
    for (let i = 0; i < 3; i++) {
      const again = await osb.get(
        `${instancePath(id)}/last_operation`,
        hints(PG.service, PG.small, { operation: "deprovision" }),
      );
      expect(expectJson(again, 200), `LOI poll ${i + 1}`).toMatchObject({ state: "succeeded" });
    }
  });

  it("X8 an identical re-PUT of a completed instance or binding answers 200, with or without accepts_incomplete", async () => {
    const id = newId();
    const body = checkerProvisionBody(PG.service, PG.small, { db_name: "again" });
    expectJson(await osb.put(instancePath(id), body, ASYNC), 202);
    const last = await poll(osb, instancePath(id), hints(PG.service, PG.small, { operation: "provision" }));
    expect(last.body).toMatchObject({ state: "succeeded" });
    const first = expectJson(await osb.put(instancePath(id), body, ASYNC), 200);
    expect(first).not.toHaveProperty("operation");
    expectJson(await osb.put(instancePath(id), body), 200);

    const bindingId = newId();
    const bindBody = checkerBindBody(PG.service, PG.small);
    expectJson(await osb.put(bindingPath(id, bindingId), bindBody, ASYNC), 202);
    const bound = await poll(osb, bindingPath(id, bindingId), hints(PG.service, PG.small));
    expect(bound.body).toMatchObject({ state: "succeeded" });
    const again = expectJson(await osb.put(bindingPath(id, bindingId), bindBody, ASYNC), 200);
    expect(again).not.toHaveProperty("operation");
    expect(again.credentials).toEqual(expectJson(await osb.get(bindingPath(id, bindingId)), 200).credentials);
    expectJson(await osb.put(bindingPath(id, bindingId), bindBody), 200);
  });

  it("X9 every 2xx is application/json with a JSON body, {} when empty (sync bind 201, unbind 200, no-op update 200)", async () => {
    const id = newId();
    await provisionInstance(osb, id, provisionBody(REDIS.large));
    const catalog = await osb.get("/v2/catalog");
    expectJson(catalog, 200);
    expectJson(await osb.get(instancePath(id)), 200);
    expectJson(await osb.get(`${instancePath(id)}/last_operation`), 200);

    // An update that changes nothing answers 200 with a JSON body.
    const noop = await osb.patch(
      instancePath(id),
      { service_id: REDIS.service, plan_id: REDIS.large, maintenance_info: {} },
      ASYNC,
    );
    expect(expectJson(noop, 200)).toEqual({});

    const bindingId = newId();
    const bind = expectJson(
      await osb.put(bindingPath(id, bindingId), checkerBindBody(REDIS.service, REDIS.large)),
      201,
    );
    expect(bind.credentials).toBeTypeOf("object");
    expectJson(await osb.get(bindingPath(id, bindingId)), 200);
    expectJson(await osb.get(`${bindingPath(id, bindingId)}/last_operation`), 200);
    const unbind = await osb.delete(bindingPath(id, bindingId), hints(REDIS.service, REDIS.large));
    expect(expectJson(unbind, 200)).toEqual({});
  });

  it("X10 async-only operations answer 422 AsyncRequired without accepts_incomplete=true and change nothing", async () => {
    const id = newId();
    const body = checkerProvisionBody(PG.service, PG.small);
    for (const query of [undefined, { accepts_incomplete: "false" }]) {
      expectError(await osb.put(instancePath(id), body, { query }), 422, "AsyncRequired");
    }
    expectError(await osb.get(`${instancePath(id)}/last_operation`), 404, "NotFound");
    expectJson(await osb.put(instancePath(id), body, ASYNC), 202);
    const last = await poll(osb, instancePath(id), hints(PG.service, PG.small, { operation: "provision" }));
    expect(last.body).toMatchObject({ state: "succeeded" });

    // Update that needs Cloudify, workflow bind, workflow unbind, deprovision: all async-only.
    const change = { service_id: PG.service, plan_id: PG.small, parameters: { backup_retention_days: 3 } };
    expectError(await osb.patch(instancePath(id), change), 422, "AsyncRequired");
    const bindingId = newId();
    expectError(
      await osb.put(bindingPath(id, bindingId), checkerBindBody(PG.service, PG.small)),
      422,
      "AsyncRequired",
    );
    expectError(await osb.get(`${bindingPath(id, bindingId)}/last_operation`), 404, "NotFound");
    expectJson(await osb.put(bindingPath(id, bindingId), checkerBindBody(PG.service, PG.small), ASYNC), 202);
    const bound = await poll(osb, bindingPath(id, bindingId), hints(PG.service, PG.small));
    expect(bound.body).toMatchObject({ state: "succeeded" });
    expectError(
      await osb.delete(bindingPath(id, bindingId), hints(PG.service, PG.small)),
      422,
      "AsyncRequired",
    );
    expectJson(await osb.get(bindingPath(id, bindingId)), 200);
    expectError(await osb.delete(instancePath(id), hints(PG.service, PG.small)), 422, "AsyncRequired");
    const fetched = expectJson(await osb.get(instancePath(id)), 200);
    expect(fetched.parameters).toEqual({});
  });
});
