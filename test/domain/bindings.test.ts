import { beforeEach, describe, expect, it } from "vitest";
import type { BindRequest } from "../../src/broker/bindings/binding-service.js";
import { BINDINGS, INSTANCES } from "../../src/broker/model/records.js";
import { PG, REDIS } from "../support/catalog-ids.js";
import { Domain, expectFailure, failureOf } from "../support/domain.js";
import { transient } from "../support/fake-cloudify.js";

/**
 * BindingService decision tables (docs/CONTRACT.md sections 9-12) and the workflow-mode bind
 * and unbind steps, against the in-memory store and the fake Cloudify port. The example's pg
 * small plan binds through Cloudify workflows (create_user / delete_user); redis cache-small
 * binds synchronously from the deployment's outputs and requires an app.
 */

let d: Domain;
beforeEach(async () => {
  d = (await Domain.create()).withUserWorkflows();
});

const redisBind = (overrides: Partial<BindRequest> = {}): BindRequest => ({
  instanceId: "r1",
  bindingId: "b1",
  serviceId: REDIS.service,
  planId: REDIS.small,
  bindResource: { app_guid: "app-1" },
  acceptsIncomplete: false,
  ...overrides,
});

const pgBind = (overrides: Partial<BindRequest> = {}): BindRequest => ({
  instanceId: "i1",
  bindingId: "b1",
  serviceId: PG.service,
  planId: PG.small,
  parameters: { privileges: "readonly" },
  acceptsIncomplete: true,
  ...overrides,
});

const redisInstance = () =>
  d.provisioned("r1", { serviceId: REDIS.service, planId: REDIS.small, parameters: {} });

describe("synchronous bind (outputs mode)", () => {
  it("A1 201 with credentials from the deployment's outputs and capabilities", async () => {
    await redisInstance();
    const outcome = await d.bindings.bind(redisBind());
    expect(outcome).toMatchObject({
      kind: "created",
      binding: {
        result: {
          credentials: { host: "10.0.0.7", port: 5432, password: "cache-pw" },
          syslog_drain_url: "syslog-tls://logs.example.com:6514/r1",
        },
      },
    });
    expect(d.bindings.fetch("r1", "b1").result.credentials).toMatchObject({ password: "cache-pw" });
  });

  it("§12 done + identical: 200 with the same credentials; different parameters or app: Conflict", async () => {
    await redisInstance();
    const created = await d.bindings.bind(redisBind());
    const again = await d.bindings.bind(redisBind());
    expect(again.kind).toBe("exists");
    expect("binding" in again && again.binding).toEqual("binding" in created && created.binding);
    await expectFailure(d.bindings.bind(redisBind({ bindResource: { app_guid: "app-2" } })), "Conflict");
    await expectFailure(d.bindings.bind(redisBind({ parameters: { x: 1 } })), "Conflict");
  });

  it("H13 a plan that requires an app, without one: RequiresApp; X5 an empty bind_resource counts as none", async () => {
    await redisInstance();
    await expectFailure(d.bindings.bind(redisBind({ bindResource: undefined })), "RequiresApp");
    await expectFailure(d.bindings.bind(redisBind({ bindResource: {} })), "RequiresApp");
    expect(d.store.get(BINDINGS, "b1")).toBeUndefined();
  });

  it("section 9: unknown instance NotFound; another instance's service or plan BadRequest", async () => {
    await expectFailure(d.bindings.bind(redisBind()), "NotFound");
    await redisInstance();
    await expectFailure(d.bindings.bind(redisBind({ planId: REDIS.large })), "BadRequest");
    await expectFailure(d.bindings.bind(redisBind({ serviceId: PG.service })), "BadRequest");
  });

  it("A12 an instance still provisioning or being updated: ConcurrencyError", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision({
      instanceId: "r1",
      serviceId: REDIS.service,
      planId: REDIS.small,
      organizationGuid: "o",
      spaceGuid: "s",
      acceptsIncomplete: true,
    });
    await expectFailure(d.bindings.bind(redisBind()), "ConcurrencyError");
    await d.advance(INSTANCES, "r1");
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "r1");
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "r1");
    expect(d.instance("r1").status).toBe("provisioned");
    await d.instances.update({
      instanceId: "r1",
      serviceId: REDIS.service,
      parameters: { tls: false },
      acceptsIncomplete: true,
    });
    await expectFailure(d.bindings.bind(redisBind()), "ConcurrencyError");
  });

  it("Cloudify unreachable while reading the deployment: ServiceUnavailable, nothing stored", async () => {
    await redisInstance();
    d.cloudify.failNext("outputs", transient());
    await expectFailure(d.bindings.bind(redisBind()), "ServiceUnavailable");
    expect(d.store.get(BINDINGS, "b1")).toBeUndefined();
  });

  it("unbind: done at once, then Gone (410) for it and for ids never seen", async () => {
    await redisInstance();
    await d.bindings.bind(redisBind());
    const unbind = {
      instanceId: "r1",
      bindingId: "b1",
      serviceId: REDIS.service,
      planId: REDIS.small,
      acceptsIncomplete: false,
    };
    await expect(d.bindings.unbind(unbind)).resolves.toEqual({ kind: "done" });
    await expectFailure(d.bindings.unbind(unbind), "Gone");
    await expectFailure(d.bindings.unbind({ ...unbind, bindingId: "never" }), "Gone");
    await expectFailure(() => d.bindings.fetch("r1", "b1"), "NotFound");
  });
});

