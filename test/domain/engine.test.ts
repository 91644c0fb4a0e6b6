import { beforeEach, describe, expect, it } from "vitest";
import { BINDINGS, INSTANCES } from "../../src/broker/model/records.js";
import { ENGINE_CONCURRENCY } from "../../src/broker/operations/operation-engine.js";
import { PG } from "../support/catalog-ids.js";
import { Domain, provisionRequest } from "../support/domain.js";
import { FakeFailure, transient } from "../support/fake-cloudify.js";

/**
 * The operation engine and its step machines: a step whose Cloudify answer was lost (a crash
 * or a gateway timeout, M16) is adopted after a restart rather than repeated; deadlines (A9);
 * transient failures retried with backoff; refusals failing the operation; and a request that
 * replaced an operation while its step ran winning over the step's outcome.
 */

let d: Domain;
/** An asynchronous deprovision of a PostgreSQL small instance. */
const deprovisionSmall = (instanceId: string) =>
  d.instances.deprovision({ instanceId, serviceId: PG.service, planId: PG.small, acceptsIncomplete: true });
/** A provisioned instance whose deprovision has run its uninstall to the end (executions left running by hand). */
async function uninstalledForDeletion(instanceId: string) {
  await d.provisioned(instanceId);
  d.cloudify.autoFinish = undefined;
  await deprovisionSmall(instanceId);
  await d.advance(INSTANCES, instanceId);
  const [uninstall] = d.cloudify.executionsOf("uninstall");
  d.cloudify.finish(uninstall!.id);
}
beforeEach(async () => {
  d = await Domain.create();
});

describe("M16 after a lost answer and a restart, a step adopts what Cloudify did instead of doing it again", () => {
  it("create_deployment: the deployment is adopted, created once", async () => {
    d.cloudify.loseAnswer("createDeployment");
    await d.instances.provision(provisionRequest("i1"));
    await d.engine.idle();
    expect(d.instance("i1").operation).toMatchObject({ step: "create_deployment", attempts: 1 });

    const restarted = await d.restart();
    await restarted.advance(INSTANCES, "i1");
    expect(restarted.instance("i1").status).toBe("provisioned");
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(1);
  });

  it("start_install: the install execution is adopted, started once", async () => {
    d.cloudify.loseAnswer("startExecution");
    await d.instances.provision(provisionRequest("i1"));
    await d.engine.idle();
    expect(d.instance("i1").operation.step).toBe("start_install");
    expect(d.cloudify.executionsOf("install")).toHaveLength(1);

    const restarted = await d.restart();
    await restarted.advance(INSTANCES, "i1");
    expect(restarted.instance("i1")).toMatchObject({ status: "provisioned" });
    expect(d.cloudify.executionsOf("install")).toHaveLength(1);
    expect(restarted.instance("i1").executionIds).toContain(d.cloudify.executionsOf("install")[0]!.id);
  });

  it("start_update: the deployment update is adopted, started once", async () => {
    await d.provisioned("i1");
    d.cloudify.loseAnswer("updateDeployment");
    await d.instances.update({
      instanceId: "i1",
      serviceId: PG.service,
      parameters: { backup_retention_days: 3 },
      acceptsIncomplete: true,
    });
    await d.engine.idle();
    const restarted = await d.restart();
    await restarted.advance(INSTANCES, "i1");
    expect(restarted.instance("i1")).toMatchObject({
      status: "provisioned",
      parameters: { backup_retention_days: 3 },
    });
    expect(d.cloudify.callsTo("updateDeployment")).toHaveLength(1);
  });

  it("a workflow bind's create workflow: adopted by its parameters, started once", async () => {
    await d.provisioned("i1");
    d.withUserWorkflows();
    d.cloudify.loseAnswer("startExecution");
    await d.bindings.bind({
      instanceId: "i1",
      bindingId: "b1",
      serviceId: PG.service,
      planId: PG.small,
      acceptsIncomplete: true,
    });
    await d.engine.idle();
    expect(d.binding("b1").operation.step).toBe("start_workflow");

    const restarted = await d.restart();
    await restarted.advance(BINDINGS, "b1");
    expect(restarted.binding("b1").status).toBe("bound");
    expect(d.cloudify.executionsOf("create_user")).toHaveLength(1);
  });

  it("an execution the record already knows is never adopted again (a second provision after a failure starts a new install)", async () => {
    d.cloudify.outcomes.set("install", { status: "failed" });
    await d.instances.provision(provisionRequest("i1"));
    await d.advance(INSTANCES, "i1");
    d.cloudify.outcomes.delete("install");
    await d.instances.provision(provisionRequest("i1"));
    await d.advance(INSTANCES, "i1");
    expect(d.cloudify.executionsOf("install")).toHaveLength(2);
    expect(d.instance("i1").status).toBe("provisioned");
  });
});

describe("a burst of operations against a slow manager", () => {
  it("at most ENGINE_CONCURRENCY resources call Cloudify at once; the rest wait their turn and all finish", async () => {
    const burst = ENGINE_CONCURRENCY * 3;
    const releases = Array.from({ length: burst }, () => d.cloudify.hold("createDeployment"));
    await Promise.all(
      Array.from({ length: burst }, (_, i) => d.instances.provision(provisionRequest(`burst-${i}`))),
    );
    // Every provision was accepted at once; only a bounded number reached the manager.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(ENGINE_CONCURRENCY);
    for (const release of releases) release();
    await d.engine.idle();
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(burst);
    for (let i = 0; i < burst; i++)
      expect(d.instance(`burst-${i}`)).toMatchObject({
        status: "provisioned",
        operation: { state: "succeeded" },
      });
  });
});

