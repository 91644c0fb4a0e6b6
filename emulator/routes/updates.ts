import type { App } from "../app.js";
import { ManagerError, notFound } from "../errors.js";
import { listReply, parseInclude, project } from "../http/listing.js";
import { bodyBool, type RequestContext } from "../http/request.js";
import type { Router } from "../http/router.js";
import { newExecution } from "../state/factory.js";
import type { DeploymentUpdateRecord } from "../state/records.js";
import { renderUpdate } from "../state/render.js";
import { newId, nowIso } from "../util.js";
import { checkInputNames, expectDict, getDeployment } from "./common.js";
import { verifyEnvironmentCreated } from "./executions.js";

/**
 * Deployment updates (MGR `resources_v2_1/deployment_update.py`): new blueprint and/or inputs merged
 * over the current ones, applied by an `update` execution that may overlap other executions.
 */

const FLAGS = [
  "skip_install",
  "skip_uninstall",
  "skip_reinstall",
  "skip_drift_check",
  "skip_heal",
  "force_reinstall",
  "ignore_failure",
  "install_first",
  "update_plugins",
  "force",
];

function initiate(ctx: RequestContext, app: App) {
  const data = app.store.tenant(ctx.tenantName);
  const dep = getDeployment(data, ctx.param("id"));
  const body = ctx.json(false);
  const flags = Object.fromEntries(FLAGS.map((f) => [f, bodyBool(f, body[f], f === "update_plugins")]));
  const preview = bodyBool("preview", body.preview, false);
  const provided = expectDict("inputs", body.inputs);
  const requested = body.blueprint_id;
  const blueprintId = typeof requested === "string" && requested !== "" ? requested : dep.blueprintId;
  const bp = app.store.blueprints.get(blueprintId);
  if (!bp) throw notFound("Blueprint", blueprintId);
  verifyEnvironmentCreated(data, dep);
  const active = [...data.updates.values()].filter(
    (u) => u.deploymentId === dep.id && (u.state === "updating" || u.state === "executing_workflow"),
  );
  if (active.length > 0) {
    throw new ManagerError(
      "conflict_error",
      `There are deployment updates still active; update IDs: ${active.map((u) => u.id).join(", ")}`,
    );
  }
  checkInputNames(bp.inputs, provided, true);
  // Current inputs the new blueprint still declares, overridden by the ones sent.
  const merged = Object.fromEntries(Object.entries(dep.inputs).filter(([name]) => name in bp.inputs));
  Object.assign(merged, provided);
  checkInputNames(bp.inputs, merged);

  const update: DeploymentUpdateRecord = {
    id: `${dep.id}-${newId()}`,
    tenant: dep.tenant,
    deploymentId: dep.id,
    state: preview ? "preview" : "updating",
    executionId: null,
    oldBlueprintId: dep.blueprintId,
    newBlueprintId: bp.id,
    oldInputs: { ...dep.inputs },
    newInputs: merged,
    createdAt: nowIso(),
    createdBy: ctx.user.username,
    runtimeOnlyEvaluation: bodyBool("runtime_only_evaluation", body.runtime_only_evaluation, false),
  };
  data.updates.set(update.id, update);
  if (preview) return { status: 200, body: renderUpdate(update) };

  const exec = newExecution({
    tenant: dep.tenant,
    kind: "update",
    workflowId: "update",
    deploymentId: dep.id,
    blueprintId: bp.id,
    parameters: { update_id: update.id, preview, ...flags },
    allowCustomParameters: true,
    createdBy: ctx.user.username,
    updateId: update.id,
  });
  update.executionId = exec.id;
  data.executions.set(exec.id, exec);
  app.engine.submit(exec);
  return { status: 200, body: renderUpdate(update) };
}

export function registerUpdateRoutes(router: Router, base: string): void {
  const fields = Object.keys(
    renderUpdate({
      id: "",
      tenant: "",
      deploymentId: "",
      state: "updating",
      executionId: null,
      oldBlueprintId: "",
      newBlueprintId: "",
      oldInputs: {},
      newInputs: {},
      createdAt: "",
      createdBy: "",
      runtimeOnlyEvaluation: false,
    }),
  );

  router.add("POST", `${base}/deployment-updates/:id/update/initiate`, "tenant", initiate);

  router.add("GET", `${base}/deployment-updates/:id`, "tenant", (ctx, app) => {
    const update = app.store.tenant(ctx.tenantName).updates.get(ctx.param("id"));
    if (!update) throw notFound("DeploymentUpdate", ctx.param("id"));
    return { status: 200, body: project(renderUpdate(update), parseInclude(ctx.query, fields)) };
  });

  router.add("GET", `${base}/deployment-updates`, "tenant", (ctx, app) => {
    const items = [...app.store.tenant(ctx.tenantName).updates.values()].map(renderUpdate);
    return listReply(items, ctx.query, { fields, filtered: null, defaultSort: "created_at" });
  });
}
