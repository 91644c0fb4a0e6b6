import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { sendInstance } from "../responses.js";

/** GETI: GET /v2/service_instances/:instance_id (OSB section 6); service_id/plan_id are only hints. */
export function fetchInstance(ports: OsbPorts) {
  return async (c: Context<OsbEnv>) =>
    sendInstance(c, await ports.broker().fetchInstance(c.req.param("instance_id")!));
}
