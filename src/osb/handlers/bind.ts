import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import { OsbError } from "../errors.js";
import type { OsbPorts } from "../ports.js";
import { booleanQuery, optionalObject, optionalString, readJsonObject, requiredString } from "../request.js";
import { accepted, bindingBody } from "../responses.js";

/**
 * BIND: PUT .../service_bindings/:binding_id (OSB section 9). A rotation request may carry
 * only predecessor_binding_id; service and plan are then the predecessor's. An unknown
 * instance is 404 (the spec leaves it open; documented).
 */
export function bind(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const acceptsIncomplete = booleanQuery(c, "accepts_incomplete");
    const body = await readJsonObject(c);
    const predecessorBindingId = optionalString(body, "predecessor_binding_id");
    const bindResource = optionalObject(body, "bind_resource");
    const appGuid = optionalString(body, "app_guid") ?? appGuidOf(bindResource);
    const outcome = await ports.broker().bind({
      instanceId: c.req.param("instance_id")!,
      bindingId: c.req.param("binding_id")!,
      serviceId: predecessorBindingId
        ? optionalString(body, "service_id")
        : requiredString(body, "service_id"),
      planId: predecessorBindingId ? optionalString(body, "plan_id") : requiredString(body, "plan_id"),
      appGuid,
      bindResource,
      context: optionalObject(body, "context"),
      parameters: optionalObject(body, "parameters"),
      predecessorBindingId,
      acceptsIncomplete,
      originatingIdentity: c.get("originatingIdentity"),
    });
    if (outcome.kind === "accepted") return accepted(c, ports, { operation: outcome.operation });
    return c.json(bindingBody(outcome.binding), outcome.kind === "created" ? 201 : 200);
  };
}

function appGuidOf(bindResource: Record<string, unknown> | undefined): string | undefined {
  const value = bindResource?.app_guid;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !value)
    throw new OsbError("BadRequest", "Field bind_resource.app_guid must be a non-empty string.");
  return value;
}
