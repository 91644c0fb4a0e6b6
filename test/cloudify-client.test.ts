import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import {
  CloudifyApiError,
  type CloudifyClient,
  isEnvironmentNotReady,
  isNotFound,
  isTransient,
  toLabelList,
} from "../src/cloudify/index.js";
import { clientFor, FAST_WAIT, POSTGRES_INPUTS, startTestEmulator } from "./support/emulator.js";

let emulator: EmulatorHandle;
let client: CloudifyClient;

beforeAll(async () => {
  // Deletion lasts long enough that the lifecycle test can see its queued execution before the
  // deployment (and its executions) vanish, however loaded the machine is.
  emulator = await startTestEmulator({ timings: { deleteEnvMs: 1_000 } });
  client = clientFor(emulator);
});

afterAll(async () => {
  await client.close();
  await emulator.close();
});

async function rejection(promise: Promise<unknown>): Promise<CloudifyApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CloudifyApiError);
  return error as CloudifyApiError;
}

/** A deployment whose environment exists (create_deployment_environment terminated). */
async function createReady(
  id: string,
  blueprintId = "postgresql",
  inputs: Record<string, unknown> = POSTGRES_INPUTS,
) {
  const dep = await client.deployments.create(id, { blueprintId, inputs });
  const create = await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
  expect(create.status).toBe("terminated");
  return dep;
}

async function run(deploymentId: string, workflowId: string, parameters?: Record<string, unknown>) {
  const started = await client.executions.start({
    deploymentId,
    workflowId,
    ...(parameters ? { parameters } : {}),
  });
  return client.executions.waitForEnd(started.id, FAST_WAIT);
}

describe("manager calls", () => {
  it("reads the version from the un-versioned /api/version", async () => {
    const version = await client.version();
    expect(version.version).toBe("7.0.4");
    expect(version.edition).toBe("community");
    expect(emulator.requests.count({ method: "GET", path: "/api/version" })).toBeGreaterThan(0);
  });

  it("reads the manager status, with services unless a summary is asked for", async () => {
    const full = await client.status();
    expect(full.status).toBe("OK");
    expect(Object.keys(full.services).length).toBeGreaterThan(0);
    expect((await client.status({ summary: true })).services).toEqual({});
  });
});

describe("authentication and tenants", () => {
  it("turns a wrong password into unauthorized_error (401), not transient", async () => {
    const bad = clientFor(emulator, { auth: { username: "admin", password: "nope" } });
    const error = await rejection(bad.blueprints.list());
    expect(error.status).toBe(401);
    expect(error.errorCode).toBe("unauthorized_error");
    expect(error.message).not.toContain("nope");
    expect(isTransient(error)).toBe(false);
    await bad.close();
  });

  it("reports an unknown tenant as forbidden_error (403)", async () => {
    const other = clientFor(emulator, { tenant: "no_such_tenant" });
    const error = await rejection(other.deployments.list());
    expect(error.status).toBe(403);
    expect(error.errorCode).toBe("forbidden_error");
    expect(error.serverMessage).toContain("invalid tenant name: no_such_tenant");
    await other.close();
  });

  it("authenticates with a minted API token", async () => {
    const token = await client.tokens.create({ description: "tests" });
    expect(token.value).toMatch(new RegExp(`^ctok-${token.id}-[A-Za-z0-9]+$`));
    const viaToken = clientFor(emulator, { auth: { token: token.value } });
    expect((await viaToken.blueprints.get("redis")).id).toBe("redis");
    await client.tokens.delete(token.id);
    const error = await rejection(viaToken.blueprints.get("redis"));
    expect(error.status).toBe(401);
    await viaToken.close();
  });
});

