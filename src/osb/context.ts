import type { Context } from "hono";
import type { OriginatingIdentity } from "../broker/model/identity.js";
import type { Logger } from "../log/logger.js";

export type { OriginatingIdentity };

/** Per-request values the middleware chain hands to handlers. */
export interface OsbVariables {
  /** The broker's logger; `requestLog(c)` scopes it to the request. */
  baseLog?: Logger;
  /** Fields every log line of this request carries (request identity, method, path, caller). */
  logFields?: Record<string, unknown>;
  /** The request's logger once something logged: built on first use (see requestLog). */
  log?: Logger;
  requestIdentity?: string;
  originatingIdentity?: OriginatingIdentity;
  apiVersion: string;
}

export type OsbEnv = { Variables: OsbVariables };

/**
 * The request's logger, a child of the broker's with the request's fields, built the first
 * time a line is written: most requests write none (the access line is `info`), and a pino
 * child per request cost 5-8 % of a catalog request's CPU (issue 14). Undefined before the
 * request-identity middleware ran (the unauthenticated probes).
 */
export function requestLog(c: Context<OsbEnv>): Logger | undefined {
  let log = c.get("log");
  if (log === undefined) {
    const base = c.get("baseLog");
    if (base === undefined) return undefined;
    log = base.child(c.get("logFields") ?? {});
    c.set("log", log);
  }
  return log;
}

/** Adds fields to the request's log lines, whether or not its logger exists yet. */
export function addLogFields(c: Context<OsbEnv>, fields: Record<string, unknown>): void {
  c.set("logFields", { ...c.get("logFields"), ...fields });
  const log = c.get("log");
  if (log !== undefined) c.set("log", log.child(fields));
}

/** Whether the broker logs at `level` (cheap: no child logger is built to find out). */
export function logsAt(c: Context<OsbEnv>, level: "info" | "warn" | "error"): boolean {
  return c.get("baseLog")?.isLevelEnabled(level) ?? false;
}
