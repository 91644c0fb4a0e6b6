import { timingSafeEqual } from "node:crypto";
import { ManagerError } from "../errors.js";
import type { Store } from "../state/store.js";
import { nowIso } from "../util.js";
import type { Principal, RequestContext } from "./request.js";

/**
 * Authentication and tenant selection in MGR `security/user_handler.py` order: Basic first (an
 * unknown user falls through, a known user with a wrong password is a 401), then the API token.
 */

function unauthorized(detail: string): ManagerError {
  return new ManagerError("unauthorized_error", `User unauthorized: ${detail}`);
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function fromBasic(ctx: RequestContext, store: Store): Principal | undefined {
  const header = ctx.header("authorization");
  if (!header?.toLowerCase().startsWith("basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? "" : decoded.slice(colon + 1);
  // Quirk kept from the manager: usernames not starting with an ASCII letter are ignored.
  if (!/^[A-Za-z]/.test(username)) return undefined;
  const user = store.users.get(username);
  if (!user) return undefined;
  if (!sameSecret(password, user.password)) {
    throw unauthorized(
      `Authentication failed for <User username=\`${username}\`>. Wrong credentials or locked account`,
    );
  }
  return { user, method: "http_basic" };
}

function fromToken(ctx: RequestContext, store: Store): Principal | undefined {
  const value = ctx.header("authentication-token");
  if (value === undefined) return undefined;
  const parts = value.split("-");
  if (parts.length !== 3) throw unauthorized("Invalid token structure");
  const [, id, secret] = parts as [string, string, string];
  const token = store.tokens.get(id);
  if (!token || !sameSecret(secret, token.secret)) throw unauthorized("Unauthorized");
  if (token.expiresAt !== null && token.expiresAt <= Date.now()) throw unauthorized("Token is expired");
  const user = store.users.get(token.username);
  if (!user) throw unauthorized("Unauthorized");
  token.lastUsed = nowIso();
  return { user, method: "token" };
}

export function authenticate(ctx: RequestContext, store: Store): Principal {
  const principal = fromBasic(ctx, store) ?? fromToken(ctx, store);
  if (!principal) throw unauthorized("No authentication info provided");
  return principal;
}

/** MGR `security/authorization.py`: no default tenant; unknown or foreign tenants are 403s. */
export function resolveTenant(ctx: RequestContext, store: Store, action: string): string {
  const user = ctx.user;
  const name = ctx.header("tenant");
  const isAdmin = user.role === "sys_admin";
  if (name === undefined || name === "") {
    if (isAdmin) throw new ManagerError("forbidden_error", "Authorization failed: tenant not provided");
    throw new ManagerError(
      "forbidden_error",
      `User \`${user.username}\` is not permitted to perform the action ${action} in the tenant \`None\``,
    );
  }
  if (!store.hasTenant(name)) {
    throw new ManagerError(
      "forbidden_error",
      `Authorization failed: Tried to authenticate with invalid tenant name: ${name}`,
    );
  }
  if (!isAdmin && !user.tenants.includes(name)) {
    throw new ManagerError(
      "forbidden_error",
      `User \`${user.username}\` is not permitted to perform the action ${action} in the tenant \`${name}\``,
    );
  }
  return name;
}
