import type { MiddlewareHandler } from "hono";
import type { OsbEnv } from "../context.js";

/**
 * One log line per request: method, path, status and duration, tagged with the request
 * identity by the logger the request-identity middleware set up. Bodies are never logged:
 * they carry parameters and credentials.
 */
export function accessLog(): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const log = c.get("log");
    const fields = { status: c.res.status, ms: Math.round((performance.now() - started) * 10) / 10 };
    if (c.res.status >= 500) log.error(fields, "request failed");
    else log.info(fields, "request");
  };
}
