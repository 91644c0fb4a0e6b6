import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";

/** LOB: GET .../service_bindings/:binding_id/last_operation (OSB A6-A8, X6, X7). */
export function bindingLastOperation(ports: OsbPorts) {
  return (c: Context<OsbEnv>) => {
    const view = ports.bindings().lastOperation(c.req.param("instance_id")!, c.req.param("binding_id")!);
    if (view.state === "in progress") c.header("Retry-After", String(ports.retryAfterSeconds()));
    return c.json(view, 200);
  };
}
