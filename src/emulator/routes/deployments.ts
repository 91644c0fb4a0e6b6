import type { App } from "../app.js";
import { badParameters, ManagerError, notFound } from "../errors.js";
import { listReply, parseInclude, project } from "../http/listing.js";
import { bodyBool, type RequestContext } from "../http/request.js";
import type { Router } from "../http/router.js";
import { evaluate } from "../model/expressions.js";
import { matchesRules, parseFilterRules, parseLabelList } from "../model/labels.js";
import { evalContext } from "../state/evaluation.js";
import type { DeploymentRecord, ExecutionRecord, TenantData } from "../state/records.js";
import { ACTIVE_STATUSES } from "../state/records.js";
import { installationStatus, renderDeployment, renderLabels } from "../state/render.js";
import { newId, nowIso, pyList, pyStr } from "../util.js";

const ID_RE = /^[A-Za-z0-9._~-]{1,256}$/;
const VISIBILITIES = ["private", "tenant", "global"];
const SEARCH_ATTRIBUTES = [
  "id",
  "blueprint_id",
  "created_by",
  "site_name",
  "schedules",
  "tenant_name",
  "display_name",
  "installation_status",
];

export function validateId(value: string, argument: string): void {
  if (!ID_RE.test(value)) {
    throw badParameters(
      `The \`${argument}\` argument contains illegal characters. Only letters, digits and the characters ` +
        '"-", "." and "_" are allowed',
    );
  }
}

export function getDeployment(data: TenantData, id: string): DeploymentRecord {
  const dep = data.deployments.get(id);
  if (!dep) throw notFound("Deployment", id);
  return dep;
}

export function executionsOf(data: TenantData, deploymentId: string): ExecutionRecord[] {
  return [...data.executions.values()].filter((e) => e.deploymentId === deploymentId);
}

export function renderDep(data: TenantData, dep: DeploymentRecord): Record<string, unknown> {
  return renderDeployment(dep, data.executions.get(dep.latestExecutionId));
}

function pyType(value: unknown): string {
  if (typeof value === "string") return "str";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "list";
  return value === null ? "NoneType" : "dict";
}