describe("workflow-mode bind (pg small: create_user, then credentials)", () => {
  it("A2 without accepts_incomplete: AsyncRequired, nothing stored or started", async () => {
    await d.provisioned("i1");
    await expectFailure(d.bindings.bind(pgBind({ acceptsIncomplete: false })), "AsyncRequired");
    expect(d.store.get(BINDINGS, "b1")).toBeUndefined();
    expect(d.cloudify.executionsOf("create_user")).toEqual([]);
  });

  it("steps: start_workflow → wait_workflow → render_credentials; GETB 404 until bound, then the workflow's user", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    const outcome = await d.bindings.bind(pgBind());
    expect(outcome.kind).toBe("accepted");
    await d.advance(BINDINGS, "b1");
    const record = d.binding("b1");
    expect(record).toMatchObject({ status: "binding", operation: { step: "wait_workflow" } });
    const [execution] = d.cloudify.executionsOf("create_user", "osb-i1");
    expect(execution!.parameters).toMatchObject({ privileges: "readonly" });
    const username = execution!.parameters.username as string;
    expect(username).toMatch(/^u_/);
    await expectFailure(() => d.bindings.fetch("i1", "b1"), "NotFound");
    expect(d.bindings.lastOperation("i1", "b1")).toMatchObject({ state: "in progress" });

    d.cloudify.finish(execution!.id);
    await d.advance(BINDINGS, "b1");
    expect(d.binding("b1").status).toBe("bound");
    expect(d.bindings.lastOperation("i1", "b1")).toEqual({ state: "succeeded" });
    expect(d.bindings.fetch("i1", "b1")).toMatchObject({
      result: { credentials: { username, password: `pw-of-${username}`, host: "10.0.0.7" } },
      parameters: { privileges: "readonly" },
      expiresAt: expect.any(String),
      renewBefore: expect.any(String),
    });
  });

  it("§12 in progress + identical: 202 with the same operation; different: Conflict; done + identical: 200", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    const first = await d.bindings.bind(pgBind());
    await expect(d.bindings.bind(pgBind())).resolves.toEqual(first);
    await expectFailure(d.bindings.bind(pgBind({ parameters: { privileges: "readwrite" } })), "Conflict");
    await d.advance(BINDINGS, "b1");
    d.cloudify.finishAll();
    await d.advance(BINDINGS, "b1");
    await expect(d.bindings.bind(pgBind())).resolves.toMatchObject({ kind: "exists" });
  });

  it("A4 a second bind on the instance while the instance is busy: ConcurrencyError", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    await d.instances.update({
      instanceId: "i1",
      serviceId: PG.service,
      parameters: { backup_retention_days: 3 },
      acceptsIncomplete: true,
    });
    await expectFailure(d.bindings.bind(pgBind()), "ConcurrencyError");
  });

  it("H14 binding parameters failing the plan's schema: BadRequest", async () => {
    await d.provisioned("i1");
    await expectFailure(d.bindings.bind(pgBind({ parameters: { privileges: "root" } })), "BadRequest");
  });

  it("a failed create workflow: LOB failed with Cloudify's reason; GETB 404; an identical bind tries again", async () => {
    await d.provisioned("i1");
    d.cloudify.outcomes.set("create_user", { status: "failed", error: "role exists" });
    await d.bindings.bind(pgBind());
    await d.advance(BINDINGS, "b1");
    expect(d.binding("b1").status).toBe("bind_failed");
    expect(d.bindings.lastOperation("i1", "b1")).toMatchObject({ state: "failed" });
    expect(d.bindings.lastOperation("i1", "b1").description).toContain("role exists");
    await expectFailure(() => d.bindings.fetch("i1", "b1"), "NotFound");

    d.cloudify.outcomes.delete("create_user");
    await d.bindings.bind(pgBind());
    await d.advance(BINDINGS, "b1");
    expect(d.binding("b1").status).toBe("bound");
  });

  it("unbind runs delete_user with the same username; A8 X7 last_operation succeeded afterwards, then 410", async () => {
    await d.provisioned("i1");
    await d.bindings.bind(pgBind());
    await d.advance(BINDINGS, "b1");
    const username = d.cloudify.executionsOf("create_user")[0]!.parameters.username;
    const unbind = {
      instanceId: "i1",
      bindingId: "b1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
    };
    await expectFailure(d.bindings.unbind({ ...unbind, acceptsIncomplete: false }), "AsyncRequired");
    d.cloudify.autoFinish = undefined;
    const first = await d.bindings.unbind(unbind);
    await expect(d.bindings.unbind(unbind)).resolves.toEqual(first);
    await d.advance(BINDINGS, "b1");
    const [revoke] = d.cloudify.executionsOf("delete_user");
    expect(revoke!.parameters).toEqual({ username });
    d.cloudify.finishAll();
    await d.advance(BINDINGS, "b1");
    expect(d.binding("b1").status).toBe("deleted");
    expect(d.bindings.lastOperation("i1", "b1")).toMatchObject({ state: "succeeded" });
    d.clock.now += 3601 * 1000;
    await expectFailure(() => d.bindings.lastOperation("i1", "b1"), "Gone");
  });

  it("section 11: an unbind during the bind halts it (cancels create_user), then revokes", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    await d.bindings.bind(pgBind());
    await d.advance(BINDINGS, "b1");
    const create = d.binding("b1").operation.executionId!;
    await d.bindings.unbind({
      instanceId: "i1",
      bindingId: "b1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
    });
    expect(d.binding("b1").operation).toMatchObject({ step: "cancel_bind", cancelExecutionId: create });
    await d.advance(BINDINGS, "b1");
    expect(d.cloudify.executions.get(create)!.status).toBe("cancelled");
    d.cloudify.finishAll();
    await d.advance(BINDINGS, "b1");
    expect(d.cloudify.executionsOf("delete_user")).toHaveLength(1);
    expect(d.binding("b1").status).toBe("deleted");
  });
});

