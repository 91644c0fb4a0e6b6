/**
 * Workflow-mode bindings (postgresql `small`): every bind runs Cloudify's create_user on the
 * instance's deployment and every unbind its delete_user, so BIND and UNBIND are async-only.
 * Covers the BIND (section 9), GETB (10), UNBIND (11) and idempotency (12) tables, LOB (A5-A8,
 * X6, X7), rotation, halting a bind in flight and cleaning up after a failed one.
 * Real HTTP: test → broker → Cloudify emulator; every answer is checked against the OpenAPI
 * document by the validating client.
 */
import { describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { shortId } from "../src/broker/model/ids.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  databaseUsers,
  deploymentId,
  executionsOf,
  expectError,
  hold,
  holdExecutions,
  instancePath,
  lastBindingOperation,
  postExecutions,
  runtimeProperties,
  SYNC,
  unbindQuery,
  untilRequested,
  userExecutions,
  usernameOf,
  waitForBinding,
} from "./fixtures/bindings-helpers.js";
import {
  newId,
  PG,
  provisionBody,
  provisionInstance,
  useStack,
  type ValidatingOsbClient,
  waitFor,
  waitForInstanceOperation,
} from "./support/stack.js";

let osb: ValidatingOsbClient;
let emulator: EmulatorHandle;
/** A provisioned pg small instance shared by the tests that only need one (fresh binding ids each). */
let iid: string;

useStack(async (started) => {
  ({ osb, emulator } = started);
  iid = newId();
  await provisionInstance(osb, iid, provisionBody(PG.small));
});

const body = (extra: Record<string, unknown> = {}) => bindBody(PG.small, extra);
const bind = (bid: string, b: unknown = body(), options = ASYNC, instance = iid) =>
  osb.put(bindingPath(instance, bid), b, options);
const unbind = (bid: string, accepts = true, instance = iid) =>
  osb.delete(bindingPath(instance, bid), unbindQuery(PG.small, accepts));
const getb = (bid: string, instance = iid) => osb.get(bindingPath(instance, bid));

/** Binds and waits for LOB `succeeded`; returns the GETB body. */
async function bound(bid: string, b: unknown = body(), instance = iid) {
  const response = await bind(bid, b, ASYNC, instance);
  expect(response.status, JSON.stringify(response.body)).toBe(202);
  const last = await waitForBinding(osb, instance, bid);
  expect(last.body.state, JSON.stringify(last.body)).toBe("succeeded");
  const fetched = await getb(bid, instance);
  expect(fetched.status).toBe(200);
  return fetched.body;
}

/** A refused bind left nothing behind (H11): LOB 404, GETB 404, no Cloudify workflow for it. */
async function expectNoBinding(bid: string, instance = iid) {
  expect((await lastBindingOperation(osb, instance, bid)).status).toBe(404);
  expect((await getb(bid, instance)).status).toBe(404);
  expect(userExecutions(emulator, instance, "create_user", usernameOf(bid))).toHaveLength(0);
}

/** Starts a bind whose create_user cannot start yet (Cloudify answers 503 to new executions). */
async function bindInFlight(bid: string, b: unknown = body(), instance = iid) {
  const before = emulator.requests.count(postExecutions);
  const release = holdExecutions(emulator);
  const first = await bind(bid, b, ASYNC, instance);
  expect(first.status, JSON.stringify(first.body)).toBe(202);
  await untilRequested(emulator, postExecutions, before, "the create_user request");
  return { first, release };
}

