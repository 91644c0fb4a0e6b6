import type { Context } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";
import { instanceBody } from "../responses.js";

/** GETI: GET /v2/service_instances/:instance_id (OSB section 6); service_id/plan_id are only hints. */
export function fetchInstance(ports: OsbPorts) {
  return (c: Context<OsbEnv>) =>
    c.json(instanceBody(ports.broker().fetchInstance(c.req.param("instance_id")!)), 200);
}
