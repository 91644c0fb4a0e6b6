import type { ServiceBroker } from "../broker/service-broker.js";
import type { Logger } from "../log/logger.js";
import type { PlatformUser } from "./middleware/basic-auth.js";
import type { Catalog } from "./types.js";

/**
 * What the protocol layer needs from the rest of the broker. Handlers depend on these
 * functions only, so the HTTP layer stays a thin translation of OSB onto the domain.
 */
export interface OsbPorts {
  log: Logger;
  platformUsers: () => readonly PlatformUser[];
  maxBodyBytes: () => number;
  catalog: () => Catalog;
  /** The domain, one method per endpoint; a getter because a config reload may replace it. */
  broker: () => ServiceBroker;
  /** Seconds platforms should wait before polling again (Retry-After on in-progress answers). */
  retryAfterSeconds: () => number;
  /** Observes answered requests by route pattern, and renders /metrics (Prometheus text). */
  metrics?: {
    request(method: string, route: string, status: number, seconds: number): void;
    /** A request refused by Basic auth: wrong/missing credentials, or a locked-out client. */
    authFailure?(outcome: "rejected" | "locked_out"): void;
    render(): Promise<string>;
    contentType: string;
  };
  /** For /livez (alias /healthz) and /readyz: cheap, unauthenticated, every check named with its reason. */
  health: { liveness(): HealthReport; readiness(): HealthReport };
}

export interface HealthReport {
  status: "ok" | "failing";
  checks: Record<string, string>;
}