describe("BIND workflow mode (pg small)", () => {
  it("BIND 202 A2 starts an async bind: body only operation, Retry-After; LOB succeeded; GETB 200 delivers the credentials (A11, GETB)", async () => {
    const bid = newId();
    const response = await bind(bid);
    expect(response.status).toBe(202);
    expect(Object.keys(response.body)).toEqual(["operation"]);
    expect(typeof response.body.operation).toBe("string");
    expect(response.body.operation.length).toBeGreaterThan(0);
    expect(response.body.operation.length).toBeLessThanOrEqual(10_000);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);

    const last = await waitForBinding(osb, iid, bid);
    expect(last.body.state).toBe("succeeded");
    const fetched = await getb(bid);
    expect(fetched.status).toBe(200);
    const username = usernameOf(bid);
    const user = databaseUsers(emulator, iid)[username];
    expect(user, "create_user made the binding's user").toBeDefined();
    const db = runtimeProperties(emulator, iid, "db");
    expect(fetched.body.credentials).toEqual({
      host: db.host,
      port: 5432,
      database: "app",
      username,
      password: user!.password,
      uri: `postgres://${username}:${encodeURIComponent(user!.password)}@${db.host}:5432/app`,
    });
    expect(fetched.body.credentials.password).not.toBe(db.admin_password);
    expect(fetched.body.endpoints).toEqual([{ host: db.host, ports: ["5432"], protocol: "tcp" }]);
    expect(fetched.body.parameters).toEqual({ privileges: "readwrite" });
    // Exactly one create_user, with the binding's identity and the schema default.
    const creates = userExecutions(emulator, iid, "create_user", username);
    expect(creates).toHaveLength(1);
    expect(creates[0]!.parameters).toMatchObject({ username, privileges: "readwrite" });
    expect(creates[0]!.status).toBe("terminated");
  });

  it("BIND credentials: the uri is the url-encoded form of the user's password and parses back to it", async () => {
    const bid = newId();
    const { credentials } = await bound(bid);
    const uri = new URL(credentials.uri);
    expect(uri.protocol).toBe("postgres:");
    expect(decodeURIComponent(uri.username)).toBe(credentials.username);
    expect(decodeURIComponent(uri.password)).toBe(credentials.password);
    expect(uri.hostname).toBe(credentials.host);
    expect(uri.port).toBe(String(credentials.port));
    expect(uri.pathname).toBe(`/${credentials.database}`);
  });

  it("BIND metadata: expires_at and renew_before from credential_lifetime (30 days, renew 7 days before)", async () => {
    const before = Date.now();
    const bid = newId();
    const fetched = await bound(bid);
    const after = Date.now();
    const { expires_at, renew_before } = fetched.metadata;
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
    expect(expires_at).toMatch(iso);
    expect(renew_before).toMatch(iso);
    const expires = Date.parse(expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 2_592_000_000);
    expect(expires).toBeLessThanOrEqual(after + 2_592_000_000);
    expect(expires - Date.parse(renew_before)).toBe(604_800_000);
    // GETB keeps answering the same metadata and credentials (password stable across GETB).
    const again = await getb(bid);
    expect(again.body).toEqual(fetched);
  });

  it("BIND binding parameters reach create_user (privileges readonly) and GETB returns them", async () => {
    const bid = newId();
    const fetched = await bound(bid, body({ parameters: { privileges: "readonly" } }));
    expect(fetched.parameters).toEqual({ privileges: "readonly" });
    const creates = userExecutions(emulator, iid, "create_user", usernameOf(bid));
    expect(creates).toHaveLength(1);
    expect(creates[0]!.parameters.privileges).toBe("readonly");
    expect(databaseUsers(emulator, iid)[usernameOf(bid)]!.privileges).toBe("readonly");
  });

  it("BIND each binding gets its own user and password", async () => {
    const a = newId();
    const b = newId();
    const first = await bound(a);
    const second = await bound(b);
    expect(first.credentials.username).not.toBe(second.credentials.username);
    expect(first.credentials.password).not.toBe(second.credentials.password);
  });

  it("BIND 422 AsyncRequired A2 without accepts_incomplete (absent or false); nothing created", async () => {
    for (const options of [SYNC, { query: { accepts_incomplete: "false" } }]) {
      const bid = newId();
      expectError(await bind(bid, body(), options), 422, "AsyncRequired");
      await expectNoBinding(bid);
    }
  });

  it("BIND 202 A5 an identical re-send while in flight answers 202 with the same operation; GETB 404 meanwhile; LOB in progress", async () => {
    const bid = newId();
    const { first, release } = await bindInFlight(bid);
    try {
      const again = await bind(bid);
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ operation: first.body.operation });
      expect(Number(again.headers.get("retry-after"))).toBeGreaterThan(0);
      // GETB 404 while the binding is being created (section 10).
      expectError(await getb(bid), 404, "NotFound");
      const last = await lastBindingOperation(osb, iid, bid);
      expect(last.body.state).toBe("in progress");
      expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(last.body).not.toHaveProperty("instance_usable");
    } finally {
      release();
    }
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(1);
  });

  it("BIND A2 an identical re-send without accepts_incomplete while in flight is 422 AsyncRequired, not 202", async () => {
    const bid = newId();
    const { release } = await bindInFlight(bid);
    try {
      expectError(await bind(bid, body(), SYNC), 422, "AsyncRequired");
    } finally {
      release();
    }
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
  });

  it("BIND 409 different parameters, bind_resource or app while the bind is in flight", async () => {
    const bid = newId();
    const { release } = await bindInFlight(bid);
    try {
      expectError(await bind(bid, body({ parameters: { privileges: "readonly" } })), 409, "Conflict");
      expectError(await bind(bid, body({ bind_resource: { app_guid: "app-guid-2" } })), 409, "Conflict");
      expectError(await bind(bid, body({ bind_resource: {} })), 409, "Conflict");
    } finally {
      release();
    }
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect((await getb(bid)).body.parameters).toEqual({ privileges: "readwrite" });
  });

  it("BIND 200 X8 an identical re-send of a completed binding: same credentials, with or without accepts_incomplete, no new workflow", async () => {
    const bid = newId();
    const fetched = await bound(bid);
    for (const options of [ASYNC, SYNC]) {
      const again = await bind(bid, body(), options);
      expect(again.status).toBe(200);
      expect(again.body.credentials).toEqual(fetched.credentials);
      expect(again.body.endpoints).toEqual(fetched.endpoints);
      expect(again.body.metadata).toEqual(fetched.metadata);
      expect(again.body).not.toHaveProperty("operation");
    }
    // The context is not part of "identical": platforms re-send it with renamed spaces.
    const renamed = await bind(bid, body({ context: { platform: "cloudfoundry", space_name: "renamed" } }));
    expect(renamed.status).toBe(200);
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(1);
  });

  it("BIND 409 on different parameters of a completed binding; nothing changes (H11)", async () => {
    const bid = newId();
    const fetched = await bound(bid);
    expectError(await bind(bid, body({ parameters: { privileges: "readonly" } })), 409, "Conflict");
    expectError(await bind(bid, body({ bind_resource: { app_guid: "app-guid-2" } })), 409, "Conflict");
    expect((await getb(bid)).body).toEqual(fetched);
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(1);
  });

  it("BIND 409 the same binding id on another instance", async () => {
    const bid = newId();
    await bound(bid);
    const other = newId();
    await provisionInstance(osb, other, provisionBody(PG.small));
    expectError(await bind(bid, body(), ASYNC, other), 409, "Conflict");
    expect(executionsOf(emulator, other, "create_user")).toHaveLength(0);
  });

  it("BIND 400 H14 invalid binding parameters: one answer listing every violation; nothing created", async () => {
    const bid = newId();
    const description = expectError(
      await bind(bid, body({ parameters: { privileges: "superuser", schema: "public", grant: true } })),
      400,
      "BadRequest",
    );
    expect(description).toContain("parameters.privileges");
    expect(description).toContain("parameters.schema");
    expect(description).toContain("parameters.grant");
    await expectNoBinding(bid);
  });

  it("BIND A4 binds are serialised per instance: a second bind while one is in flight is accepted and both complete, one create_user each", async () => {
    const a = newId();
    const b = newId();
    const { first, release } = await bindInFlight(a);
    let second: Awaited<ReturnType<typeof bind>>;
    try {
      second = await bind(b);
      expect(second.status).toBe(202);
      expect(second.body.operation).not.toBe(first.body.operation);
    } finally {
      release();
    }
    expect((await waitForBinding(osb, iid, a)).body.state).toBe("succeeded");
    expect((await waitForBinding(osb, iid, b)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "create_user", usernameOf(a))).toHaveLength(1);
    expect(userExecutions(emulator, iid, "create_user", usernameOf(b))).toHaveLength(1);
    const [ca, cb] = [(await getb(a)).body.credentials, (await getb(b)).body.credentials];
    expect(ca.username).not.toBe(cb.username);
    expect(databaseUsers(emulator, iid)[ca.username]!.password).toBe(ca.password);
    expect(databaseUsers(emulator, iid)[cb.username]!.password).toBe(cb.password);
  });

  it("BIND A4 concurrent identical binds start one create_user and share one operation", async () => {
    const bid = newId();
    const release = holdExecutions(emulator);
    let responses: Awaited<ReturnType<typeof bind>>[];
    try {
      responses = await Promise.all(Array.from({ length: 5 }, () => bind(bid)));
    } finally {
      release();
    }
    for (const response of responses) expect(response.status).toBe(202);
    expect(new Set(responses.map((r) => r.body.operation)).size).toBe(1);
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(1);
  });
});

