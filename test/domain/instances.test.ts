import { beforeEach, describe, expect, it } from "vitest";
import { INSTANCES } from "../../src/broker/model/records.js";
import { PG, REDIS } from "../support/catalog-ids.js";
import { Domain, expectFailure, provisionRequest } from "../support/domain.js";

/**
 * InstanceService decision tables (docs/CONTRACT.md sections 5-8 and 12) against the in-memory
 * store and the fake Cloudify port. The HTTP suites (test/instances-*.test.ts) check the same
 * rules on the wire; these check the decisions alone, in milliseconds.
 */

const operationOf = (outcome: { kind: string; operation?: string }) => outcome.operation;

let d: Domain;
beforeEach(async () => {
  d = await Domain.create();
});

describe("provision (PROV)", () => {
  it("A2 without accepts_incomplete: AsyncRequired, and nothing is stored (H11)", async () => {
    await expectFailure(
      d.instances.provision(provisionRequest("i1", { acceptsIncomplete: false })),
      "AsyncRequired",
    );
    expect(d.store.get(INSTANCES, "i1")).toBeUndefined();
    expect(d.cloudify.calls).toEqual([]);
  });

  it("202: the operation is durable before the answer; the engine then creates and installs", async () => {
    d.cloudify.autoFinish = undefined;
    const outcome = await d.instances.provision(provisionRequest("i1"));
    expect(outcome).toMatchObject({
      kind: "accepted",
      dashboardUrl: "https://dashboard.example.com/postgresql/i1",
    });
    const record = d.instance("i1");
    expect(record).toMatchObject({ status: "provisioning", planId: PG.small, blueprintId: "postgresql" });
    expect(record.operation).toMatchObject({ type: "provision", state: "in progress" });
    if (outcome.kind === "accepted") expect(outcome.operation).toBe(record.operation.id);

    await d.advance(INSTANCES, "i1");
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(1);
    expect(d.instance("i1").operation.step).toBe("wait_environment");
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").operation.step).toBe("wait_install");
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1")).toMatchObject({ status: "provisioned", operation: { state: "succeeded" } });
    expect(d.cloudify.executionsOf("install")).toHaveLength(1);
  });

  it("H14 X4 unknown service or plan, and parameters failing the plan's schema: BadRequest", async () => {
    await expectFailure(d.instances.provision(provisionRequest("i1", { serviceId: "nope" })), "BadRequest");
    await expectFailure(d.instances.provision(provisionRequest("i1", { planId: REDIS.small })), "BadRequest");
    const description = await expectFailure(
      d.instances.provision(provisionRequest("i1", { parameters: { db_name: "Not Valid" } })),
      "BadRequest",
    );
    expect(description).toContain("db_name");
    expect(d.store.get(INSTANCES, "i1")).toBeUndefined();
  });

  it("H13 maintenance_info.version other than the plan's: MaintenanceInfoConflict; the plan's own is fine", async () => {
    await expectFailure(
      d.instances.provision(provisionRequest("i1", { maintenanceVersion: "0.9.0" })),
      "MaintenanceInfoConflict",
    );
    await expect(
      d.instances.provision(provisionRequest("i1", { maintenanceVersion: "1.0.0" })),
    ).resolves.toMatchObject({ kind: "accepted" });
  });

  describe("§12 the same id again", () => {
    it("A5 in progress + identical: 202 with the same operation, and no second deployment", async () => {
      d.cloudify.autoFinish = undefined;
      const first = await d.instances.provision(provisionRequest("i1"));
      await d.advance(INSTANCES, "i1");
      const again = await d.instances.provision(provisionRequest("i1"));
      expect(again).toEqual(first);
      await d.advance(INSTANCES, "i1");
      expect(d.cloudify.callsTo("createDeployment")).toHaveLength(1);
    });

    it("A2 in progress + identical without accepts_incomplete: AsyncRequired (a 202 needs it)", async () => {
      await d.instances.provision(provisionRequest("i1"));
      await expectFailure(
        d.instances.provision(provisionRequest("i1", { acceptsIncomplete: false })),
        "AsyncRequired",
      );
    });

    it("in progress + different attributes: Conflict", async () => {
      d.cloudify.autoFinish = undefined;
      await d.instances.provision(provisionRequest("i1"));
      await expectFailure(
        d.instances.provision(provisionRequest("i1", { spaceGuid: "space-2" })),
        "Conflict",
      );
    });

    it("X8 done + identical: 200 with or without accepts_incomplete", async () => {
      await d.provisioned("i1");
      for (const acceptsIncomplete of [true, false]) {
        await expect(d.instances.provision(provisionRequest("i1", { acceptsIncomplete }))).resolves.toEqual({
          kind: "done",
          dashboardUrl: "https://dashboard.example.com/postgresql/i1",
        });
      }
    });

    it("done + different plan, parameters, organization, space or context: Conflict", async () => {
      await d.provisioned("i1");
      const differences = [
        { planId: PG.large },
        { parameters: { db_name: "other" } },
        { organizationGuid: "org-2" },
        { spaceGuid: "space-2" },
        { context: { platform: "cloudfoundry", instance_name: "renamed" } },
      ];
      for (const difference of differences)
        await expectFailure(d.instances.provision(provisionRequest("i1", difference)), "Conflict");
    });

    it("a failed provision + identical: tried again, adopting the deployment Cloudify already has", async () => {
      d.cloudify.outcomes.set("install", { status: "failed", error: "disk full" });
      await d.instances.provision(provisionRequest("i1"));
      await d.advance(INSTANCES, "i1");
      expect(d.instance("i1")).toMatchObject({ status: "provision_failed", operation: { state: "failed" } });
      expect(d.instance("i1").operation.description).toContain("disk full");

      d.cloudify.outcomes.delete("install");
      const retry = await d.instances.provision(provisionRequest("i1"));
      expect(retry.kind).toBe("accepted");
      await d.advance(INSTANCES, "i1");
      expect(d.instance("i1").status).toBe("provisioned");
      expect(d.cloudify.callsTo("createDeployment")).toHaveLength(1);
      expect(d.cloudify.executionsOf("install").map((e) => e.status)).toEqual(["failed", "terminated"]);
    });

    it("A4 while being deprovisioned: ConcurrencyError", async () => {
      await d.provisioned("i1");
      d.cloudify.autoFinish = undefined;
      await d.instances.deprovision({
        instanceId: "i1",
        serviceId: PG.service,
        planId: PG.small,
        acceptsIncomplete: true,
      });
      await expectFailure(d.instances.provision(provisionRequest("i1")), "ConcurrencyError");
    });
  });
});

