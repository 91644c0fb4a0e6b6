import type { MiddlewareHandler } from "hono";
import type { Logger } from "../../log/logger.js";
import type { OsbEnv } from "../context.js";

export const REQUEST_IDENTITY_HEADER = "X-Broker-API-Request-Identity";

/**
 * Echoes the platform's request identity (OSB H5) and scopes the request's log lines to it, so
 * one request can be followed through the broker's logs. Runs first: even a 401 is echoed. The
 * scoped logger itself is built only when a line is written (requestLog).
 */
export function requestIdentity(log: Logger): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const id = c.req.header(REQUEST_IDENTITY_HEADER)?.trim() || undefined;
    c.set("requestIdentity", id);
    c.set("baseLog", log);
    c.set("logFields", { request_id: id, method: c.req.method, path: c.req.path });
    await next();
    if (id) c.header(REQUEST_IDENTITY_HEADER, id);
  };
}