describe("blueprints", () => {
  it("gets a blueprint with typed plan inputs", async () => {
    const bp = await client.blueprints.get("postgresql");
    expect(bp.state).toBe("uploaded");
    const inputs = bp.plan.inputs;
    expect(inputs.instance_name).toMatchObject({
      type: "string",
      display_label: "Instance name",
      constraints: [{ pattern: "^[a-z][a-z0-9-]*$" }, { max_length: 63 }],
    });
    expect(inputs.instance_name?.default).toBeUndefined();
    expect(inputs.pg_version).toMatchObject({
      default: "16",
      constraints: [{ valid_values: ["14", "15", "16"] }],
    });
    expect(inputs.cpu?.constraints).toEqual([{ in_range: [1, 16] }]);
    expect(inputs.admin_password_secret).toMatchObject({ hidden: true, required: false, default: "" });
    expect(Object.keys(bp.plan.workflows)).toEqual(
      expect.arrayContaining(["install", "uninstall", "create_user", "delete_user"]),
    );
  });

  it("answers not_found_error for an unknown blueprint", async () => {
    const error = await rejection(client.blueprints.get("nope"));
    expect(isNotFound(error)).toBe(true);
    expect(error.serverMessage).toBe("Requested `Blueprint` with ID `nope` was not found");
  });

  it("follows pagination until every item is fetched", async () => {
    const paged = clientFor(emulator, { pageSize: 1 });
    emulator.requests.clear();
    const blueprints = await paged.blueprints.list({ include: ["id"] });
    expect(blueprints.map((b) => b.id)).toEqual(["postgresql", "postgresql-v2", "redis"]);
    expect(blueprints[0]).toEqual({ id: "postgresql" });
    expect(emulator.requests.count({ method: "GET", path: "/api/v3.1/blueprints" })).toBe(3);
    await paged.close();
  });
});

describe("deployment creation", () => {
  it("creates asynchronously: a half-empty deployment first, populated once the environment exists", async () => {
    const labels = toLabelList({ "osb-instance-id": "c-1", env: ["dev", "eu"] });
    const dep = await client.deployments.create("c-1", {
      blueprintId: "postgresql",
      inputs: { instance_name: "pg-c1", cpu: 2 },
      labels,
      displayName: "orders db",
    });
    expect(dep.inputs).toEqual({});
    expect(dep.labels).toEqual([]);
    expect(dep.workflows).toEqual([]);
    expect(dep.latest_execution).toBe(dep.create_execution);
    expect(dep.latest_execution_status).toBe("in_progress");
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    const ready = await client.deployments.get("c-1");
    expect(ready.display_name).toBe("orders db");
    expect(ready.inputs).toMatchObject({ instance_name: "pg-c1", cpu: 2, db_name: "app", pg_version: "16" });
    expect(ready.labels.map((l) => [l.key, l.value])).toEqual([
      ["osb-instance-id", "c-1"],
      ["env", "dev"],
      ["env", "eu"],
    ]);
    expect(ready.labels[0]?.created_by).toBe("admin");
    expect(ready.installation_status).toBe("inactive");
    expect(ready.deployment_status).toBe("requires_attention");
    expect(ready.latest_execution_status).toBe("completed");
    expect(ready.outputs.host).toEqual({
      description: "Address of the server",
      value: { get_attribute: ["db", "host"] },
    });
  });

  it("creates synchronously when asked, answering only once the environment exists", async () => {
    const dep = await client.deployments.create("c-sync", {
      blueprintId: "redis",
      inputs: {},
      asyncCreate: false,
    });
    expect(dep.inputs).toMatchObject({ memory_mb: 256, tls: true });
    expect(dep.workflows.map((w) => w.name)).toEqual(["install", "uninstall"]);
  });

  it("refuses a second deployment with the same id with conflict_error (409)", async () => {
    await createReady("c-dup");
    const error = await rejection(
      client.deployments.create("c-dup", { blueprintId: "postgresql", inputs: POSTGRES_INPUTS }),
    );
    expect(error.status).toBe(409);
    expect(error.errorCode).toBe("conflict_error");
  });

  it("reports missing required inputs before unknown ones, at PUT time", async () => {
    const missing = await rejection(
      client.deployments.create("c-in", { blueprintId: "postgresql", inputs: { bogus: 1 } }),
    );
    expect(missing.errorCode).toBe("missing_required_deployment_input_error");
    expect(missing.serverMessage).toContain("['instance_name']");
    const unknown = await rejection(
      client.deployments.create("c-in", {
        blueprintId: "postgresql",
        inputs: { ...POSTGRES_INPUTS, bogus: 1 },
      }),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.errorCode).toBe("unknown_deployment_input_error");
    expect(isNotFound(await rejection(client.deployments.get("c-in")))).toBe(true);
  });

  it("fails the create workflow on a constraint violation, and allows a retry with the same id", async () => {
    const dep = await client.deployments.create("c-bad", {
      blueprintId: "postgresql",
      inputs: { instance_name: "pg-x", memory_gb: 3 },
    });
    const create = await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    expect(create.status).toBe("failed");
    const reason = await client.explainFailure(create);
    expect(reason).toContain(
      "Value 3 of input memory_gb violates constraint valid_values(1, 2, 4, 8, 16, 32)",
    );
    const blocked = await rejection(
      client.executions.start({ deploymentId: "c-bad", workflowId: "install" }),
    );
    expect(blocked.errorCode).toBe("deployment_creation_error");
    expect(blocked.serverMessage).toContain("has failed");

    const retried = await createReady("c-bad", "postgresql", { instance_name: "pg-x", memory_gb: 4 });
    expect(retried.id).toBe("c-bad");
  });

  it("answers a failed synchronous create with deployment_creation_error carrying the reason", async () => {
    const error = await rejection(
      client.deployments.create("c-sync-bad", {
        blueprintId: "redis",
        inputs: { eviction_policy: "random" },
        asyncCreate: false,
      }),
    );
    expect(error.status).toBe(400);
    expect(error.errorCode).toBe("deployment_creation_error");
    expect(error.serverMessage).toContain("eviction_policy");
  });
});

