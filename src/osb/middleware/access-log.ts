import type { MiddlewareHandler } from "hono";
import type { OsbEnv } from "../context.js";
import type { OsbPorts } from "../ports.js";

/**
 * One log line per request: method, path, status and duration, tagged with the request
 * identity by the logger the request-identity middleware set up, and a request count for
 * the metrics. Bodies are never logged: they carry parameters and credentials.
 */
export function accessLog(metrics: OsbPorts["metrics"]): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const log = c.get("log");
    const ms = performance.now() - started;
    const fields = { status: c.res.status, ms: Math.round(ms * 10) / 10 };
    if (c.res.status >= 500) log.error(fields, "request failed");
    else log.info(fields, "request");
    // Route patterns, not paths: ids would make every instance its own time series.
    metrics?.request(c.req.method, c.req.routePath, c.res.status, ms / 1000);
  };
}
