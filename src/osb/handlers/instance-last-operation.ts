import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { instanceLastOperationBody, lastOperation } from "../responses.js";

/** LOI: GET /v2/service_instances/:instance_id/last_operation (OSB A6-A8, X6, X7). */
export function instanceLastOperation(ports: OsbPorts) {
  return (c: Context<OsbEnv>) => {
    const status = ports.broker().instanceLastOperation(c.req.param("instance_id")!);
    return lastOperation(c, ports, instanceLastOperationBody(status));
  };
}
