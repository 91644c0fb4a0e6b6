import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import {
  booleanQuery,
  maintenanceVersion,
  optionalObject,
  optionalString,
  readJsonObject,
  requiredString,
} from "../request.js";
import { instanceOutcome } from "../responses.js";

/** UPD: PATCH /v2/service_instances/:instance_id (OSB section 7). An unknown instance is 404. */
export function update(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const acceptsIncomplete = booleanQuery(c, "accepts_incomplete");
    const body = await readJsonObject(c);
    const outcome = await ports.broker().update({
      instanceId: c.req.param("instance_id")!,
      serviceId: requiredString(body, "service_id"),
      planId: optionalString(body, "plan_id"),
      context: optionalObject(body, "context"),
      parameters: optionalObject(body, "parameters"),
      maintenanceVersion: maintenanceVersion(body),
      acceptsIncomplete,
      originatingIdentity: c.get("originatingIdentity"),
    });
    return instanceOutcome(c, ports, outcome);
  };
}
