import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { sendBindingLastOperation } from "../responses.js";

/** LOB: GET .../service_bindings/:binding_id/last_operation (OSB A6-A8, X6, X7). */
export function bindingLastOperation(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) => {
    const status = await ports
      .broker()
      .bindingLastOperation(c.req.param("instance_id")!, c.req.param("binding_id")!);
    return sendBindingLastOperation(c, ports, status);
  };
}
