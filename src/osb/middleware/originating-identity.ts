import type { MiddlewareHandler } from "hono";
import { addLogFields, type OriginatingIdentity, type OsbEnv, requestLog } from "../context.js";
import { unstorableValue } from "../request.js";

export const ORIGINATING_IDENTITY_HEADER = "X-Broker-API-Originating-Identity";

/**
 * Parses `<platform> <base64(json object)>` (OSB H4) for audit logs and templates. A malformed
 * header is logged and ignored, never a failure: the spec gives no reason to reject it.
 */
export function originatingIdentity(): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const header = c.req.header(ORIGINATING_IDENTITY_HEADER);
    if (header !== undefined) {
      const identity = parseOriginatingIdentity(header);
      if (identity) {
        c.set("originatingIdentity", identity);
        // Who caused the request, for the audit trail in the access log (OSB H4: audit only).
        const user = identity.value.user_id ?? identity.value.username;
        addLogFields(c, { platform: identity.platform, user: typeof user === "string" ? user : undefined });
      } else {
        requestLog(c)?.warn("ignoring malformed X-Broker-API-Originating-Identity header");
      }
    }
    await next();
  };
}

export function parseOriginatingIdentity(header: string): OriginatingIdentity | undefined {
  const match = header.trim().match(/^(\S+)\s+([A-Za-z0-9+/=_-]+)$/);
  if (!match?.[1] || !match[2]) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(match[2], "base64").toString("utf8"));
    if (!value || typeof value !== "object" || Array.isArray(value) || unstorableValue(value))
      return undefined;
    return { platform: match[1], value: value as Record<string, unknown> };
  } catch {
    return undefined;
  }
}
