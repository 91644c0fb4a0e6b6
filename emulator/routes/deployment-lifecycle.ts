import type { App } from "../app.js";
import { badParameters, ManagerError, notFound } from "../errors.js";
import { bodyBool, type RequestContext } from "../http/request.js";
import { parseLabelList } from "../model/labels.js";
import { newExecution } from "../state/factory.js";
import type { DeploymentRecord } from "../state/records.js";
import { ACTIVE_STATUSES } from "../state/records.js";
import { lastLine, nowIso, pyList, pyStr } from "../util.js";
import { checkInputNames, executionsOf, expectDict, getDeployment, renderDep, validateId } from "./common.js";

/**
 * PUT and DELETE /deployments/{id} (MGR `resources_v3_1/deployments.py`, `resources_v1/deployments.py`):
 * both only start a system workflow; the rows appear and disappear when it ends.
 */

const VISIBILITIES = ["private", "tenant", "global"];

export async function createDeployment(ctx: RequestContext, app: App) {
  const id = ctx.param("id");
  validateId(id, "deployment_id");
  const body = ctx.json(true);
  const asyncCreate = ctx.boolQuery("async_create", false);
  const blueprintId = body.blueprint_id;
  if (blueprintId === undefined || blueprintId === null)
    throw badParameters("Missing blueprint_id in json request body");
  if (typeof blueprintId !== "string")
    throw badParameters("blueprint_id parameter is expected to be of type str");
  const inputs = expectDict("inputs", body.inputs);
  parseLabelList(body.labels);
  const visibility = body.visibility ?? "tenant";
  if (typeof visibility !== "string" || !VISIBILITIES.includes(visibility)) {
    throw badParameters(
      `Invalid visibility: \`${pyStr(visibility)}\`. Valid visibility's values are: ${pyList(VISIBILITIES)}`,
    );
  }
  if (
    body.display_name !== undefined &&
    body.display_name !== null &&
    typeof body.display_name !== "string"
  ) {
    throw badParameters("display_name parameter is expected to be of type str");
  }
  bodyBool("skip_plugins_validation", body.skip_plugins_validation, false);
  const runtimeOnly = bodyBool("runtime_only_evaluation", body.runtime_only_evaluation, false);

  const bp = app.store.blueprints.get(blueprintId);
  if (!bp) throw notFound("Blueprint", blueprintId);
  if (bp.state !== "uploaded") {
    throw new ManagerError(
      "deployment_creation_error",
      `Can't create deployment - blueprint ${blueprintId} is not uploaded, its state is ${bp.state}`,
    );
  }
  const tenant = ctx.tenantName;
  const data = app.store.tenant(tenant);
  const existing = data.deployments.get(id);
  if (existing) {
    // A deployment whose only execution is a failed create is replaced, so a retry after bad inputs works.
    const execs = executionsOf(data, id);
    const failedCreateOnly =
      execs.length === 1 && execs[0]?.kind === "create_env" && execs[0].status === "failed";
    if (!failedCreateOnly) {
      throw new ManagerError(
        "conflict_error",
        `<Deployment id=\`${id}\` tenant=\`${tenant}\`> already exists on <Tenant name=\`${tenant}\`> or with global visibility`,
      );
    }
    app.engine.removeDeployment(tenant, id);
  }
  checkInputNames(bp.inputs, inputs);

  const now = nowIso();
  const displayName = (body.display_name as string | undefined) ?? id;
  const exec = newExecution({
    tenant,
    kind: "create_env",
    workflowId: "create_deployment_environment",
    deploymentId: id,
    blueprintId,
    parameters: { inputs, labels: body.labels ?? [], display_name: displayName },
    createdBy: ctx.user.username,
  });
  const dep: DeploymentRecord = {
    id,
    tenant,
    displayName,
    visibility,
    createdBy: ctx.user.username,
    createdAt: now,
    updatedAt: now,
    siteName: typeof body.site_name === "string" ? body.site_name : null,
    runtimeOnlyEvaluation: runtimeOnly,
    blueprintId,
    plan: null,
    inputs: {},
    labels: [],
    nodes: [],
    createExecutionId: exec.id,
    latestExecutionId: exec.id,
    installationStatus: null,
    deletePending: false,
  };
  data.deployments.set(id, dep);
  data.executions.set(exec.id, exec);
  app.engine.submit(exec);
  if (asyncCreate) return { status: 201, body: renderDep(data, dep) };

  const ended = await Promise.race([
    app.engine.whenEnded(exec),
    new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), app.syncCreateTimeoutMs).unref(),
    ),
  ]);
  if (ended === "timeout" || ended === undefined) {
    throw new ManagerError(
      "internal_server_error",
      "Timed out waiting for the deployment environment to be created",
    );
  }
  if (ended.status !== "terminated") {
    const reason = ended.status === "failed" ? lastLine(ended.error) : `create execution ${ended.status}`;
    throw new ManagerError("deployment_creation_error", reason);
  }
  return { status: 201, body: renderDep(data, getDeployment(data, id)) };
}

export function deleteDeployment(ctx: RequestContext, app: App) {
  const data = app.store.tenant(ctx.tenantName);
  const dep = getDeployment(data, ctx.param("id"));
  const force = ctx.boolQuery("force", false);
  const deleteLogs = ctx.boolQuery("delete_logs", false);
  const recursive = ctx.boolQuery("recursive", false);
  const execs = executionsOf(data, dep.id);
  // Refused while anything runs or nodes are live (M15); force skips only the live-node check.
  const busy = execs.filter((e) => ACTIVE_STATUSES.has(e.status) || e.status === "queued");
  if (busy.length > 0) {
    throw new ManagerError(
      "dependent_exists_error",
      `Can't delete deployment ${dep.id} - There are running or queued executions for this deployment. ` +
        `Running executions ids: ${busy.map((e) => e.id).join(", ")}`,
    );
  }
  const live = dep.nodes.filter((n) => n.state !== "uninitialized" && n.state !== "deleted");
  if (live.length > 0 && !force) {
    throw new ManagerError(
      "dependent_exists_error",
      `Can't delete deployment ${dep.id} - There are live nodes for this deployment. ` +
        `Live nodes ids: ${live.map((n) => n.id).join(", ")}`,
    );
  }
  const exec = newExecution({
    tenant: dep.tenant,
    kind: "delete_env",
    workflowId: "delete_deployment_environment",
    deploymentId: dep.id,
    blueprintId: dep.blueprintId,
    parameters: { delete_logs: deleteLogs, force, recursive },
    createdBy: ctx.user.username,
  });
  dep.deletePending = true;
  data.executions.set(exec.id, exec);
  app.engine.submit(exec);
  return { status: 204 };
}