describe("executions", () => {
  it("refuses workflows while the environment is pending, then while it is being created", async () => {
    // A second, slower manager, so the pending and started phases are wide enough to hit.
    const slowEmulator = await startTestEmulator({ timings: { pendingMs: 250, createEnvMs: 400 } });
    const slow = clientFor(slowEmulator);
    try {
      await slow.deployments.create("g-1", { blueprintId: "redis" });
      const pending = await rejection(
        slow.executions.start({ deploymentId: "g-1", workflowId: "install", queue: true }),
      );
      expect(pending.errorCode).toBe("deployment_environment_creation_pending_error");
      expect(isEnvironmentNotReady(pending)).toBe(true);
      let inProgress: CloudifyApiError | undefined;
      for (let i = 0; i < 200 && !inProgress; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const error = await rejection(slow.executions.start({ deploymentId: "g-1", workflowId: "install" }));
        if (error.errorCode === "deployment_environment_creation_in_progress_error") inProgress = error;
      }
      expect(inProgress?.status).toBe(400);
      expect(isEnvironmentNotReady(inProgress)).toBe(true);
    } finally {
      await slow.close();
      await slowEmulator.close();
    }
  });

  it("refuses a concurrent execution unless queued; a queued one runs after the first", async () => {
    // Slow enough that the first execution is still running when the others are posted, and a
    // workflow without availability rules, so only concurrency decides.
    const slowEmulator = await startTestEmulator({
      timings: { workflowMs: 1_500, scale: 1 },
      blueprints: { blueprints: [{ id: "q", nodes: { a: { type: "t" } }, workflows: { noop: {} } }] },
    });
    const slow = clientFor(slowEmulator);
    try {
      const dep = await slow.deployments.create("q-1", { blueprintId: "q" });
      await slow.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
      const first = await slow.executions.start({ deploymentId: "q-1", workflowId: "noop" });
      expect(first.status).toBe("pending");
      const refused = await rejection(slow.executions.start({ deploymentId: "q-1", workflowId: "noop" }));
      expect(refused.errorCode).toBe("existing_running_execution_error");
      expect(refused.serverMessage).toContain(first.id);
      const queued = await slow.executions.start({ deploymentId: "q-1", workflowId: "noop", queue: true });
      expect(queued.status).toBe("queued");
      const done = await slow.executions.waitForEnd(queued.id, FAST_WAIT);
      expect(done.status).toBe("terminated");
      const ended = await slow.executions.get(first.id);
      expect(ended.status).toBe("terminated");
      expect(Date.parse(done.started_at as string)).toBeGreaterThanOrEqual(
        Date.parse(ended.ended_at as string),
      );
    } finally {
      await slow.close();
      await slowEmulator.close();
    }
  });

  it("checks workflow existence and declared parameters", async () => {
    await createReady("p-1");
    expect((await run("p-1", "install")).status).toBe("terminated");
    const missingWf = await rejection(
      client.executions.start({ deploymentId: "p-1", workflowId: "heal_everything" }),
    );
    expect(missingWf.errorCode).toBe("nonexistent_workflow_error");
    const missingParam = await rejection(
      client.executions.start({ deploymentId: "p-1", workflowId: "create_user" }),
    );
    expect(missingParam.errorCode).toBe("illegal_execution_parameters_error");
    expect(missingParam.serverMessage).toContain("username");
    const undeclared = await rejection(
      client.executions.start({
        deploymentId: "p-1",
        workflowId: "create_user",
        parameters: { username: "a", x: 1 },
      }),
    );
    expect(undeclared.errorCode).toBe("illegal_execution_parameters_error");
    const allowed = await client.executions.start({
      deploymentId: "p-1",
      workflowId: "create_user",
      parameters: { username: "a", x: 1 },
      allowCustomParameters: true,
    });
    expect(allowed.parameters).toEqual({ username: "a", privileges: "readwrite", password: "", x: 1 });
    await client.executions.waitForEnd(allowed.id, FAST_WAIT);
    const badValue = await rejection(
      client.executions.start({
        deploymentId: "p-1",
        workflowId: "create_user",
        parameters: { username: "b", privileges: "root" },
      }),
    );
    expect(badValue.errorCode).toBe("illegal_execution_parameters_error");
  });

  it("refuses a workflow whose availability rules are not met", async () => {
    await createReady("p-2");
    const error = await rejection(
      client.executions.start({
        deploymentId: "p-2",
        workflowId: "create_user",
        parameters: { username: "u" },
      }),
    );
    expect(error.errorCode).toBe("unavailable_workflow_error");
  });

  it("lists executions of a deployment by workflow", async () => {
    await createReady("l-1", "redis", {});
    await run("l-1", "install");
    const all = await client.executions.list({ deploymentId: "l-1" });
    expect(all.map((e) => e.workflow_id)).toEqual(["create_deployment_environment", "install"]);
    const installs = await client.executions.list({ deploymentId: "l-1", workflowId: "install" });
    expect(installs).toHaveLength(1);
    expect(installs[0]?.status_display).toBe("completed");
    expect(installs[0]?.error).toBe("");
  });

  it("cancels a running execution, which ends cancelled with an empty error", async () => {
    // A manager whose workflows run long enough to be cancelled mid-way.
    const slowEmulator = await startTestEmulator({ timings: { workflowMs: 2_000, scale: 1 } });
    const slow = clientFor(slowEmulator);
    try {
      const dep = await slow.deployments.create("x-1", { blueprintId: "redis" });
      await slow.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
      const exec = await slow.executions.start({ deploymentId: "x-1", workflowId: "install" });
      const cancelling = await slow.executions.cancel(exec.id);
      expect(["cancelling", "cancelled"]).toContain(cancelling.status);
      const ended = await slow.executions.waitForEnd(exec.id, FAST_WAIT);
      expect(ended.status).toBe("cancelled");
      expect(ended.error).toBe("");
      const again = await rejection(slow.executions.cancel(exec.id));
      expect(again.errorCode).toBe("illegal_action_error");
      const dep2 = await slow.deployments.get("x-1");
      expect(dep2.latest_execution_status).toBe("cancelled");
      expect(dep2.installation_status).toBe("inactive");
      expect(await slow.explainFailure(ended)).toContain("cancelled");
    } finally {
      await slow.close();
      await slowEmulator.close();
    }
  });

  it("explains a failed workflow with the error's last line and the failing task", async () => {
    emulator.faults.add({
      type: "fail_workflow",
      workflowId: "install",
      deploymentId: "f-1",
      message: "disk full",
      times: 1,
    });
    await createReady("f-1", "redis", {});
    const failed = await run("f-1", "install");
    expect(failed.status).toBe("failed");
    expect(failed.error?.split("\n").pop()).toBe("RuntimeError: disk full");
    const events = await client.events.list({ executionId: failed.id });
    expect(events.map((e) => e.event_type ?? e.level)).toEqual([
      "workflow_started",
      "error",
      "workflow_failed",
    ]);
    expect(events[2]?.error_causes?.[0]).toMatchObject({ message: "disk full", type: "RuntimeError" });
    const reason = await client.explainFailure(failed.id);
    expect(reason).toBe("RuntimeError: disk full | Task failed 'script_runner.tasks.run' -> disk full");
    const dep = await client.deployments.get("f-1");
    expect(dep.latest_execution_status).toBe("failed");
    expect(dep.deployment_status).toBe("requires_attention");
    expect((await run("f-1", "install")).status).toBe("terminated");
    expect((await client.deployments.get("f-1")).deployment_status).toBe("good");
  });
});

