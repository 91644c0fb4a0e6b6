import { notFound } from "../errors.js";
import { listReply, parseInclude, project } from "../http/listing.js";
import type { Router } from "../http/router.js";
import type { DeploymentRecord, NodeInstanceRecord } from "../state/records.js";

/** Node instances, read-only: where install/uninstall/custom workflows leave their runtime properties. */

function renderNodeInstance(dep: DeploymentRecord, node: NodeInstanceRecord): Record<string, unknown> {
  return {
    id: node.id,
    node_id: node.nodeId,
    deployment_id: dep.id,
    state: node.state,
    runtime_properties: node.runtimeProperties,
    host_id: null,
    index: 1,
    version: 1,
    relationships: [],
    scaling_groups: [],
    system_properties: {},
    has_configuration_drift: false,
    is_status_check_ok: true,
    visibility: dep.visibility,
    tenant_name: dep.tenant,
    created_by: dep.createdBy,
    resource_availability: dep.visibility,
    private_resource: dep.visibility === "private",
  };
}

export function registerNodeRoutes(router: Router, base: string): void {
  const fields = Object.keys(
    renderNodeInstance({ id: "", visibility: "tenant", tenant: "", createdBy: "" } as DeploymentRecord, {
      id: "",
      nodeId: "",
      state: "uninitialized",
      runtimeProperties: {},
    }),
  );
  router.add("GET", `${base}/node-instances`, "tenant", (ctx, app) => {
    const deps = [...app.store.tenant(ctx.tenantName).deployments.values()];
    const items = deps.flatMap((dep) => dep.nodes.map((n) => renderNodeInstance(dep, n)));
    return listReply(items, ctx.query, { fields, filtered: null });
  });
  router.add("GET", `${base}/node-instances/:id`, "tenant", (ctx, app) => {
    for (const dep of app.store.tenant(ctx.tenantName).deployments.values()) {
      const node = dep.nodes.find((n) => n.id === ctx.param("id"));
      if (node)
        return { status: 200, body: project(renderNodeInstance(dep, node), parseInclude(ctx.query, fields)) };
    }
    throw notFound("NodeInstance", ctx.param("id"));
  });
}