describe("8.2 a synchronous bind reads Cloudify outside the instance's lock", () => {
  it("while its reads are slow, another bind and an update of the instance are decided; the slow bind then commits, or is busy", async () => {
    await redisInstance();
    const release = d.cloudify.hold("outputs");
    let settled = false;
    const slow = d.bindings.bind(redisBind({ bindingId: "slow" })).finally(() => {
      settled = true;
    });
    // Another bind of the instance is decided and committed while the first one's read waits.
    await expect(d.bindings.bind(redisBind({ bindingId: "quick" }))).resolves.toMatchObject({
      kind: "created",
    });
    expect(settled).toBe(false);
    expect(d.store.get(BINDINGS, "slow")).toBeUndefined();
    release();
    await expect(slow).resolves.toMatchObject({ kind: "created" });
    expect(d.binding("slow").status).toBe("bound");
  });

  it("an update accepted during the slow read makes the bind busy at commit (A12): ConcurrencyError, nothing stored", async () => {
    await redisInstance();
    const release = d.cloudify.hold("outputs");
    const slow = failureOf(d.bindings.bind(redisBind({ bindingId: "slow" })));
    d.cloudify.autoFinish = undefined;
    const update = await d.instances.update({
      instanceId: "r1",
      serviceId: REDIS.service,
      parameters: { tls: false },
      acceptsIncomplete: true,
    });
    expect(update.kind).toBe("accepted");
    release();
    expect((await slow).code).toBe("ConcurrencyError");
    expect(d.store.get(BINDINGS, "slow")).toBeUndefined();
  });

  it("an operation that ran and finished during the read makes the bind read again (its data may be stale)", async () => {
    await redisInstance();
    const release = d.cloudify.hold("outputs");
    const slow = d.bindings.bind(redisBind({ bindingId: "slow" }));
    await d.instances.update({
      instanceId: "r1",
      serviceId: REDIS.service,
      parameters: { tls: false },
      acceptsIncomplete: true,
    });
    await d.advance(INSTANCES, "r1");
    expect(d.instance("r1").operation).toMatchObject({ type: "update", state: "succeeded" });
    const reads = d.cloudify.calls.filter((c) => c.method === "outputs").length;
    release();
    await expect(slow).resolves.toMatchObject({ kind: "created" });
    expect(d.cloudify.calls.filter((c) => c.method === "outputs").length).toBe(reads + 1);
  });
});

