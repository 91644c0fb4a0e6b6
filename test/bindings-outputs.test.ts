/**
 * Outputs-mode bindings: credentials rendered synchronously from the deployment's outputs,
 * capabilities and Cloudify secrets (postgresql `large` with the `secret` helper; redis
 * `cache-small` with requires_app and syslog_drain_url; redis `cache-large`). Covers the BIND,
 * GETB, UNBIND and idempotency tables (sections 9-12) for synchronous bindings, RequiresApp,
 * rotation and refusals by the instance's state. Real HTTP: test → broker → Cloudify emulator,
 * every answer checked against the OpenAPI document.
 */
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  deploymentId,
  expectError,
  hold,
  holdExecutions,
  instancePath,
  lastBindingOperation,
  runtimeProperties,
  SYNC,
  unbindQuery,
  untilRequested,
} from "./fixtures/bindings-helpers.js";
import type { OsbResponse } from "./support/osb-client.js";
import {
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
/** Provisioned instances shared by tests that only need one: pg large, redis cache-small, redis cache-large. */
let pg: string;
let redis: string;
let redisLarge: string;

/** The CA certificate the shipped emulator catalogue stores as secret postgresql_ca_cert. */
let caCertificate: string;

useStack(async (started) => {
  ({ osb, emulator } = started);
  [pg, redis, redisLarge] = [newId(), newId(), newId()];
  await Promise.all([
    provisionInstance(osb, pg, provisionBody(PG.large)),
    provisionInstance(osb, redis, provisionBody(REDIS.small)),
    provisionInstance(osb, redisLarge, provisionBody(REDIS.large)),
  ]);
  const secret = await fetch(`${emulator.url}/api/v3.1/secrets/postgresql_ca_cert`, {
    headers: {
      Authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}`,
      Tenant: "default_tenant",
    },
  });
  caCertificate = ((await secret.json()) as { value: string }).value;
});

const bind = (
  iid: string,
  bid: string,
  planId: string,
  extra: Record<string, unknown> = {},
  options = SYNC,
) => osb.put(bindingPath(iid, bid), bindBody(planId, extra), options);
const getb = (iid: string, bid: string) => osb.get(bindingPath(iid, bid));
const unbind = (iid: string, bid: string, planId: string, accepts = false) =>
  osb.delete(bindingPath(iid, bid), unbindQuery(planId, accepts));

/** Nothing was stored for a refused bind (H11): GETB 404, LOB 404, UNBIND 410. */
async function expectNoBinding(iid: string, bid: string, planId: string) {
  expect((await getb(iid, bid)).status).toBe(404);
  expect((await lastBindingOperation(osb, iid, bid)).status).toBe(404);
  expect((await unbind(iid, bid, planId)).status).toBe(410);
}

function expectCreated(response: OsbResponse) {
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  expect(response.body).not.toHaveProperty("operation");
  return response.body;
}

describe("BIND outputs mode: postgresql large (outputs, capabilities, secret helper)", () => {
  it("BIND 201 synchronous bind: credentials from outputs, capabilities and the Cloudify secret; endpoints; no metadata", async () => {
    const bid = newId();
    const created = expectCreated(await bind(pg, bid, PG.large));
    const db = runtimeProperties(emulator, pg, "db");
    expect(created.credentials).toEqual({
      host: db.host,
      port: 5432,
      database: "app",
      username: "postgres",
      password: db.admin_password,
      uri: `postgres://postgres:${db.admin_password}@${db.host}:5432/app`,
      jdbc_url: `jdbc:postgresql://${db.host}:5432/app`,
      ca_certificate: caCertificate,
    });
    expect(caCertificate).toContain("BEGIN CERTIFICATE");
    // `ports: "{{outputs.port}}"` (a single value) is delivered as OSB's list of strings.
    expect(created.endpoints).toEqual([{ host: db.host, ports: ["5432"] }]);
    // No credential_lifetime on this plan: no metadata.
    expect(created).not.toHaveProperty("metadata");
    expect(created).not.toHaveProperty("syslog_drain_url");
    // Outputs mode runs no workflow.
    const workflows = emulator.state.executions(deploymentId(pg)).map((e) => e.workflow_id);
    expect(workflows).not.toContain("create_user");
  });

  it("BIND 201 A1 a synchronous plan ignores accepts_incomplete=true", async () => {
    const bid = newId();
    expectCreated(await bind(pg, bid, PG.large, {}, ASYNC));
    expect((await lastBindingOperation(osb, pg, bid)).body.state).toBe("succeeded");
  });

  it("BIND 200 X8 an identical re-send answers 200 with the same body, with or without accepts_incomplete", async () => {
    const bid = newId();
    const created = expectCreated(await bind(pg, bid, PG.large));
    for (const options of [SYNC, ASYNC]) {
      const again = await bind(pg, bid, PG.large, {}, options);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(created);
    }
  });

  it("BIND 409 the same binding id with different parameters, bind_resource or app; nothing changes", async () => {
    const bid = newId();
    const created = expectCreated(await bind(pg, bid, PG.large));
    expectError(await bind(pg, bid, PG.large, { parameters: { schema: "other" } }), 409, "Conflict");
    expectError(
      await bind(pg, bid, PG.large, { bind_resource: { app_guid: "app-guid-2" } }),
      409,
      "Conflict",
    );
    expectError(await bind(pg, bid, PG.large, { bind_resource: undefined }), 409, "Conflict");
    const fetched = await getb(pg, bid);
    expect(fetched.status).toBe(200);
    expect(fetched.body.credentials).toEqual(created.credentials);
  });

  it("GETB 200 returns what the bind returned, every time (binding data delivered at least once)", async () => {
    const bid = newId();
    const created = expectCreated(await bind(pg, bid, PG.large, { parameters: { note: "x" } }));
    for (let i = 0; i < 2; i++) {
      const fetched = await getb(pg, bid);
      expect(fetched.status).toBe(200);
      expect(fetched.body.credentials).toEqual(created.credentials);
      expect(fetched.body.endpoints).toEqual(created.endpoints);
      expect(fetched.body.parameters).toEqual({ note: "x" });
    }
  });

  it("GETB 404 for an unknown binding and for a binding of another instance", async () => {
    expectError(await getb(pg, newId()), 404, "NotFound");
    const bid = newId();
    expectCreated(await bind(pg, bid, PG.large));
    expectError(await getb(redis, bid), 404, "NotFound");
  });

  it("UNBIND 200 {} synchronously (with or without accepts_incomplete); then GETB 404 and UNBIND 410", async () => {
    for (const accepts of [false, true]) {
      const bid = newId();
      expectCreated(await bind(pg, bid, PG.large));
      const response = await unbind(pg, bid, PG.large, accepts);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({});
      expectError(await getb(pg, bid), 404, "NotFound");
      expectError(await unbind(pg, bid, PG.large, accepts), 410, "Gone");
    }
  });

  it("UNBIND 410 for a binding the broker never saw", async () => {
    expectError(await unbind(pg, newId(), PG.large), 410, "Gone");
    expectError(await unbind(newId(), newId(), PG.large), 410, "Gone");
  });

  it("UNBIND 400 X4 missing service_id or plan_id", async () => {
    const bid = newId();
    expectCreated(await bind(pg, bid, PG.large));
    expectError(await osb.delete(bindingPath(pg, bid), { query: { plan_id: PG.large } }), 400, "BadRequest");
    expectError(
      await osb.delete(bindingPath(pg, bid), { query: { service_id: PG.service } }),
      400,
      "BadRequest",
    );
    expect((await getb(pg, bid)).status).toBe(200);
  });

  it("BIND 400 missing service_id or plan_id; nothing stored", async () => {
    for (const field of ["service_id", "plan_id"]) {
      const bid = newId();
      expectError(await bind(pg, bid, PG.large, { [field]: undefined }), 400, "BadRequest");
      await expectNoBinding(pg, bid, PG.large);
    }
  });

  it("BIND A4 concurrent identical binds: exactly one 201, the others 200 with the same credentials", async () => {
    const bid = newId();
    const responses = await Promise.all(Array.from({ length: 5 }, () => bind(pg, bid, PG.large)));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(responses.map((r) => JSON.stringify(r.body.credentials))).size).toBe(1);
  });

  it("BIND 503 when Cloudify cannot be read: nothing stored; the platform's retry then succeeds", async () => {
    // A fresh instance: binds reuse what an earlier bind of the same instance revision read
    // (DeploymentReads), so the shared one might not read Cloudify at all.
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(PG.large));
    const bid = newId();
    const fault = emulator.faults.add({
      type: "http_error",
      status: 503,
      method: "GET",
      path: `/api/v3.1/deployments/${deploymentId(iid)}/outputs`,
      times: 1_000,
    });
    try {
      const response = await bind(iid, bid, PG.large);
      expect(response.status).toBe(503);
      expect(response.body.error).toBe("ServiceUnavailable");
      expect(response.body.description).toMatch(/Cloudify/);
      // When to try again, as every 503 says (found missing by test/reliability/outages.test.ts).
      expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    } finally {
      emulator.faults.remove(fault);
    }
    expect((await getb(iid, bid)).status).toBe(404);
    expect((await lastBindingOperation(osb, iid, bid)).status).toBe(404);
    expectCreated(await bind(iid, bid, PG.large));
  });
});

