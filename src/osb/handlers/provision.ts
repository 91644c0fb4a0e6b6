import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import {
  booleanQuery,
  maintenanceVersion,
  optionalObject,
  readJsonObject,
  requiredString,
} from "../request.js";
import { instanceOutcome } from "../responses.js";

/** PROV: PUT /v2/service_instances/:instance_id (OSB section 5). */
export function provision(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const acceptsIncomplete = booleanQuery(c, "accepts_incomplete");
    const body = await readJsonObject(c);
    const outcome = await ports.broker().provision({
      instanceId: c.req.param("instance_id")!,
      serviceId: requiredString(body, "service_id"),
      planId: requiredString(body, "plan_id"),
      // Deprecated but still required by the spec; osb-checker sends them (X4).
      organizationGuid: requiredString(body, "organization_guid"),
      spaceGuid: requiredString(body, "space_guid"),
      context: optionalObject(body, "context"),
      parameters: optionalObject(body, "parameters"),
      maintenanceVersion: maintenanceVersion(body),
      acceptsIncomplete,
      originatingIdentity: c.get("originatingIdentity"),
    });
    return instanceOutcome(c, ports, outcome);
  };
}
