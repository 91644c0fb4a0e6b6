import type { App } from "../app.js";
import { badParameters, ManagerError, notFound } from "../errors.js";
import { listReply, parseInclude, project } from "../http/listing.js";
import { bodyBool, type RequestContext } from "../http/request.js";
import type { Router } from "../http/router.js";
import type { ParamDef, WorkflowDef } from "../model/blueprints.js";
import { DslValidationError, validateValue } from "../model/constraints.js";
import { newExecution } from "../state/factory.js";
import type { DeploymentRecord, ExecutionRecord, TenantData } from "../state/records.js";
import { ACTIVE_STATUSES } from "../state/records.js";
import { isWorkflowAvailable, nodesActivity, renderExecution } from "../state/render.js";
import { lastLine } from "../util.js";
import { executionsOf, expectDict, getDeployment } from "./common.js";

export function renderExec(data: TenantData, exec: ExecutionRecord): Record<string, unknown> {
  return renderExecution(exec, data.deployments.get(exec.deploymentId)?.displayName ?? exec.deploymentId);
}

function requireString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) throw badParameters(`Missing ${name} in json request body`);
  if (typeof value !== "string") {
    throw badParameters(`${name} parameter is expected to be of type str but is of type ${typeof value}`);
  }
  return value;
}

/** MGR `verify_deployment_environment_created_successfully` (M10); `queue` does not bypass it. */
export function verifyEnvironmentCreated(data: TenantData, dep: DeploymentRecord): void {
  const create = data.executions.get(dep.createExecutionId);
  const status = create?.status ?? "terminated";
  if (status === "terminated") return;
  if (status === "pending") {
    throw new ManagerError(
      "deployment_environment_creation_pending_error",
      `Deployment environment creation is still pending, try again in a minute`,
    );
  }
  if (status === "started") {
    throw new ManagerError(
      "deployment_environment_creation_in_progress_error",
      `Deployment environment creation is still in progress, try again in a minute`,
    );
  }
  if (status === "failed") {
    throw new ManagerError(
      "deployment_creation_error",
      `Can't launch executions since environment creation for deployment ${dep.id} has failed: ${lastLine(create?.error ?? null)}`,
    );
  }
  if (status === "cancelled" || status.endsWith("cancelling")) {
    throw new ManagerError(
      "deployment_creation_error",
      `Can't launch executions since environment creation for deployment ${dep.id} has been cancelled [status=${status}]`,
    );
  }
  throw new ManagerError(
    "deployment_creation_error",
    `Unexpected deployment status for deployment ${dep.id} [status=${status}]`,
  );
}

/** Command-line callers send every parameter as a string; convert where the declared type says so. */
function coerce(def: ParamDef, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (
    (def.type === "integer" || def.type === "float") &&
    value.trim() !== "" &&
    !Number.isNaN(Number(value))
  ) {
    return Number(value);
  }
  if (def.type === "boolean" && ["true", "false"].includes(value.toLowerCase()))
    return value.toLowerCase() === "true";
  return value;
}

/** MGR `Execution.merge_workflow_parameters`: defaults, required, undeclared, types, constraints. */
export function mergeParameters(
  wf: WorkflowDef,
  provided: Record<string, unknown>,
  allowCustom: boolean,
): Record<string, unknown> {
  const illegal = (msg: string) => new ManagerError("illegal_execution_parameters_error", msg);
  const missing = Object.entries(wf.parameters)
    .filter(([name, def]) => def.required && !(name in provided))
    .map(([name]) => name);
  if (missing.length > 0) {
    throw illegal(
      `Workflow "${wf.id}" must be provided with the following parameters to execute: ${missing.join(", ")}`,
    );
  }
  const custom = Object.keys(provided).filter((name) => !(name in wf.parameters));
  if (custom.length > 0 && !allowCustom) {
    throw illegal(
      `Workflow "${wf.id}" does not have the following parameters declared: ${custom.join(", ")}. ` +
        "Remove these parameters or use the flag for allowing custom parameters",
    );
  }
  const merged: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(wf.parameters)) {
    const value = name in provided ? coerce(def, provided[name]) : (def.default ?? null);
    if (value !== null || name in provided) {
      try {
        validateValue("parameter", name, def, value);
      } catch (err) {
        if (err instanceof DslValidationError) throw illegal(`Workflow "${wf.id}": ${err.message}`);
        throw err;
      }
    }
    merged[name] = value;
  }
  for (const name of custom) merged[name] = provided[name];
  return merged;
}

