import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";

/** LOI: GET /v2/service_instances/:instance_id/last_operation (OSB A6-A8, X6, X7). */
export function instanceLastOperation(ports: OsbPorts) {
  return (c: Context<OsbEnv>) => {
    const view = ports.instances().lastOperation(c.req.param("instance_id")!);
    if (view.state === "in progress") c.header("Retry-After", String(ports.retryAfterSeconds()));
    return c.json(view, 200);
  };
}
