import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { booleanQuery, requiredQuery } from "../request.js";
import { deletionOutcome } from "../responses.js";

/** DEPROV: DELETE /v2/service_instances/:instance_id?service_id&plan_id (OSB section 8). */
export function deprovision(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const outcome = await ports.broker().deprovision({
      instanceId: c.req.param("instance_id")!,
      serviceId: requiredQuery(c, "service_id"),
      planId: requiredQuery(c, "plan_id"),
      acceptsIncomplete: booleanQuery(c, "accepts_incomplete"),
    });
    return deletionOutcome(c, ports, outcome);
  };
}
