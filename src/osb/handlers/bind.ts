import type { Context } from "hono";
import { shapeForRequest } from "../api-versions.js";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { readJsonObject, versionedBooleanQuery } from "../request.js";
import { checkBind } from "../request-schemas.js";
import { accepted, sendBinding } from "../responses.js";

/**
 * BIND: PUT .../service_bindings/:binding_id (OSB section 9). A rotation request may carry
 * only predecessor_binding_id; service and plan are then the predecessor's. An unknown
 * instance is 404 (the spec leaves it open; documented).
 */
export function bind(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    // Fields and parameters newer than the requested version are unknown there, ignored (H17):
    // async bindings are 2.14, rotation (predecessor_binding_id) 2.17.
    const acceptsIncomplete = versionedBooleanQuery(c, "bindingQuery", "accepts_incomplete");
    const body = checkBind(shapeForRequest(c, "bindRequest", await readJsonObject(c)));
    const appGuid = body.app_guid ?? body.bind_resource?.app_guid;
    const outcome = await ports.broker().bind({
      instanceId: c.req.param("instance_id")!,
      bindingId: c.req.param("binding_id")!,
      serviceId: body.service_id,
      planId: body.plan_id,
      appGuid,
      bindResource: body.bind_resource,
      context: body.context,
      parameters: body.parameters,
      predecessorBindingId: body.predecessor_binding_id,
      acceptsIncomplete,
      originatingIdentity: c.get("originatingIdentity"),
    });
    if (outcome.kind === "accepted") return accepted(c, ports, { operation: outcome.operation });
    return sendBinding(c, outcome.binding, outcome.kind === "created" ? 201 : 200);
  };
}