describe("deletion", () => {
  it("refuses to delete a deployment with live nodes unless forced", async () => {
    await createReady("d-1", "redis", {});
    await run("d-1", "install");
    const error = await rejection(client.deployments.delete("d-1"));
    expect(error.errorCode).toBe("dependent_exists_error");
    expect(error.serverMessage).toContain("live nodes");
    await client.deployments.delete("d-1", { force: true });
    await client.deployments.waitUntilGone("d-1", FAST_WAIT);
  });

  it("refuses to delete while an execution is running", async () => {
    const dep = await client.deployments.create("d-2", { blueprintId: "redis" });
    const error = await rejection(client.deployments.delete("d-2", { force: true }));
    expect(error.errorCode).toBe("dependent_exists_error");
    expect(error.serverMessage).toContain("running or queued executions");
    await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
  });
});

describe("labels, secrets and updates", () => {
  it("finds deployments by labels and attributes", async () => {
    for (const [id, tier] of [
      ["s-1", "gold"],
      ["s-2", "silver"],
    ] as const) {
      const dep = await client.deployments.create(id, {
        blueprintId: "redis",
        labels: toLabelList({ "osb-instance-id": id, tier }),
      });
      await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    }
    const gold = await client.deployments.searchByLabels({ tier: "gold" });
    expect(gold.map((d) => d.id)).toEqual(["s-1"]);
    const both = await client.deployments.searchByLabels({ tier: ["gold", "silver"] }, { include: ["id"] });
    expect(both).toEqual([{ id: "s-1" }, { id: "s-2" }]);
    const none = await client.deployments.searchByLabels(
      { tier: "gold" },
      {
        attributes: [{ type: "attribute", key: "blueprint_id", operator: "any_of", values: ["postgresql"] }],
      },
    );
    expect(none).toEqual([]);
    const relabelled = await client.deployments.setLabels("s-2", toLabelList({ tier: "gold" }));
    expect(relabelled.labels.map((l) => l.key)).toEqual(["tier"]);
    expect((await client.deployments.searchByLabels({ tier: "gold" })).map((d) => d.id)).toEqual([
      "s-1",
      "s-2",
    ]);
  });

  it("rejects a malformed filter rule with invalid_filter_rule", async () => {
    const error = await rejection(
      client.deployments.search([
        { type: "label", key: "tier", operator: "starts_with" as never, values: ["g"] },
      ]),
    );
    expect(error.errorCode).toBe("invalid_filter_rule");
  });

  it("stores, reads and deletes secrets; a duplicate is a conflict", async () => {
    await client.secrets.create("db-pass", "s3cr3t");
    expect((await client.secrets.get("db-pass")).value).toBe("s3cr3t");
    const dup = await rejection(client.secrets.create("db-pass", "other"));
    expect(dup.status).toBe(409);
    await client.secrets.create("db-pass", "other", { updateIfExists: true });
    expect((await client.secrets.get("db-pass")).value).toBe("other");
    expect((await client.secrets.list()).find((s) => s.key === "db-pass")?.value).toBeUndefined();
    await client.secrets.delete("db-pass");
    expect(isNotFound(await rejection(client.secrets.get("db-pass")))).toBe(true);
  });

  it("rejects an update naming an undeclared input", async () => {
    await createReady("u-0", "redis", {});
    const error = await rejection(client.deploymentUpdates.initiate("u-0", { inputs: { colour: "red" } }));
    expect(error.errorCode).toBe("unknown_deployment_input_error");
  });

  it("fails an update whose new inputs violate a constraint, leaving the deployment as it was", async () => {
    await createReady("u-1", "redis", {});
    const update = await client.deploymentUpdates.initiate("u-1", { inputs: { memory_mb: 100 } });
    const exec = await client.executions.waitForEnd(update.execution_id as string, FAST_WAIT);
    expect(exec.status).toBe("failed");
    expect((await client.deploymentUpdates.get(update.id)).state).toBe("failed");
    expect((await client.deployments.get("u-1")).inputs.memory_mb).toBe(256);
  });
});