describe("deadlines, retries and refusals", () => {
  it("A9 an operation still unfinished at its deadline (the plan's maximum_polling_duration) fails, naming its step", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision(provisionRequest("i1"));
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").operation.state).toBe("in progress");
    d.clock.now += 3600 * 1000; // pg small: maximum_polling_duration 3600
    await d.advance(INSTANCES, "i1");
    const record = d.instance("i1");
    expect(record).toMatchObject({ status: "provision_failed", operation: { state: "failed" } });
    expect(record.operation.description).toContain("did not finish within its time limit");
    expect(record.operation.description).toContain("wait_environment");
  });

  it("a transient failure is retried after a backoff, not failed; the retry resets the attempts", async () => {
    d.cloudify.failNext("createDeployment", transient("connection refused"));
    await d.instances.provision(provisionRequest("i1"));
    await d.engine.idle();
    expect(d.instance("i1").operation).toMatchObject({
      state: "in progress",
      step: "create_deployment",
      attempts: 1,
    });
    expect(d.instance("i1").operation.description).toContain("connection refused");

    // Not due yet: the sweep leaves it alone.
    await d.engine.sweep();
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(1);
    d.clock.now += 60_000; // beyond any backoff after one failure
    await d.engine.sweep();
    await d.engine.idle();
    expect(d.instance("i1")).toMatchObject({ status: "provisioned", operation: { state: "succeeded" } });
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(2);
  });

  it("once Cloudify answers again, an operation waiting out a backoff is due at the next sweep", async () => {
    d.cloudify.failNext("createDeployment", transient("connection refused"));
    await d.instances.provision(provisionRequest("i1"));
    await d.engine.idle();
    expect(d.instance("i1").operation).toMatchObject({ state: "in progress", attempts: 1 });
    await d.engine.sweep();
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(1);
    // The clock stands still: only the manager's return makes it due.
    d.engine.retryTransientNow();
    await d.engine.sweep();
    await d.engine.idle();
    expect(d.instance("i1")).toMatchObject({ status: "provisioned", operation: { state: "succeeded" } });
    expect(d.cloudify.callsTo("createDeployment")).toHaveLength(2);
  });

  it("a refusal fails the operation with Cloudify's words", async () => {
    d.cloudify.failNext(
      "createDeployment",
      new FakeFailure("rejected", "missing inputs: size", "bad_parameters_error"),
    );
    await d.instances.provision(provisionRequest("i1"));
    await d.engine.idle();
    expect(d.instance("i1")).toMatchObject({ status: "provision_failed", operation: { state: "failed" } });
    expect(d.instance("i1").operation.description).toContain("missing inputs: size");
  });

  it("M10 an environment still being created makes install wait, not fail", async () => {
    d.cloudify.autoFinish = undefined;
    await d.instances.provision(provisionRequest("i1"));
    await d.advance(INSTANCES, "i1");
    // The create execution reports done, but the manager still refuses workflows for a moment.
    d.cloudify.finishAll();
    d.cloudify.failNext(
      "startExecution",
      new FakeFailure("rejected", "still creating", "deployment_environment_creation_in_progress_error"),
    );
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").operation).toMatchObject({ state: "in progress", step: "start_install" });
    d.cloudify.autoFinish = "terminated";
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").status).toBe("provisioned");
  });

  it("M15 deletion refused while executions run: the deprovision waits and then deletes", async () => {
    // uninstall ends, but something else (e.g. an operator's workflow) still runs on the deployment.
    await uninstalledForDeletion("i1");
    await d.cloudify.startExecution({ deploymentId: "osb-i1", workflowId: "heal", queue: true });
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").operation).toMatchObject({ state: "in progress", step: "delete_deployment" });
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").status).toBe("deleted");
  });

  it("M15 deletion refused for live nodes an install left after the uninstall: uninstalled again, then deleted (never waits forever)", async () => {
    await uninstalledForDeletion("i1");
    // A halted provision's install, started while the deprovision decided, runs to the end after
    // the uninstall: its nodes are live, and Cloudify refuses the deletion for them.
    const late = await d.cloudify.startExecution({
      deploymentId: "osb-i1",
      workflowId: "install",
      queue: true,
    });
    d.cloudify.finish(late.id);
    d.cloudify.liveNodes.set("osb-i1", ["db_1"]);
    await d.advance(INSTANCES, "i1");
    const uninstalls = d.cloudify.executionsOf("uninstall");
    expect(uninstalls).toHaveLength(2);
    expect(d.instance("i1").operation).toMatchObject({ state: "in progress", step: "wait_uninstall" });
    d.cloudify.liveNodes.delete("osb-i1");
    d.cloudify.finishAll();
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").status).toBe("deleted");
  });

  it("M15 live nodes an uninstall did not remove: the deletion waits, no uninstall loop", async () => {
    await d.provisioned("i1");
    d.cloudify.liveNodes.set("osb-i1", ["db_1"]);
    await deprovisionSmall("i1");
    await d.advance(INSTANCES, "i1");
    await d.advance(INSTANCES, "i1");
    expect(d.cloudify.executionsOf("uninstall")).toHaveLength(1);
    expect(d.instance("i1").operation).toMatchObject({ state: "in progress", step: "delete_deployment" });
  });

  it("a request that replaces the operation while a step runs wins; the step's outcome is dropped", async () => {
    const release = d.cloudify.hold("createDeployment");
    await d.instances.provision(provisionRequest("i1"));
    // The engine is inside create_deployment, waiting on Cloudify; the platform deprovisions.
    await deprovisionSmall("i1");
    release();
    await d.engine.idle();
    expect(d.instance("i1").operation.type).toBe("deprovision");
    await d.advance(INSTANCES, "i1");
    expect(d.instance("i1").status).toBe("deleted");
    expect(d.cloudify.deployments.size).toBe(0);
  });
});
