import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { type OsbEnv, requestLog } from "../context.js";
import { OsbError } from "../errors.js";
import { AuthThrottle, clientAddress } from "./auth-throttle.js";

/** A username/password pair a platform authenticates with (broker.auth.users), not binding credentials. */
export interface PlatformUser {
  username: string;
  password: string;
}

/**
 * HTTP Basic auth against several accepted pairs (OSB H6). Comparisons are constant-time and
 * every pair is checked, so response timing reveals neither which pair nor how much matched.
 * `platformUsers` is a getter because a config reload may change the pairs.
 */
export function basicAuth(
  platformUsers: () => readonly PlatformUser[],
  throttle: AuthThrottle = new AuthThrottle(),
  observe: (outcome: "rejected" | "locked_out") => void = () => {},
): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const client = clientAddress(c);
    const wait = throttle.lockedFor(client);
    if (wait > 0) {
      observe("locked_out");
      throw new OsbError(
        "TooManyRequests",
        `Too many failed authentication attempts from this client; try again in ${wait} s.`,
        { headers: { "Retry-After": String(wait) } },
      );
    }
    const presented = parseBasic(c.req.header("Authorization"));
    let ok = false;
    if (presented) {
      const user = digest(presented.username);
      const pass = digest(presented.password);
      for (const candidate of digestsOf(platformUsers())) {
        const match = timingSafeEqual(user, candidate.username) && timingSafeEqual(pass, candidate.password);
        ok = ok || match;
      }
    }
    if (!ok) {
      observe("rejected");
      // Only presented credentials count: a request without any guesses nothing.
      const locked = presented ? throttle.failed(client) : false;
      requestLog(c)?.warn(
        { presented_user: presented ? "yes" : "no", client, locked_out: locked },
        locked
          ? "rejected request with wrong credentials; client locked out after repeated failures"
          : "rejected request with missing or wrong credentials",
      );
      throw new OsbError("Unauthorized", "Missing or invalid HTTP Basic credentials.", {
        headers: { "WWW-Authenticate": 'Basic realm="cloudify-osb-broker"' },
      });
    }
    throttle.succeeded(client);
    await next();
  };
}

function parseBasic(header: string | undefined): PlatformUser | undefined {
  const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The accepted pairs' digests, computed once per list (a reload brings a new list): hashing
 * them on every request was 4 of the 6 SHA-256 digests each request paid (issue 14).
 */
const digestCache = new WeakMap<readonly PlatformUser[], Array<{ username: Buffer; password: Buffer }>>();
function digestsOf(users: readonly PlatformUser[]): Array<{ username: Buffer; password: Buffer }> {
  let digests = digestCache.get(users);
  if (!digests) {
    digests = users.map((u) => ({ username: digest(u.username), password: digest(u.password) }));
    digestCache.set(users, digests);
  }
  return digests;
}

/** Fixed-length digests make timingSafeEqual usable on inputs of any length. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