describe("full lifecycle", () => {
  it("creates, installs, binds users, updates, uninstalls and deletes a PostgreSQL deployment", async () => {
    const id = "life-1";
    const dep = await client.deployments.create(id, {
      blueprintId: "postgresql",
      inputs: { instance_name: "pg-life", db_name: "orders" },
      labels: toLabelList({ "osb-instance-id": id }),
    });
    const create = await client.executions.waitForEnd(dep.create_execution as string, FAST_WAIT);
    expect(create.status).toBe("terminated");

    const before = await client.deployments.capabilities(id);
    expect(before.host).toBeNull();
    expect(before.uri).toBe("postgres://postgres:None@None:5432/orders");

    const install = await run(id, "install");
    expect(install.status).toBe("terminated");
    const installed = await client.deployments.get(id);
    expect(installed.installation_status).toBe("active");
    expect(installed.deployment_status).toBe("good");
    expect(installed.latest_execution).toBe(install.id);

    const outputs = await client.deployments.outputs(id);
    expect(outputs).toMatchObject({ port: 5432, database: "orders", version: "16" });
    expect(outputs.host).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(outputs.jdbc_url).toBe(`jdbc:postgresql://${outputs.host}:5432/orders`);
    const caps = await client.deployments.capabilities(id);
    expect(caps.admin_password).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(caps.uri).toBe(`postgres://postgres:${caps.admin_password}@${outputs.host}:5432/orders`);
    expect(caps.users).toEqual({});

    expect((await run(id, "create_user", { username: "u_1", privileges: "readonly" })).status).toBe(
      "terminated",
    );
    expect((await run(id, "create_user", { username: "u_2" })).status).toBe("terminated");
    let users = (await client.deployments.capabilities(id)).users as Record<string, Record<string, string>>;
    expect(Object.keys(users)).toEqual(["u_1", "u_2"]);
    expect(users.u_1).toMatchObject({ username: "u_1", privileges: "readonly" });
    expect(users.u_1?.password).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(users.u_2?.privileges).toBe("readwrite");
    expect((await run(id, "delete_user", { username: "u_1" })).status).toBe("terminated");
    users = (await client.deployments.capabilities(id)).users as Record<string, Record<string, string>>;
    expect(Object.keys(users)).toEqual(["u_2"]);

    const update = await client.deploymentUpdates.initiate(id, {
      blueprintId: "postgresql-v2",
      inputs: { pg_version: "17" },
    });
    expect(update.state).toBe("updating");
    expect(update.old_blueprint_id).toBe("postgresql");
    expect(update.new_inputs).toMatchObject({ pg_version: "17", db_name: "orders" });
    const updateExec = await client.executions.waitForEnd(update.execution_id as string, FAST_WAIT);
    expect(updateExec.workflow_id).toBe("update");
    expect(updateExec.status).toBe("terminated");
    expect((await client.deploymentUpdates.get(update.id)).state).toBe("successful");
    const updated = await client.deployments.get(id);
    expect(updated.blueprint_id).toBe("postgresql-v2");
    expect(updated.inputs.pg_version).toBe("17");
    expect((await client.deployments.outputs(id)).version).toBe("17");
    expect((await client.deployments.capabilities(id)).admin_password).toBe(caps.admin_password);

    expect((await run(id, "uninstall")).status).toBe("terminated");
    const uninstalled = await client.deployments.get(id);
    expect(uninstalled.installation_status).toBe("inactive");
    expect((await client.deployments.capabilities(id)).host).toBeNull();

    await client.deployments.delete(id);
    const deleting = await client.deployments.get(id);
    expect(deleting.deployment_status).toBe("in_progress");
    const deleteExecs = await client.executions.list({
      deploymentId: id,
      workflowId: "delete_deployment_environment",
    });
    expect(deleteExecs).toHaveLength(1);
    await client.deployments.waitUntilGone(id, FAST_WAIT);
    expect(isNotFound(await rejection(client.executions.get(install.id)))).toBe(true);
    expect(await client.executions.list({ deploymentId: id })).toEqual([]);
  });
});