describe("BIND refused by the instance's state", () => {
  it("BIND 404 on an unknown instance", async () => {
    const unknown = newId();
    const bid = newId();
    const description = expectError(await bind(bid, body(), ASYNC, unknown), 404, "NotFound");
    expect(description).toContain(unknown);
    expect((await lastBindingOperation(osb, unknown, bid)).status).toBe(404);
  });

  it("BIND 422 ConcurrencyError A4 while the instance is being updated; nothing created", async () => {
    const instance = newId();
    await provisionInstance(osb, instance, provisionBody(PG.small));
    const release = hold(emulator, "POST", `/api/v3.1/deployment-updates/${deploymentId(instance)}`);
    try {
      const update = await osb.patch(
        instancePath(instance),
        { service_id: PG.service, parameters: { backup_retention_days: 3 } },
        ASYNC,
      );
      expect(update.status, JSON.stringify(update.body)).toBe(202);
      const bid = newId();
      const description = expectError(await bind(bid, body(), ASYNC, instance), 422, "ConcurrencyError");
      expect(description).toContain("update");
      await expectNoBinding(bid, instance);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, instance)).body.state).toBe("succeeded");
    // Once the update is over, binding works.
    await bound(newId(), body(), instance);
  });

  it("UPD 422 ConcurrencyError A4 while a workflow bind runs on the instance; the update works afterwards", async () => {
    const instance = newId();
    await provisionInstance(osb, instance, provisionBody(PG.small));
    const bid = newId();
    const release = holdExecutions(emulator);
    let update: Awaited<ReturnType<typeof osb.patch>>;
    try {
      expect((await bind(bid, body(), ASYNC, instance)).status).toBe(202);
      update = await osb.patch(
        instancePath(instance),
        { service_id: PG.service, parameters: { backup_retention_days: 3 } },
        ASYNC,
      );
      expect(update.status, JSON.stringify(update.body)).toBe(422);
      expect(update.body.error).toBe("ConcurrencyError");
      expect(update.body.description).toContain("binding");
    } finally {
      release();
    }
    expect((await waitFor(() => osb.get(`${bindingPath(instance, bid)}/last_operation`))).body.state).toBe(
      "succeeded",
    );
    update = await osb.patch(
      instancePath(instance),
      { service_id: PG.service, parameters: { backup_retention_days: 3 } },
      ASYNC,
    );
    expect(update.status).toBe(202);
    expect((await waitForInstanceOperation(osb, instance)).body.state).toBe("succeeded");
  });

  it("BIND 422 ConcurrencyError A12 on an instance still being provisioned, with a description saying so", async () => {
    const instance = newId();
    const release = hold(emulator, "PUT", `/api/v3.1/deployments/${deploymentId(instance)}`);
    try {
      expect((await osb.put(instancePath(instance), provisionBody(PG.small), ASYNC)).status).toBe(202);
      const bid = newId();
      // Busy, not unprocessable: the platform may retry once the provision is over (A12).
      const description = expectError(await bind(bid, body(), ASYNC, instance), 422, "ConcurrencyError");
      expect(description).toMatch(/provision in progress/);
      await expectNoBinding(bid, instance);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, instance)).body.state).toBe("succeeded");
  });

  it("BIND 422 ConcurrencyError A12 on an instance being deprovisioned, with a description saying so", async () => {
    const instance = newId();
    await provisionInstance(osb, instance, provisionBody(PG.small));
    const release = holdExecutions(emulator);
    try {
      const deleting = await osb.delete(instancePath(instance), {
        query: { service_id: PG.service, plan_id: PG.small, accepts_incomplete: "true" },
      });
      expect(deleting.status).toBe(202);
      const bid = newId();
      const description = expectError(await bind(bid, body(), ASYNC, instance), 422, "ConcurrencyError");
      expect(description).toMatch(/deprovision in progress/);
      expect((await lastBindingOperation(osb, instance, bid)).status).toBe(404);
    } finally {
      release();
    }
    expect((await waitForInstanceOperation(osb, instance)).body.state).toBe("succeeded");
  });
});

