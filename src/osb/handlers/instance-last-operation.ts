import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { sendInstanceLastOperation } from "../responses.js";

/** LOI: GET /v2/service_instances/:instance_id/last_operation (OSB A6-A8, X6, X7). */
export function instanceLastOperation(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const status = await ports.broker().instanceLastOperation(c.req.param("instance_id")!);
    return sendInstanceLastOperation(c, ports, status);
  };
}
