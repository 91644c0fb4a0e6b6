import type { MiddlewareHandler } from "hono";
import type { OsbEnv } from "../context.js";
import { OsbError } from "../errors.js";

export const API_VERSION_HEADER = "X-Broker-API-Version";
export const MIN_MINOR = 13;
export const LATEST_VERSION = "2.17";

/**
 * Requires X-Broker-API-Version (OSB H1-H3, X1, X2): missing, empty, malformed or older than
 * 2.13 gives 412 naming what is supported. Any 2.x from 2.13 on is served: newer minors are
 * backwards compatible by the spec's versioning rules, and osb-checker sends 2.13/2.14. The
 * version is kept for the answer: bodies carry only the fields it defines (H16, api-versions.ts).
 */
export function apiVersion(): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const header = c.req.header(API_VERSION_HEADER);
    const value = header?.trim() ?? "";
    const match = value.match(/^(\d+)\.(\d+)$/);
    if (!match || Number(match[1]) !== 2 || Number(match[2]) < MIN_MINOR) {
      const got =
        header === undefined
          ? "no X-Broker-API-Version header"
          : `X-Broker-API-Version ${JSON.stringify(header)}`;
      throw new OsbError(
        "PreconditionFailed",
        `This broker supports OSB API versions 2.${MIN_MINOR} to ${LATEST_VERSION} (send X-Broker-API-Version: ${LATEST_VERSION}); the request had ${got}.`,
      );
    }
    c.set("apiVersion", value);
    await next();
  };
}