function startExecution(ctx: RequestContext, app: App) {
  const body = ctx.json(true);
  const deploymentId = requireString(body, "deployment_id");
  const workflowId = requireString(body, "workflow_id");
  const provided = expectDict("parameters", body.parameters);
  const allowCustom = bodyBool("allow_custom_parameters", body.allow_custom_parameters, false);
  const force = bodyBool("force", body.force, false);
  const dryRun = bodyBool("dry_run", body.dry_run, false);
  const queue = bodyBool("queue", body.queue, false);
  if (body.scheduled_time !== undefined && body.scheduled_time !== null) {
    throw badParameters("Scheduled executions are not supported by this manager");
  }
  const data = app.store.tenant(ctx.tenantName);
  const dep = getDeployment(data, deploymentId);
  verifyEnvironmentCreated(data, dep);

  const wf = workflowId === "update" ? dep.plan?.update : dep.plan?.workflows[workflowId];
  if (!wf) {
    throw new ManagerError(
      "nonexistent_workflow_error",
      `Workflow ${workflowId} does not exist in the deployment ${dep.id}`,
    );
  }
  // Availability rules of 6.4+ (M13): no uninstall after a failed install or a finished uninstall.
  if (!isWorkflowAvailable(dep, wf)) {
    throw new ManagerError(
      "unavailable_workflow_error",
      `Workflow not available: ${workflowId} requires node instances to be active: ` +
        `${wf.availabilityRules?.node_instances_active?.join(", ")} (currently: ${nodesActivity(dep)})`,
    );
  }
  const parameters = mergeParameters(wf, provided, allowCustom);

  const others = executionsOf(data, dep.id).filter(
    (e) => ACTIVE_STATUSES.has(e.status) || e.status === "queued",
  );
  let status: ExecutionRecord["status"] = "pending";
  // One active execution per deployment unless queued or forced (M11).
  if (others.length > 0 && !force) {
    if (!queue) {
      throw new ManagerError(
        "existing_running_execution_error",
        `The following executions are currently running for this deployment: ${others.map((e) => e.id).join(", ")}. ` +
          'To execute this workflow anyway, pass "force=true" as a query parameter to this request',
      );
    }
    status = "queued";
  }
  const exec = newExecution({
    tenant: dep.tenant,
    kind: "workflow",
    workflowId,
    deploymentId: dep.id,
    blueprintId: dep.blueprintId,
    status,
    parameters,
    isDryRun: dryRun,
    allowCustomParameters: allowCustom,
    createdBy: ctx.user.username,
  });
  data.executions.set(exec.id, exec);
  app.engine.submit(exec);
  return { status: 201, body: renderExec(data, exec) };
}

function getExecution(data: TenantData, id: string): ExecutionRecord {
  const exec = data.executions.get(id);
  if (!exec) throw notFound("Execution", id);
  return exec;
}

export function executionFields(): string[] {
  const probe = renderExecution(
    {
      id: "",
      tenant: "",
      kind: "workflow",
      workflowId: "",
      deploymentId: "",
      blueprintId: "",
      status: "pending",
      error: null,
      createdAt: "",
      startedAt: null,
      endedAt: null,
      parameters: {},
      isDryRun: false,
      allowCustomParameters: false,
      createdBy: "",
      totalOperations: 0,
      finishedOperations: 0,
    },
    "",
  );
  return Object.keys(probe);
}

export function registerExecutionRoutes(router: Router, base: string): void {
  const fields = executionFields();

  router.add("GET", `${base}/executions`, "tenant", (ctx, app) => {
    const data = app.store.tenant(ctx.tenantName);
    const items = [...data.executions.values()].map((e) => renderExec(data, e));
    return listReply(items, ctx.query, { fields, filtered: null, defaultSort: "created_at" });
  });

  router.add("POST", `${base}/executions`, "tenant", startExecution);

  router.add("GET", `${base}/executions/:id`, "tenant", (ctx, app) => {
    const data = app.store.tenant(ctx.tenantName);
    const exec = getExecution(data, ctx.param("id"));
    return { status: 200, body: project(renderExec(data, exec), parseInclude(ctx.query, fields)) };
  });

  router.add("POST", `${base}/executions/:id`, "tenant", (ctx, app) => {
    const data = app.store.tenant(ctx.tenantName);
    const exec = getExecution(data, ctx.param("id"));
    const action = ctx.json(true).action;
    if (action === "cancel" || action === "force-cancel" || action === "kill")
      app.engine.cancel(exec, action);
    else if (action === "resume" || action === "force-resume")
      app.engine.resume(exec, action === "force-resume");
    else if (action === "requeue") {
      throw new ManagerError(
        "conflict_error",
        `Cannot requeue execution \`${exec.id}\` in state: \`${exec.status}\``,
      );
    } else {
      throw badParameters(
        `Unknown action: ${String(action)}. Valid actions are: cancel, force-cancel, kill, resume, force-resume, requeue`,
      );
    }
    return { status: 200, body: renderExec(data, exec) };
  });
}