describe("synchronous binds read the deployment once per instance revision (DeploymentReads)", () => {
  const REUSE_MS = 4000;
  const reads = (domain: Domain) =>
    domain.cloudify.calls.filter((c) => ["outputs", "capabilities", "secret"].includes(c.method)).length;

  it("a second bind of the same instance revision reads nothing; after an update, or past the reuse time, it reads again", async () => {
    const r = (await Domain.create({ reuseDeploymentReadsMs: REUSE_MS })).withUserWorkflows();
    await r.provisioned("r1", { serviceId: REDIS.service, planId: REDIS.small, parameters: {} });
    await r.bindings.bind(redisBind({ bindingId: "b1" }));
    const afterFirst = reads(r);
    expect(afterFirst).toBeGreaterThan(0);
    await expect(r.bindings.bind(redisBind({ bindingId: "b2" }))).resolves.toMatchObject({ kind: "created" });
    expect(reads(r)).toBe(afterFirst);

    // An update is a new revision: its outputs may differ.
    r.cloudify.deployments.get(r.instance("r1").deploymentId)!.outputs.host = "10.0.0.8";
    await r.instances.update({
      instanceId: "r1",
      serviceId: REDIS.service,
      parameters: { tls: false },
      acceptsIncomplete: true,
    });
    await r.advance(INSTANCES, "r1");
    expect(r.instance("r1").operation).toMatchObject({ type: "update", state: "succeeded" });
    const b3 = await r.bindings.bind(redisBind({ bindingId: "b3" }));
    expect(reads(r)).toBeGreaterThan(afterFirst);
    expect(b3).toMatchObject({ kind: "created", binding: { result: { credentials: { host: "10.0.0.8" } } } });

    // Past the reuse time (counted from the read, not from the latest bind that reused it) a
    // change made on the manager outside the broker shows.
    const afterUpdate = reads(r);
    r.cloudify.deployments.get(r.instance("r1").deploymentId)!.outputs.host = "10.0.0.9";
    r.clock.now += REUSE_MS - 1;
    await expect(r.bindings.bind(redisBind({ bindingId: "b3-again" }))).resolves.toMatchObject({
      kind: "created",
      binding: { result: { credentials: { host: "10.0.0.8" } } },
    });
    expect(reads(r)).toBe(afterUpdate);
    r.clock.now += 1;
    const b4 = await r.bindings.bind(redisBind({ bindingId: "b4" }));
    expect(reads(r)).toBeGreaterThan(afterUpdate);
    expect(b4).toMatchObject({ kind: "created", binding: { result: { credentials: { host: "10.0.0.9" } } } });
  });

  it("a read that failed, or lacked what the credentials need, is not reused: the next bind reads again", async () => {
    const r = (await Domain.create({ reuseDeploymentReadsMs: REUSE_MS })).withUserWorkflows();
    await r.provisioned("r1", { serviceId: REDIS.service, planId: REDIS.small, parameters: {} });
    r.cloudify.failNext("outputs", transient());
    await expectFailure(r.bindings.bind(redisBind({ bindingId: "b1" })), "ServiceUnavailable");
    const deployment = r.cloudify.deployments.get(r.instance("r1").deploymentId)!;
    const { host } = deployment.outputs;
    delete deployment.outputs.host;
    await expectFailure(r.bindings.bind(redisBind({ bindingId: "b1" })), "InternalError");
    deployment.outputs.host = host;
    const before = reads(r);
    await expect(r.bindings.bind(redisBind({ bindingId: "b1" }))).resolves.toMatchObject({ kind: "created" });
    expect(reads(r)).toBeGreaterThan(before);
  });
});
