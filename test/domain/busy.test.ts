import { beforeEach, describe, expect, it } from "vitest";
import type { BindRequest } from "../../src/broker/bindings/binding-service.js";
import { BINDINGS, INSTANCES } from "../../src/broker/model/records.js";
import { PG } from "../support/catalog-ids.js";
import { Domain, expectFailure, provisionRequest } from "../support/domain.js";

/**
 * The one "instance is busy" rule (docs/CONTRACT.md A12, src/broker/operations/busy.ts), as each
 * operation meets it: every refusal is ConcurrencyError, and the only operations that go ahead
 * of a running one are the documented ones (a deprovision halting a provision, an unbind halting
 * its own bind, workflow binds queueing beside each other). Cloudify executions stay running
 * until the test ends them, so every "in progress" below is real state, not a flag.
 */

let d: Domain;
beforeEach(async () => {
  d = (await Domain.create()).withUserWorkflows();
});

const pgBind = (bindingId: string, overrides: Partial<BindRequest> = {}): BindRequest => ({
  instanceId: "i1",
  bindingId,
  serviceId: PG.service,
  planId: PG.small,
  acceptsIncomplete: true,
  ...overrides,
});
const update = () =>
  d.instances.update({
    instanceId: "i1",
    serviceId: PG.service,
    parameters: { backup_retention_days: 3 },
    acceptsIncomplete: true,
  });
const deprovision = () =>
  d.instances.deprovision({
    instanceId: "i1",
    serviceId: PG.service,
    planId: PG.small,
    acceptsIncomplete: true,
  });
const unbind = (bindingId: string) =>
  d.bindings.unbind({
    instanceId: "i1",
    bindingId,
    serviceId: PG.service,
    planId: PG.small,
    acceptsIncomplete: true,
  });

/** A provisioned instance with a workflow bind still running (its create_user never ends). */
async function bindRunning(bindingId = "b1") {
  await d.provisioned("i1");
  d.cloudify.autoFinish = undefined;
  expect((await d.bindings.bind(pgBind(bindingId))).kind).toBe("accepted");
  await d.advance(BINDINGS, bindingId);
  expect(d.binding(bindingId).operation.step).toBe("wait_workflow");
}

describe("A12 the instance is busy", () => {
  it("a workflow bind runs: deprovision and update are ConcurrencyError, nothing changes; afterwards both go ahead", async () => {
    await bindRunning();
    const before = d.instance("i1");
    expect(await expectFailure(deprovision(), "ConcurrencyError")).toContain("binding b1");
    expect(await expectFailure(update(), "ConcurrencyError")).toContain("bind of binding b1");
    expect(d.instance("i1")).toEqual(before);
    // Another binding's workflow may queue beside it (M11: queued executions), and GETI answers.
    expect((await d.bindings.bind(pgBind("b2"))).kind).toBe("accepted");
    expect(d.instances.fetch("i1").planId).toBe(PG.small);
    d.cloudify.finishAll();
    await d.advance(BINDINGS, "b1");
    await d.advance(BINDINGS, "b2");
    d.cloudify.finishAll();
    await d.advance(BINDINGS, "b2");
    expect(d.binding("b1").status).toBe("bound");
    expect(d.binding("b2").status).toBe("bound");
    expect((await deprovision()).kind).toBe("accepted");
  });

  it("a workflow unbind runs: deprovision is ConcurrencyError", async () => {
    await d.provisioned("i1");
    await d.bindings.bind(pgBind("b1"));
    await d.advance(BINDINGS, "b1");
    expect(d.binding("b1").status).toBe("bound");
    d.cloudify.autoFinish = undefined;
    expect((await unbind("b1")).kind).toBe("accepted");
    await d.advance(BINDINGS, "b1");
    expect(d.binding("b1").operation.type).toBe("unbind");
    await expectFailure(deprovision(), "ConcurrencyError");
    d.cloudify.finishAll();
    await d.advance(BINDINGS, "b1");
    expect((await deprovision()).kind).toBe("accepted");
  });

  it("a provision runs: bind is ConcurrencyError (not UnprocessableEntity), update too; a deprovision halts it", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision(provisionRequest("i1"));
    await expectFailure(d.bindings.bind(pgBind("b1")), "ConcurrencyError");
    await expectFailure(update(), "ConcurrencyError");
    expect(d.store.get(BINDINGS, "b1")).toBeUndefined();
    expect((await deprovision()).kind).toBe("accepted");
    expect(d.instance("i1").operation.step).toBe("cancel_provision");
  });

  it("a deprovision runs: bind, update and a revoking unbind are ConcurrencyError; GETI too", async () => {
    await d.provisioned("i1");
    await d.bindings.bind(pgBind("b1"));
    await d.advance(BINDINGS, "b1");
    d.cloudify.autoFinish = undefined;
    expect((await deprovision()).kind).toBe("accepted");
    await d.advance(INSTANCES, "i1");
    await expectFailure(d.bindings.bind(pgBind("b2")), "ConcurrencyError");
    await expectFailure(update(), "ConcurrencyError");
    expect(await expectFailure(unbind("b1"), "ConcurrencyError")).toContain("deprovision");
    await expectFailure(() => d.instances.fetch("i1"), "ConcurrencyError");
    expect(d.binding("b1").status).toBe("bound");
    expect(d.store.get(BINDINGS, "b2")).toBeUndefined();
    // A re-sent deprovision is the same operation, not a refusal (A5).
    expect(await deprovision()).toEqual({ kind: "accepted", operation: d.instance("i1").operation.id });
  });

  it("an update runs: bind, deprovision and a revoking unbind are ConcurrencyError; an identical update is the same operation", async () => {
    await d.provisioned("i1");
    await d.bindings.bind(pgBind("b1"));
    await d.advance(BINDINGS, "b1");
    d.cloudify.autoFinish = undefined;
    const first = await update();
    expect(first.kind).toBe("accepted");
    expect(await update()).toMatchObject({
      kind: "accepted",
      operation: "operation" in first && first.operation,
    });
    await expectFailure(d.bindings.bind(pgBind("b2")), "ConcurrencyError");
    await expectFailure(deprovision(), "ConcurrencyError");
    await expectFailure(unbind("b1"), "ConcurrencyError");
    await expectFailure(() => d.instances.fetch("i1"), "ConcurrencyError");
  });
});
