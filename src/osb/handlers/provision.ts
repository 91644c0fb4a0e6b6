import type { Context } from "hono";
import { shapeForRequest } from "../api-versions.js";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { booleanQuery, maintenanceVersion, readJsonObject } from "../request.js";
import { checkProvision } from "../request-schemas.js";
import { instanceOutcome } from "../responses.js";

/** PROV: PUT /v2/service_instances/:instance_id (OSB section 5). */
export function provision(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const acceptsIncomplete = booleanQuery(c, "accepts_incomplete");
    // Deprecated organization_guid and space_guid are still required (the document says so; X4).
    // Fields newer than the requested version are unknown fields there, ignored (H17).
    const body = checkProvision(shapeForRequest(c, "provisionRequest", await readJsonObject(c)));
    const outcome = await ports.broker().provision({
      instanceId: c.req.param("instance_id")!,
      serviceId: body.service_id,
      planId: body.plan_id,
      organizationGuid: body.organization_guid,
      spaceGuid: body.space_guid,
      context: body.context,
      parameters: body.parameters,
      maintenanceVersion: maintenanceVersion(body.maintenance_info),
      acceptsIncomplete,
      originatingIdentity: c.get("originatingIdentity"),
    });
    return instanceOutcome(c, ports, outcome, "provision");
  };
}