describe("BIND 400 for malformed requests (H14, X4)", () => {
  const base = body();
  const cases: [string, unknown][] = [
    ["missing service_id", { ...base, service_id: undefined }],
    ["empty service_id", { ...base, service_id: "" }],
    ["missing plan_id", { ...base, plan_id: undefined }],
    ["empty plan_id", { ...base, plan_id: "" }],
    ["unknown service_id", { ...base, service_id: "no-such-service" }],
    ["unknown plan_id", { ...base, plan_id: "no-such-plan" }],
    ["plan that is not the instance's", { ...base, plan_id: PG.large }],
    ["parameters not an object", { ...base, parameters: ["readonly"] }],
    ["bind_resource not an object", { ...base, bind_resource: "app" }],
    ["empty bind_resource.app_guid", { ...base, bind_resource: { app_guid: "" } }],
    ["empty app_guid", { ...base, app_guid: "" }],
  ];
  for (const [name, b] of cases) {
    it(`BIND 400 ${name}`, async () => {
      const bid = newId();
      expectError(await bind(bid, b), 400, "BadRequest");
      await expectNoBinding(bid);
    });
  }

  it("BIND 400 body that is not a JSON object", async () => {
    for (const raw of ["{nope", "", "[]"]) {
      const bid = newId();
      expectError(await osb.put(bindingPath(iid, bid), undefined, { ...ASYNC, raw }), 400, "BadRequest");
      await expectNoBinding(bid);
    }
  });

  it("BIND H8 unknown fields are ignored", async () => {
    const bid = newId();
    await bound(bid, body({ vendor_extension: { anything: true } }));
  });
});