describe("unknown instances (A7, sections 6-8)", () => {
  it("update, fetch and last_operation of an unknown instance: NotFound; deprovision: Gone", async () => {
    await expectFailure(
      d.instances.update({ instanceId: "x", serviceId: PG.service, acceptsIncomplete: true }),
      "NotFound",
    );
    await expectFailure(() => d.instances.fetch("x"), "NotFound");
    await expectFailure(() => d.instances.lastOperation("x"), "NotFound");
    await expectFailure(
      d.instances.deprovision({
        instanceId: "x",
        serviceId: PG.service,
        planId: PG.small,
        acceptsIncomplete: true,
      }),
      "Gone",
    );
  });

  it("GETI while provisioning or after a failed provision: NotFound", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision(provisionRequest("i1"));
    await expectFailure(() => d.instances.fetch("i1"), "NotFound");
    await d.advance(INSTANCES, "i1");
    d.cloudify.finishAll("failed");
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").status).toBe("provision_failed");
    await expectFailure(() => d.instances.fetch("i1"), "NotFound");
  });

  it("A8 X7 after a deprovision: last_operation succeeded during the tombstone, then Gone; DEPROV again: Gone", async () => {
    await d.provisioned("i1");
    const deprovision = {
      instanceId: "i1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
    };
    await d.instances.deprovision(deprovision);
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").status).toBe("deleted");
    expect(d.instances.lastOperation("i1")).toMatchObject({ state: "succeeded" });
    await expectFailure(d.instances.deprovision(deprovision), "Gone");
    await expectFailure(() => d.instances.fetch("i1"), "NotFound");
    d.clock.now += 3601 * 1000;
    await expectFailure(() => d.instances.lastOperation("i1"), "Gone");
  });
});