describe("BIND rotation in outputs mode", () => {
  it("BIND rotation (pg large): a new binding from predecessor_binding_id alone; the predecessor stays valid until unbound", async () => {
    const old = newId();
    const previous = expectCreated(await bind(pg, old, PG.large, { parameters: { note: "keep" } }));
    const rotated = newId();
    const response = await osb.put(bindingPath(pg, rotated), { predecessor_binding_id: old });
    const fresh = expectCreated(response);
    // Outputs mode can only hand out what the deployment has: the same admin credentials.
    expect(fresh.credentials).toEqual(previous.credentials);
    expect((await getb(pg, rotated)).body.parameters).toEqual({ note: "keep" });
    expect((await getb(pg, old)).status).toBe(200);
    // Identical rotation re-send: 200.
    expect((await osb.put(bindingPath(pg, rotated), { predecessor_binding_id: old })).status).toBe(200);
    expect((await unbind(pg, old, PG.large)).status).toBe(200);
    expect((await getb(pg, rotated)).status).toBe(200);
    // Section 12: the identical rotation request re-sent after the predecessor is gone is still 200.
    const late = await osb.put(bindingPath(pg, rotated), { predecessor_binding_id: old });
    expect(late.status, JSON.stringify(late.body)).toBe(200);
    expect(late.body.credentials).toEqual(fresh.credentials);
    // A new rotation from the unbound predecessor is refused.
    expectError(await osb.put(bindingPath(pg, newId()), { predecessor_binding_id: old }), 400, "BadRequest");
  });

  it("BIND rotation refused on a plan that is not binding_rotatable (redis cache-small); nothing stored", async () => {
    const old = newId();
    expectCreated(await bind(redis, old, REDIS.small));
    const rotated = newId();
    const response = await osb.put(bindingPath(redis, rotated), { predecessor_binding_id: old });
    expect(response.status).toBe(422);
    expect(response.body.description).toMatch(/binding_rotatable|rotation/);
    await expectNoBinding(redis, rotated, REDIS.small);
    expect((await getb(redis, old)).status).toBe(200);
  });
});