describe("UNBIND workflow mode", () => {
  it("UNBIND 202 runs delete_user for the binding's user; LOB succeeded; X7 LOB keeps answering succeeded; GETB 404; 410 afterwards", async () => {
    const bid = newId();
    const { credentials } = await bound(bid);
    const response = await unbind(bid);
    expect(response.status).toBe(202);
    expect(Object.keys(response.body)).toEqual(["operation"]);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    // X7: polled again after the unbind finished, still 200 succeeded (not 404/410).
    for (let i = 0; i < 3; i++) {
      const last = await lastBindingOperation(osb, iid, bid);
      expect(last.status).toBe(200);
      expect(last.body.state).toBe("succeeded");
    }
    const deletes = userExecutions(emulator, iid, "delete_user", credentials.username);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.status).toBe("terminated");
    expect(databaseUsers(emulator, iid)[credentials.username]).toBeUndefined();
    expectError(await getb(bid), 404, "NotFound");
    expectError(await unbind(bid), 410, "Gone");
    expectError(await unbind(bid, false), 410, "Gone");
  });

  it("UNBIND 410 for a binding the broker never saw (orphan mitigation), on known and unknown instances", async () => {
    expectError(await unbind(newId()), 410, "Gone");
    expectError(await unbind(newId(), false), 410, "Gone");
    expectError(await unbind(newId(), true, newId()), 410, "Gone");
  });

  it("UNBIND 410 for a binding id of another instance", async () => {
    const bid = newId();
    await bound(bid);
    const other = newId();
    expectError(await unbind(bid, true, other), 410, "Gone");
    expect((await getb(bid)).status).toBe(200);
  });

  it("UNBIND 422 AsyncRequired A2 without accepts_incomplete; the binding stays", async () => {
    const bid = newId();
    const fetched = await bound(bid);
    expectError(await unbind(bid, false), 422, "AsyncRequired");
    expect((await getb(bid)).body).toEqual(fetched);
    expect(userExecutions(emulator, iid, "delete_user", usernameOf(bid))).toHaveLength(0);
  });

  it("UNBIND 400 X4 missing or empty service_id / plan_id; the binding stays", async () => {
    const bid = newId();
    await bound(bid);
    for (const query of [
      { plan_id: PG.small, accepts_incomplete: "true" },
      { service_id: PG.service, accepts_incomplete: "true" },
      { service_id: "", plan_id: PG.small, accepts_incomplete: "true" },
      { service_id: PG.service, plan_id: "", accepts_incomplete: "true" },
    ]) {
      expectError(await osb.delete(bindingPath(iid, bid), { query }), 400, "BadRequest");
    }
    expect((await getb(bid)).status).toBe(200);
  });

  it("UNBIND 202 A5 a re-send while the unbind is in flight answers 202 with the same operation", async () => {
    const bid = newId();
    await bound(bid);
    const before = emulator.requests.count(postExecutions);
    const release = holdExecutions(emulator);
    try {
      const first = await unbind(bid);
      expect(first.status).toBe(202);
      await untilRequested(emulator, postExecutions, before, "the delete_user request");
      const again = await unbind(bid);
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ operation: first.body.operation });
      expect((await lastBindingOperation(osb, iid, bid)).body.state).toBe("in progress");
      // UNBIND in flight: a re-send without accepts_incomplete may not get a 202 (A2).
      expectError(await unbind(bid, false), 422, "AsyncRequired");
      // BIND while the binding is being deleted.
      expectError(await bind(bid), 422, "ConcurrencyError");
    } finally {
      release();
    }
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "delete_user", usernameOf(bid))).toHaveLength(1);
  });

  it("UNBIND of a binding still being created halts the bind: no create_user runs, LOB reports the unbind, GETB 404", async () => {
    const bid = newId();
    const { release } = await bindInFlight(bid);
    let operation: string;
    try {
      const response = await unbind(bid);
      expect(response.status).toBe(202);
      operation = response.body.operation;
      expect(typeof operation).toBe("string");
      // While the half-created binding is being removed it still has no binding data: GETB 404.
      expectError(await getb(bid), 404, "NotFound");
      expect((await lastBindingOperation(osb, iid, bid)).body.state).toBe("in progress");
      expect((await unbind(bid)).body).toEqual({ operation });
    } finally {
      release();
    }
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(0);
    expect(databaseUsers(emulator, iid)[usernameOf(bid)]).toBeUndefined();
    expectError(await getb(bid), 404, "NotFound");
    expectError(await unbind(bid), 410, "Gone");
  });

  it("UNBIND after a failed bind (create_user fails): LOB failed with Cloudify's reason, GETB 404, unbind cleans up", async () => {
    const bid = newId();
    const fault = emulator.faults.add({
      type: "fail_workflow",
      workflowId: "create_user",
      deploymentId: deploymentId(iid),
      message: "role limit reached",
      times: 1,
    });
    try {
      expect((await bind(bid)).status).toBe(202);
      const last = await waitForBinding(osb, iid, bid);
      expect(last.body.state).toBe("failed");
      expect(last.body.description).toContain("create_user");
      expect(last.body.description).toContain("role limit reached");
      expect(last.body).not.toHaveProperty("instance_usable");
    } finally {
      emulator.faults.remove(fault);
    }
    expectError(await getb(bid), 404, "NotFound");
    // The platform's orphan mitigation.
    const response = await unbind(bid);
    expect(response.status).toBe(202);
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "delete_user", usernameOf(bid))).toHaveLength(1);
    expectError(await unbind(bid), 410, "Gone");
  });

  it("UNBIND that fails (delete_user fails): LOB failed with the reason, the binding and its user stay usable, a later unbind succeeds", async () => {
    const bid = newId();
    const fetched = await bound(bid);
    const fault = emulator.faults.add({
      type: "fail_workflow",
      workflowId: "delete_user",
      deploymentId: deploymentId(iid),
      message: "user owns objects",
      times: 1,
    });
    try {
      expect((await unbind(bid)).status).toBe(202);
      const last = await waitForBinding(osb, iid, bid);
      expect(last.body.state).toBe("failed");
      expect(last.body.description).toContain("user owns objects");
    } finally {
      emulator.faults.remove(fault);
    }
    expect((await getb(bid)).body).toEqual(fetched);
    expect(databaseUsers(emulator, iid)[usernameOf(bid)]!.password).toBe(fetched.credentials.password);
    expect((await bind(bid)).status).toBe(200);
    expect((await unbind(bid)).status).toBe(202);
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(databaseUsers(emulator, iid)[usernameOf(bid)]).toBeUndefined();
    expect(userExecutions(emulator, iid, "delete_user", usernameOf(bid))).toHaveLength(2);
  });

  it("BIND after a failed bind: an identical request tries again and succeeds with a new create_user", async () => {
    const bid = newId();
    const fault = emulator.faults.add({
      type: "fail_workflow",
      workflowId: "create_user",
      deploymentId: deploymentId(iid),
      times: 1,
    });
    try {
      expect((await bind(bid)).status).toBe(202);
      expect((await waitForBinding(osb, iid, bid)).body.state).toBe("failed");
    } finally {
      emulator.faults.remove(fault);
    }
    const fetched = await bound(bid);
    const creates = userExecutions(emulator, iid, "create_user", usernameOf(bid));
    expect(creates.map((e) => e.status).sort()).toEqual(["failed", "terminated"]);
    expect(fetched.credentials.password).toBe(databaseUsers(emulator, iid)[usernameOf(bid)]!.password);
  });

  it("BIND the same binding id again after it was unbound: a fresh user is created and works", async () => {
    const bid = newId();
    await bound(bid);
    expect((await unbind(bid)).status).toBe(202);
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    const again = await bound(bid);
    const user = databaseUsers(emulator, iid)[usernameOf(bid)];
    expect(user).toBeDefined();
    expect(again.credentials.password).toBe(user!.password);
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(2);
  });

  it("BIND survives Cloudify dropping the create_user request and restarting: exactly one create_user, LOB succeeded", async () => {
    const bid = newId();
    emulator.faults.add({ type: "drop", method: "POST", path: "/api/v3.1/executions", times: 1 });
    expect((await bind(bid)).status).toBe(202);
    await emulator.restart({ downMs: 200 });
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    const creates = userExecutions(emulator, iid, "create_user", usernameOf(bid));
    expect(creates).toHaveLength(1);
    expect((await getb(bid)).body.credentials.password).toBe(
      databaseUsers(emulator, iid)[usernameOf(bid)]!.password,
    );
  });

  it("BIND two binding ids sharing their first 16 hex digits get distinct database users", async () => {
    const prefix = "aaaaaaaa-bbbb-4ccc-8ddd-";
    const first = `${prefix}${newId().slice(-12)}`;
    const second = `${prefix}${newId().slice(-12)}`;
    for (const bid of [first, second]) {
      expect((await osb.put(bindingPath(iid, bid), body(), ASYNC)).status).toBe(202);
      expect((await waitFor(() => osb.get(`${bindingPath(iid, bid)}/last_operation`))).body.state).toBe(
        "succeeded",
      );
    }
    const [a, b] = [(await getb(first)).body.credentials, (await getb(second)).body.credentials];
    expect(a.username).not.toBe(b.username);
    expect(a.password).not.toBe(b.password);
    // Unbinding one revokes only its own user.
    expect((await osb.delete(bindingPath(iid, first), unbindQuery(PG.small))).status).toBe(202);
    expect((await waitFor(() => osb.get(`${bindingPath(iid, first)}/last_operation`))).body.state).toBe(
      "succeeded",
    );
    expect(databaseUsers(emulator, iid)[a.username]).toBeUndefined();
    expect(databaseUsers(emulator, iid)[b.username]).toBeDefined();
  });

  it("BIND H9 a binding id with reserved and non-ASCII characters arrives percent-encoded and works end to end", async () => {
    const bid = `orders app/${newId()} ü`;
    const encoded = encodeURIComponent(bid);
    const path = bindingPath(iid, encoded);
    expect((await osb.put(path, body(), ASYNC)).status).toBe(202);
    expect((await waitFor(() => osb.get(`${path}/last_operation`))).body.state).toBe("succeeded");
    const fetched = await osb.get(path);
    expect(fetched.status).toBe(200);
    // Not a GUID: the user name comes from a hash of the decoded id, still a valid identifier.
    expect(fetched.body.credentials.username).toBe(`u_${shortId(bid)}`);
    expect(fetched.body.credentials.username).toMatch(/^u_[0-9a-f]{16}$/);
    expect(databaseUsers(emulator, iid)[fetched.body.credentials.username]).toBeDefined();
    expect((await osb.delete(path, unbindQuery(PG.small))).status).toBe(202);
    expect((await waitFor(() => osb.get(`${path}/last_operation`))).body.state).toBe("succeeded");
    expect(databaseUsers(emulator, iid)[fetched.body.credentials.username]).toBeUndefined();
  });

  it("LOB 404 for a binding the broker never saw", async () => {
    expectError(await lastBindingOperation(osb, iid, newId()), 404, "NotFound");
  });

  it("LOB X6 an operation query the broker does not know is only a hint", async () => {
    const bid = newId();
    expect((await bind(bid)).status).toBe(202);
    await waitForBinding(osb, iid, bid);
    const last = await osb.get(`${bindingPath(iid, bid)}/last_operation`, {
      query: { operation: "not-a-token" },
    });
    expect(last.status).toBe(200);
    expect(last.body.state).toBe("succeeded");
  });
});

