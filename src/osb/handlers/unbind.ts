import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { requiredQuery, versionedBooleanQuery } from "../request.js";
import { deletionOutcome } from "../responses.js";

/** UNBIND: DELETE .../service_bindings/:binding_id?service_id&plan_id (OSB section 11). */
export function unbind(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const outcome = await ports.broker().unbind({
      instanceId: c.req.param("instance_id")!,
      bindingId: c.req.param("binding_id")!,
      serviceId: requiredQuery(c, "service_id"),
      planId: requiredQuery(c, "plan_id"),
      // Async unbinding is 2.14: at 2.13 the parameter is unknown, ignored (H17).
      acceptsIncomplete: versionedBooleanQuery(c, "bindingQuery", "accepts_incomplete"),
    });
    return deletionOutcome(c, ports, outcome);
  };
}
