import type { Logger } from "../log/logger.js";

/** Who caused a request, from X-Broker-API-Originating-Identity (OSB H4); audit only. */
export interface OriginatingIdentity {
  platform: string;
  value: Record<string, unknown>;
}

/** Per-request values the middleware chain hands to handlers. */
export interface OsbVariables {
  log: Logger;
  requestIdentity?: string;
  originatingIdentity?: OriginatingIdentity;
  apiVersion: string;
}

export type OsbEnv = { Variables: OsbVariables };