export function expectDict(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw badParameters(`${name} parameter is expected to be of type dict but is of type ${pyType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Input *names* are checked at PUT time; types and constraints inside the create workflow. */
export function checkInputNames(
  declared: Record<string, { required: boolean }>,
  provided: Record<string, unknown>,
  onlyUnknown = false,
): void {
  const names = Object.keys(declared);
  const missing = names.filter((n) => declared[n]?.required && !(n in provided));
  if (missing.length > 0 && !onlyUnknown) {
    throw new ManagerError(
      "missing_required_deployment_input_error",
      `Required inputs ${pyList(missing)} were not specified - expected inputs: ${pyList(names)}`,
    );
  }
  const unknown = Object.keys(provided).filter((n) => !(n in declared));
  if (unknown.length > 0) {
    throw new ManagerError(
      "unknown_deployment_input_error",
      `Unknown input(s) ${pyList(unknown)} specified - expected inputs: ${pyList(names)}`,
    );
  }
}

function lastLine(text: string | null): string {
  const lines = (text ?? "").split("\n").filter((l) => l.trim() !== "");
  return lines[lines.length - 1] ?? "";
}

async function createDeployment(ctx: RequestContext, app: App) {
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
  const exec: ExecutionRecord = {
    id: newId(),
    tenant,
    kind: "create_env",
    workflowId: "create_deployment_environment",
    deploymentId: id,
    blueprintId,
    status: "pending",
    error: null,
    createdAt: now,
    startedAt: null,
    endedAt: null,
    parameters: { inputs, labels: body.labels ?? [], display_name: displayName },
    isDryRun: false,
    allowCustomParameters: false,
    createdBy: ctx.user.username,
    totalOperations: 0,
    finishedOperations: 0,
  };
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

function deleteDeployment(ctx: RequestContext, app: App) {
  const data = app.store.tenant(ctx.tenantName);
  const dep = getDeployment(data, ctx.param("id"));
  const force = ctx.boolQuery("force", false);
  const deleteLogs = ctx.boolQuery("delete_logs", false);
  const recursive = ctx.boolQuery("recursive", false);
  const execs = executionsOf(data, dep.id);
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
  const exec: ExecutionRecord = {
    id: newId(),
    tenant: dep.tenant,
    kind: "delete_env",
    workflowId: "delete_deployment_environment",
    deploymentId: dep.id,
    blueprintId: dep.blueprintId,
    status: "pending",
    error: null,
    createdAt: nowIso(),
    startedAt: null,
    endedAt: null,
    parameters: { delete_logs: deleteLogs, force, recursive },
    isDryRun: false,
    allowCustomParameters: false,
    createdBy: ctx.user.username,
    totalOperations: 0,
    finishedOperations: 0,
  };
  dep.deletePending = true;
  data.executions.set(exec.id, exec);
  app.engine.submit(exec);
  return { status: 204 };
}

function evaluateAll(
  app: App,
  ctx: RequestContext,
  kind: "outputs" | "capabilities",
): Record<string, unknown> {
  const data = app.store.tenant(ctx.tenantName);
  const dep = getDeployment(data, ctx.param("id"));
  const defs = dep.plan?.[kind] ?? {};
  const context = evalContext(dep, data);
  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    try {
      values[name] = evaluate(def.value, context);
    } catch (err) {
      const code =
        kind === "outputs"
          ? "deployment_outputs_evaluation_error"
          : "deployment_capabilities_evaluation_error";
      throw new ManagerError(
        code,
        `Error evaluating ${kind.slice(0, -1)} ${name}: ${(err as Error).message}`,
      );
    }
  }
  return { deployment_id: dep.id, [kind]: values };
}

export function deploymentFields(): string[] {
  const probe: DeploymentRecord = {
    id: "",
    tenant: "",
    displayName: "",
    visibility: "tenant",
    createdBy: "",
    createdAt: "",
    updatedAt: "",
    siteName: null,
    runtimeOnlyEvaluation: false,
    blueprintId: "",
    plan: null,
    inputs: {},
    labels: [],
    nodes: [],
    createExecutionId: "",
    latestExecutionId: "",
    installationStatus: null,
    deletePending: false,
  };
  return Object.keys(renderDeployment(probe, undefined));
}

export function registerDeploymentRoutes(router: Router, base: string): void {
  const fields = deploymentFields();
  const labelsOf = (item: Record<string, unknown>) => item.labels as Array<{ key: string; value: string }>;
  const ignore = ["all_sub_deployments", "include_workdir", "_get_data"];

  router.add("GET", `${base}/deployments`, "tenant", (ctx, app) => {
    const data = app.store.tenant(ctx.tenantName);
    let items = [...data.deployments.values()].map((d) => renderDep(data, d));
    const byName = ctx.query.get("_search_name");
    if (byName) items = items.filter((i) => String(i.display_name).includes(byName));
    return listReply(items, ctx.query, {
      fields,
      ignore,
      labelsOf,
      filtered: null,
      defaultSort: "created_at",
    });
  });

  router.add("POST", `${base}/searches/deployments`, "tenant", (ctx, app) => {
    const data = app.store.tenant(ctx.tenantName);
    const rules = parseFilterRules(ctx.json(false).filter_rules, SEARCH_ATTRIBUTES);
    const deps = [...data.deployments.values()];
    const matching = deps.filter((dep) =>
      matchesRules(rules, {
        labels: dep.labels,
        attribute: (name) =>
          name === "installation_status" ? installationStatus(dep) : renderDep(data, dep)[name],
      }),
    );
    return listReply(
      matching.map((d) => renderDep(data, d)),
      ctx.query,
      {
        fields,
        ignore,
        labelsOf,
        filtered: rules.length > 0 ? deps.length - matching.length : null,
        defaultSort: "created_at",
      },
    );
  });

  router.add("PUT", `${base}/deployments/:id`, "tenant", createDeployment);

  router.add("GET", `${base}/deployments/:id`, "tenant", (ctx, app) => {
    const include = parseInclude(ctx.query, fields);
    const data = app.store.tenant(ctx.tenantName);
    return { status: 200, body: project(renderDep(data, getDeployment(data, ctx.param("id"))), include) };
  });

  router.add("PATCH", `${base}/deployments/:id`, "tenant", (ctx, app) => {
    const data = app.store.tenant(ctx.tenantName);
    const dep = getDeployment(data, ctx.param("id"));
    const body = ctx.json(true);
    for (const [key, value] of Object.entries(body)) {
      if (key === "labels" || key === "display_name" || value === null || value === undefined) continue;
      throw new ManagerError(
        "conflict_error",
        `Deployment attribute \`${key}\` can only be set by the deployment's workflows`,
      );
    }
    if (body.labels !== undefined && body.labels !== null) {
      const now = nowIso();
      dep.labels = parseLabelList(body.labels).map((l) => ({
        ...l,
        createdAt: dep.labels.find((o) => o.key === l.key && o.value === l.value)?.createdAt ?? now,
        createdBy: ctx.user.username,
      }));
    }
    if (typeof body.display_name === "string") dep.displayName = body.display_name;
    dep.updatedAt = nowIso();
    return { status: 200, body: { ...renderDep(data, dep), labels: renderLabels(dep.labels) } };
  });

  router.add("DELETE", `${base}/deployments/:id`, "tenant", deleteDeployment);

  router.add("GET", `${base}/deployments/:id/outputs`, "tenant", (ctx, app) => ({
    status: 200,
    body: evaluateAll(app, ctx, "outputs"),
  }));

  router.add("GET", `${base}/deployments/:id/capabilities`, "tenant", (ctx, app) => ({
    status: 200,
    body: evaluateAll(app, ctx, "capabilities"),
  }));
}