describe("BIND outputs mode: redis (requires_app, syslog_drain_url)", () => {
  it("BIND 201 cache-small: credentials from outputs and capabilities, syslog_drain_url rendered", async () => {
    const bid = newId();
    const created = expectCreated(await bind(redis, bid, REDIS.small));
    const cache = runtimeProperties(emulator, redis, "cache");
    expect(created.credentials).toEqual({
      host: cache.host,
      port: 6379,
      password: cache.password,
      uri: `rediss://:${cache.password}@${cache.host}:6379`,
    });
    expect(created.syslog_drain_url).toBe(`syslog-tls://logs.example.com:6514/${redis}`);
    expect(created).not.toHaveProperty("endpoints");
    expect(created).not.toHaveProperty("metadata");
    expect((await getb(redis, bid)).body.syslog_drain_url).toBe(created.syslog_drain_url);
  });

  it("BIND 422 RequiresApp H13 without an app_guid (no bind_resource, or bind_resource {} as osb-checker sends it); nothing stored", async () => {
    for (const extra of [{ bind_resource: undefined }, { bind_resource: {} }]) {
      const bid = newId();
      const response = await bind(redis, bid, REDIS.small, extra);
      expectError(response, 422, "RequiresApp");
      expect(response.body.description).toContain("app_guid");
      await expectNoBinding(redis, bid, REDIS.small);
    }
  });

  it("BIND 201 with the deprecated top-level app_guid instead of bind_resource.app_guid", async () => {
    const bid = newId();
    expectCreated(await bind(redis, bid, REDIS.small, { bind_resource: undefined, app_guid: "app-guid-1" }));
  });

  it("BIND 201 cache-large needs no app; no metadata", async () => {
    const bid = newId();
    const created = expectCreated(await bind(redisLarge, bid, REDIS.large, { bind_resource: {} }));
    const cache = runtimeProperties(emulator, redisLarge, "cache");
    expect(created.credentials).toEqual({
      host: cache.host,
      port: 6379,
      password: cache.password,
      uri: `rediss://:${cache.password}@${cache.host}:6379`,
    });
    expect(created.syslog_drain_url).toBe(`syslog-tls://logs.example.com:6514/${redisLarge}`);
    const again = await bind(redisLarge, bid, REDIS.large, { bind_resource: {} });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created);
  });

  it("BIND 400 a redis plan on a postgresql instance", async () => {
    const bid = newId();
    expectError(await bind(pg, bid, REDIS.small), 400, "BadRequest");
    await expectNoBinding(pg, bid, PG.large);
  });
});

