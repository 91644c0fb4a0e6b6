import type { MiddlewareHandler } from "hono";
import { logsAt, type OsbEnv, requestLog } from "../context.js";
import type { OsbPorts } from "../ports.js";

/**
 * One log line per request: method, path, status and duration, tagged with the request
 * identity by the logger the request-identity middleware set up, and a request count for
 * the metrics. Bodies are never logged: they carry parameters and credentials. Below `info`
 * nothing is built for the line (issue 14: the line's cost showed on every catalog request).
 */
export function accessLog(metrics: OsbPorts["metrics"]): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const ms = performance.now() - started;
    const status = c.res.status;
    if (status >= 500) requestLog(c)?.error({ status, ms: Math.round(ms * 10) / 10 }, "request failed");
    else if (logsAt(c, "info")) requestLog(c)?.info({ status, ms: Math.round(ms * 10) / 10 }, "request");
    // Route patterns, not paths: ids would make every instance its own time series.
    metrics?.request(c.req.method, c.req.routePath, status, ms / 1000);
  };
}
