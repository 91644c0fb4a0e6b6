import type { App } from "../app.js";
import { ManagerError } from "../errors.js";
import { listReply, parseInclude, project } from "../http/listing.js";
import type { RequestContext } from "../http/request.js";
import type { Router } from "../http/router.js";
import { evaluate } from "../model/expressions.js";
import { matchesRules, parseFilterRules, parseLabelList } from "../model/labels.js";
import { evalContext } from "../state/evaluation.js";
import type { DeploymentRecord } from "../state/records.js";
import { renderDeployment, renderLabels } from "../state/render.js";
import { nowIso } from "../util.js";
import { getDeployment, renderDep } from "./common.js";
import { createDeployment, deleteDeployment } from "./deployment-lifecycle.js";

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
        attribute: (name) => renderDep(data, dep)[name],
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