describe("busy instances (A4: ConcurrencyError)", () => {
  it("update or deprovision during an update, and GETI during it: ConcurrencyError; an identical update: same operation", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    const update = {
      instanceId: "i1",
      serviceId: PG.service,
      parameters: { backup_retention_days: 9 },
      acceptsIncomplete: true,
    };
    const first = await d.instances.update(update);
    expect(first.kind).toBe("accepted");
    await expect(d.instances.update(update)).resolves.toMatchObject({
      kind: "accepted",
      operation: operationOf(first),
    });
    await expectFailure(
      d.instances.update({ ...update, parameters: { backup_retention_days: 10 } }),
      "ConcurrencyError",
    );
    await expectFailure(
      d.instances.deprovision({
        instanceId: "i1",
        serviceId: PG.service,
        planId: PG.small,
        acceptsIncomplete: true,
      }),
      "ConcurrencyError",
    );
    await expectFailure(() => d.instances.fetch("i1"), "ConcurrencyError");
  });

  it("update while the provision runs: ConcurrencyError", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision(provisionRequest("i1"));
    await expectFailure(
      d.instances.update({
        instanceId: "i1",
        serviceId: PG.service,
        parameters: { backup_retention_days: 9 },
        acceptsIncomplete: true,
      }),
      "ConcurrencyError",
    );
  });

  it("update while a workflow bind runs on the deployment: ConcurrencyError", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    await d.bindings.bind({
      instanceId: "i1",
      bindingId: "b1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
    });
    await d.advance("bindings", "b1");
    await expectFailure(
      d.instances.update({
        instanceId: "i1",
        serviceId: PG.service,
        parameters: { backup_retention_days: 9 },
        acceptsIncomplete: true,
      }),
      "ConcurrencyError",
    );
  });
});

describe("deprovision (DEPROV)", () => {
  const deprovision = { instanceId: "i1", serviceId: PG.service, planId: PG.small, acceptsIncomplete: true };

  it("uninstall, then delete; a re-send while it runs gets the same operation", async () => {
    await d.provisioned("i1");
    d.cloudify.autoFinish = undefined;
    const first = await d.instances.deprovision(deprovision);
    await expect(d.instances.deprovision(deprovision)).resolves.toEqual(first);
    await d.advance(INSTANCES, "i1");
    expect(d.cloudify.executionsOf("uninstall")).toHaveLength(1);
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "i1");
    expect(d.cloudify.deployments.has("osb-i1")).toBe(false);
    expect(d.instance("i1").status).toBe("deleted");
  });

  it("A2 without accepts_incomplete: AsyncRequired, the instance untouched", async () => {
    await d.provisioned("i1");
    await expectFailure(
      d.instances.deprovision({ ...deprovision, acceptsIncomplete: false }),
      "AsyncRequired",
    );
    expect(d.instance("i1").status).toBe("provisioned");
  });

  it("section 8: a deprovision during the provision halts it (cancels its execution) and deletes without uninstall", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision(provisionRequest("i1"));
    await d.advance(INSTANCES, "i1");
    const createEnv = d.instance("i1").operation.executionId!;
    await d.instances.deprovision(deprovision);
    expect(d.instance("i1").operation).toMatchObject({
      step: "cancel_provision",
      cancelExecutionId: createEnv,
    });
    await d.advance(INSTANCES, "i1");
    expect(d.cloudify.executions.get(createEnv)!.status).toBe("cancelled");
    expect(d.instance("i1").status).toBe("deleted");
    expect(d.cloudify.executionsOf("install")).toEqual([]);
    expect(d.cloudify.executionsOf("uninstall")).toEqual([]);
    expect(d.instances.lastOperation("i1")).toMatchObject({ state: "succeeded" });
  });

  it("A6 H12 a failed uninstall: failed with instance_usable false; the instance stays provisioned", async () => {
    await d.provisioned("i1");
    d.cloudify.outcomes.set("uninstall", { status: "failed", error: "node stuck" });
    await d.instances.deprovision(deprovision);
    await d.advance(INSTANCES, "i1");
    expect(d.instances.lastOperation("i1")).toMatchObject({ state: "failed", instanceUsable: false });
    expect(d.instances.lastOperation("i1").updateRepeatable).toBeUndefined();
    expect(d.instance("i1").status).toBe("provisioned");
  });
});

