import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { sendBinding } from "../responses.js";

/** GETB: GET .../service_bindings/:binding_id (OSB section 10); credentials delivered here for async binds. */
export function fetchBinding(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) =>
    sendBinding(
      c,
      await ports.broker().fetchBinding(c.req.param("instance_id")!, c.req.param("binding_id")!),
      200,
    );
}
