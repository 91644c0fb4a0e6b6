import { notFound } from "../errors.js";
import { listReply, parseInclude, project } from "../http/listing.js";
import type { Router } from "../http/router.js";
import type { BlueprintDef } from "../model/blueprints.js";
import { matchesRules, parseFilterRules } from "../model/labels.js";
import { renderBlueprint } from "../state/render.js";

/** Blueprints are loaded from the catalogue file and visible (global) in every tenant. */

const SEARCH_ATTRIBUTES = ["id", "created_by", "state", "tenant_name"];

export function blueprintFields(): string[] {
  return Object.keys(renderBlueprint(EMPTY, "t"));
}

const EMPTY: BlueprintDef = {
  id: "",
  description: null,
  state: "uploaded",
  mainFileName: "",
  metadata: {},
  blueprintLabels: [],
  deploymentLabels: [],
  inputs: {},
  outputs: {},
  capabilities: {},
  nodes: {},
  workflows: {},
  update: { id: "update", parameters: {}, availabilityRules: null, set: [], unset: [] },
  createdAt: "",
};

export function registerBlueprintRoutes(router: Router, base: string): void {
  const fields = blueprintFields();
  const labelsOf = (item: Record<string, unknown>) => item.labels as Array<{ key: string; value: string }>;

  router.add("GET", `${base}/blueprints`, "tenant", (ctx, app) => {
    const items = [...app.store.blueprints.values()].map((b) => renderBlueprint(b, ctx.tenantName));
    return listReply(items, ctx.query, { fields, labelsOf, filtered: null, defaultSort: "created_at" });
  });

  router.add("GET", `${base}/blueprints/:id`, "tenant", (ctx, app) => {
    const bp = app.store.blueprints.get(ctx.param("id"));
    if (!bp) throw notFound("Blueprint", ctx.param("id"));
    return {
      status: 200,
      body: project(renderBlueprint(bp, ctx.tenantName), parseInclude(ctx.query, fields)),
    };
  });

  router.add("POST", `${base}/searches/blueprints`, "tenant", (ctx, app) => {
    const rules = parseFilterRules(ctx.json(false).filter_rules, SEARCH_ATTRIBUTES);
    const all = [...app.store.blueprints.values()].map((b) => renderBlueprint(b, ctx.tenantName));
    const items = all.filter((item) =>
      matchesRules(rules, { labels: labelsOf(item), attribute: (name) => item[name] }),
    );
    return listReply(items, ctx.query, {
      fields,
      labelsOf,
      filtered: rules.length > 0 ? all.length - items.length : null,
      defaultSort: "created_at",
    });
  });
}