describe("BIND refused by the instance's state (outputs mode)", () => {
  it("BIND 404 on an unknown instance", async () => {
    const iid = newId();
    expectError(await bind(iid, newId(), REDIS.small), 404, "NotFound");
  });

  it("BIND 422 ConcurrencyError A4 while the instance is being updated; nothing stored; binds work again afterwards", async () => {
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(REDIS.small));
    const release = hold(emulator, "POST", `/api/v3.1/deployment-updates/${deploymentId(iid)}`);
    const bid = newId();
    try {
      const update = await osb.patch(
        instancePath(iid),
        { service_id: REDIS.service, parameters: { tls: false } },
        ASYNC,
      );
      expect(update.status, JSON.stringify(update.body)).toBe(202);
      expectError(await bind(iid, bid, REDIS.small), 422, "ConcurrencyError");
      expect((await getb(iid, bid)).status).toBe(404);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
    // The update switched TLS off: the credentials reflect the deployment as it is now.
    const created = expectCreated(await bind(iid, bid, REDIS.small));
    expect(created.credentials.uri).toMatch(/^redis:\/\//);
  });

  it("BIND 422 ConcurrencyError A12 on an instance still being provisioned: the description says so", async () => {
    const iid = newId();
    const release = hold(emulator, "PUT", `/api/v3.1/deployments/${deploymentId(iid)}`);
    const bid = newId();
    try {
      expect((await osb.put(instancePath(iid), provisionBody(REDIS.small), ASYNC)).status).toBe(202);
      // Busy, not unprocessable: the platform may retry once the provision is over (A12).
      const description = expectError(await bind(iid, bid, REDIS.small), 422, "ConcurrencyError");
      expect(description).toMatch(/provision in progress/);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
    expect((await getb(iid, bid)).status).toBe(404);
  });

  it("BIND 422 ConcurrencyError A12 on an instance being deprovisioned: the description says so", async () => {
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(REDIS.small));
    const release = holdExecutions(emulator);
    const bid = newId();
    try {
      const deleting = await osb.delete(instancePath(iid), {
        query: { service_id: REDIS.service, plan_id: REDIS.small, accepts_incomplete: "true" },
      });
      expect(deleting.status).toBe(202);
      const description = expectError(await bind(iid, bid, REDIS.small), 422, "ConcurrencyError");
      expect(description).toMatch(/deprovision in progress/);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
    expect((await lastBindingOperation(osb, iid, bid)).status).toBe(404);
  });

  it("BIND 404 on a deprovisioned instance; GETB 404 for its bindings (no stale credentials); UNBIND still cleans up", async () => {
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(REDIS.large));
    const bid = newId();
    expectCreated(await bind(iid, bid, REDIS.large));
    const deleting = await osb.delete(instancePath(iid), {
      query: { service_id: REDIS.service, plan_id: REDIS.large, accepts_incomplete: "true" },
    });
    expect(deleting.status).toBe(202);
    expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
    expectError(await bind(iid, newId(), REDIS.large), 404, "NotFound");
    expectError(await bind(iid, bid, REDIS.large), 404, "NotFound");
    expectError(await getb(iid, bid), 404, "NotFound");
    // The platform's (late) unbind is answered, and then the binding is gone.
    expect((await unbind(iid, bid, REDIS.large)).status).toBe(200);
    expectError(await unbind(iid, bid, REDIS.large), 410, "Gone");
  });
});

describe("8.2 the synchronous bind reads Cloudify outside the instance's lock", () => {
  /** Holds the manager's answer to the next read of the deployment's outputs until released. */
  function holdOutputs(iid: string): () => void {
    const id = emulator.faults.add({
      type: "hold",
      method: "GET",
      path: `/api/v3.1/deployments/${deploymentId(iid)}/outputs`,
      times: 1,
    });
    return () => {
      emulator.faults.remove(id);
    };
  }
  const outputsRead = (iid: string) => ({
    method: "GET",
    path: `/api/v3.1/deployments/${deploymentId(iid)}/outputs`,
  });

  it("BIND while another bind's reads are held by a slow manager: answered 201 first; the slow one then 201 too", async () => {
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(REDIS.small));
    const release = holdOutputs(iid);
    const before = emulator.requests.count(outputsRead(iid));
    let settled = false;
    const slow = bind(iid, newId(), REDIS.small).finally(() => {
      settled = true;
    });
    try {
      await untilRequested(emulator, outputsRead(iid), before, "the slow bind's outputs read");
      // Ordering, not timing: this bind is decided and committed while the first one waits.
      const quick = await bind(iid, newId(), REDIS.small);
      expect(quick.status, JSON.stringify(quick.body)).toBe(201);
      expect(settled).toBe(false);
      // So are a fetch and the instance's last operation.
      expect((await osb.get(instancePath(iid))).status).toBe(200);
      expect(settled).toBe(false);
    } finally {
      release();
    }
    const answer = await slow;
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.credentials.host).toBeDefined();
  });

  it("UPD accepted while a bind's reads are held; the bind then finds the instance busy at commit: 422 ConcurrencyError A12, nothing stored", async () => {
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(REDIS.small));
    const release = holdOutputs(iid);
    const holdUpdate = hold(emulator, "POST", `/api/v3.1/deployment-updates/${deploymentId(iid)}`);
    const before = emulator.requests.count(outputsRead(iid));
    const bid = newId();
    let settled = false;
    const slow = bind(iid, bid, REDIS.small).finally(() => {
      settled = true;
    });
    try {
      await untilRequested(emulator, outputsRead(iid), before, "the slow bind's outputs read");
      const update = await osb.patch(
        instancePath(iid),
        { service_id: REDIS.service, parameters: { tls: false } },
        ASYNC,
      );
      expect(update.status, JSON.stringify(update.body)).toBe(202);
      expect(settled).toBe(false);
      release();
      expectError(await slow, 422, "ConcurrencyError");
      await expectNoBinding(iid, bid, REDIS.small);
    } finally {
      release();
      holdUpdate();
    }
    expect((await waitForInstanceOperation(osb, iid)).body.state).toBe("succeeded");
  });
});
