import type { Context } from "hono";
import { shapeForRequest } from "../api-versions.js";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { booleanQuery, maintenanceVersion, readJsonObject } from "../request.js";
import { checkUpdate } from "../request-schemas.js";
import { instanceOutcome } from "../responses.js";

/** UPD: PATCH /v2/service_instances/:instance_id (OSB section 7). An unknown instance is 404. */
export function update(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const acceptsIncomplete = booleanQuery(c, "accepts_incomplete");
    // Fields newer than the requested version are unknown fields there, ignored (H17).
    const body = checkUpdate(shapeForRequest(c, "updateRequest", await readJsonObject(c)));
    const outcome = await ports.broker().update({
      instanceId: c.req.param("instance_id")!,
      serviceId: body.service_id,
      planId: body.plan_id,
      context: body.context,
      parameters: body.parameters,
      maintenanceVersion: maintenanceVersion(body.maintenance_info),
      acceptsIncomplete,
      originatingIdentity: c.get("originatingIdentity"),
    });
    return instanceOutcome(c, ports, outcome, "update");
  };
}