describe("update (UPD)", () => {
  const base = { instanceId: "i1", serviceId: PG.service, acceptsIncomplete: true };

  it("C6 a plan change on an updateable plan: a deployment update to the new blueprint; the record moves on success", async () => {
    await d.provisioned("i1");
    const outcome = await d.instances.update({ ...base, planId: PG.large });
    expect(outcome.kind).toBe("accepted");
    await d.advance(INSTANCES, "i1");
    const [request] = d.cloudify.callsTo("updateDeployment")[0] as [{ blueprintId?: string }];
    expect(request.blueprintId).toBe("postgresql-v2");
    expect(d.instance("i1")).toMatchObject({
      status: "provisioned",
      planId: PG.large,
      maintenanceVersion: "2.1.0",
    });
    expect(d.instances.fetch("i1")).toMatchObject({
      planId: PG.large,
      maintenanceVersion: "2.1.0",
    });
  });

  it("C6 a plan change away from a plan that is not plan_updateable: refused (422), nothing sent to Cloudify", async () => {
    await d.provisioned("r1", { serviceId: REDIS.service, planId: REDIS.large, parameters: undefined });
    await expectFailure(
      d.instances.update({ ...base, instanceId: "r1", serviceId: REDIS.service, planId: REDIS.small }),
      "UnprocessableEntity",
    );
    expect(d.cloudify.callsTo("updateDeployment")).toEqual([]);
  });

  it("X4 a foreign service_id or an unknown plan: BadRequest", async () => {
    await d.provisioned("i1");
    await expectFailure(d.instances.update({ ...base, serviceId: REDIS.service }), "BadRequest");
    await expectFailure(d.instances.update({ ...base, planId: "nope" }), "BadRequest");
  });

  it("an input the current plan marks `updatable: false` would change: BadRequest naming it", async () => {
    await d.provisioned("i1", { planId: PG.large, parameters: {} });
    const description = await expectFailure(d.instances.update({ ...base, planId: PG.small }), "BadRequest");
    expect(description).toContain("owner_labels");
  });

  it("parameters failing the update schema: BadRequest (db_name is create-only)", async () => {
    await d.provisioned("i1");
    await expectFailure(d.instances.update({ ...base, parameters: { db_name: "x" } }), "BadRequest");
  });

  it("H13 X5 maintenance_info: the plan's version is no conflict, another is MaintenanceInfoConflict", async () => {
    await d.provisioned("i1");
    await expectFailure(
      d.instances.update({ ...base, maintenanceVersion: "3.0.0" }),
      "MaintenanceInfoConflict",
    );
    await expect(d.instances.update({ ...base, maintenanceVersion: "1.0.0" })).resolves.toEqual({
      kind: "done",
      dashboardUrl: "https://dashboard.example.com/postgresql/i1",
    });
  });

  it("a maintenance upgrade to the plan's new version is applied and shown by GETI", async () => {
    await d.provisioned("i1");
    // The instance was provisioned under an older catalog.
    await d.store.commit([
      {
        type: "put",
        collection: INSTANCES,
        id: "i1",
        value: { ...d.instance("i1"), maintenanceVersion: "0.9.0" },
      },
    ]);
    await d.instances.update({ ...base, maintenanceVersion: "1.0.0" });
    await d.advance(INSTANCES, "i1");
    expect(d.instances.fetch("i1").maintenanceVersion).toBe("1.0.0");
  });

  it("nothing to change in Cloudify (same parameters): 200 at once, even without accepts_incomplete", async () => {
    await d.provisioned("i1");
    await expect(
      d.instances.update({ ...base, acceptsIncomplete: false, parameters: {} }),
    ).resolves.toMatchObject({
      kind: "done",
    });
    expect(d.cloudify.callsTo("updateDeployment")).toEqual([]);
  });

  it("A2 a change that needs Cloudify without accepts_incomplete: AsyncRequired, nothing applied", async () => {
    await d.provisioned("i1");
    await expectFailure(
      d.instances.update({ ...base, acceptsIncomplete: false, parameters: { backup_retention_days: 9 } }),
      "AsyncRequired",
    );
    expect(d.instance("i1").parameters).toEqual({});
  });

  it("A6 a failed update: failed, instance_usable and update_repeatable true, parameters unchanged", async () => {
    await d.provisioned("i1");
    d.cloudify.outcomes.set("update", { status: "failed", error: "quota" });
    await d.instances.update({ ...base, parameters: { backup_retention_days: 9 } });
    await d.advance(INSTANCES, "i1");
    expect(d.instances.lastOperation("i1")).toMatchObject({
      state: "failed",
      instanceUsable: true,
      updateRepeatable: true,
    });
    expect(d.instance("i1")).toMatchObject({ status: "provisioned", parameters: {} });
  });

  it("a context-only update is applied at once (allow_context_updates)", async () => {
    await d.provisioned("i1");
    const context = { platform: "cloudfoundry", instance_name: "db" };
    await d.instances.update({ ...base, context });
    expect(d.instance("i1").context).toEqual(context);
  });
});
