import type { Context } from "hono";
import type { OsbEnv } from "./context.js";
import type { OsbPorts } from "./ports.js";

/** 202 with the operation token, plus Retry-After so platforms poll at a sensible pace (A5, A6). */
export function accepted(c: Context<OsbEnv>, ports: OsbPorts, body: Record<string, unknown>) {
  c.header("Retry-After", String(ports.retryAfterSeconds()));
  return c.json(body, 202);
}

/** Drops undefined fields so bodies carry only what the broker knows (`{}` when nothing). */
export function compact(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

/** The answer to PROV and UPD: 202 with the operation while Cloudify works, else 200. */
export function instanceOutcome(
  c: Context<OsbEnv>,
  ports: OsbPorts,
  outcome:
    | { kind: "accepted"; operation: string; dashboardUrl?: string }
    | { kind: "done"; dashboardUrl?: string },
) {
  if (outcome.kind === "accepted") {
    return accepted(c, ports, compact({ operation: outcome.operation, dashboard_url: outcome.dashboardUrl }));
  }
  return c.json(compact({ dashboard_url: outcome.dashboardUrl }), 200);
}
