import type { OriginatingIdentity } from "../broker/model/identity.js";
import type { Logger } from "../log/logger.js";

export type { OriginatingIdentity };

/** Per-request values the middleware chain hands to handlers. */
export interface OsbVariables {
  log: Logger;
  requestIdentity?: string;
  originatingIdentity?: OriginatingIdentity;
  apiVersion: string;
}

export type OsbEnv = { Variables: OsbVariables };