describe("BIND rotation (binding_rotatable: true)", () => {
  it("BIND rotation: predecessor_binding_id alone makes a new binding with its own user and fresh password; the predecessor stays valid until unbound", async () => {
    const old = newId();
    const previous = await bound(old, body({ parameters: { privileges: "readonly" } }));
    const rotated = newId();
    const response = await bind(rotated, { predecessor_binding_id: old });
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    expect((await waitForBinding(osb, iid, rotated)).body.state).toBe("succeeded");
    const fresh = (await getb(rotated)).body;
    expect(fresh.credentials.username).toBe(usernameOf(rotated));
    expect(fresh.credentials.username).not.toBe(previous.credentials.username);
    expect(fresh.credentials.password).not.toBe(previous.credentials.password);
    // The rotation inherits the predecessor's request: parameters, app.
    expect(fresh.parameters).toEqual({ privileges: "readonly" });
    expect(userExecutions(emulator, iid, "create_user", usernameOf(rotated))[0]!.parameters.privileges).toBe(
      "readonly",
    );
    expect(Date.parse(fresh.metadata.expires_at)).toBeGreaterThanOrEqual(
      Date.parse(previous.metadata.expires_at),
    );
    // Both valid now.
    const users = databaseUsers(emulator, iid);
    expect(users[previous.credentials.username]!.password).toBe(previous.credentials.password);
    expect(users[fresh.credentials.username]!.password).toBe(fresh.credentials.password);
    expect((await getb(old)).body).toEqual(previous);
    // An identical rotation re-send is 200 with the same credentials.
    const again = await bind(rotated, { predecessor_binding_id: old });
    expect(again.status).toBe(200);
    expect(again.body.credentials).toEqual(fresh.credentials);
    // Unbinding the predecessor revokes only its user.
    expect((await unbind(old)).status).toBe(202);
    expect((await waitForBinding(osb, iid, old)).body.state).toBe("succeeded");
    expect(databaseUsers(emulator, iid)[previous.credentials.username]).toBeUndefined();
    expect(databaseUsers(emulator, iid)[fresh.credentials.username]!.password).toBe(
      fresh.credentials.password,
    );
    expect((await getb(rotated)).body.credentials).toEqual(fresh.credentials);
    // Section 12: the identical rotation request re-sent after the predecessor is gone is still 200.
    const late = await bind(rotated, { predecessor_binding_id: old });
    expect(late.status, JSON.stringify(late.body)).toBe(200);
    expect(late.body.credentials).toEqual(fresh.credentials);
    expect(userExecutions(emulator, iid, "create_user", usernameOf(rotated))).toHaveLength(1);
  });

  it("BIND rotation 400 when the predecessor is not a bound binding of this instance", async () => {
    const rotated = newId();
    expectError(await bind(rotated, { predecessor_binding_id: newId() }), 400, "BadRequest");
    await expectNoBinding(rotated);
    // A binding of another instance is not a predecessor here.
    const other = newId();
    await provisionInstance(osb, other, provisionBody(PG.small));
    const foreign = newId();
    await bound(foreign, body(), other);
    expectError(await bind(rotated, { predecessor_binding_id: foreign }), 400, "BadRequest");
    await expectNoBinding(rotated);
  });
});
