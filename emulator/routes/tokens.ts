import { badParameters, notFound } from "../errors.js";
import type { RequestContext } from "../http/request.js";
import type { Router } from "../http/router.js";
import type { TokenRecord } from "../state/records.js";
import { renderToken } from "../state/render.js";
import { randomString } from "../util.js";

/** API tokens (MGR `resources_v3_1/tokens.py`): the secret is only shown when minted. */

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function parseExpiration(raw: unknown): number | null {
  if (raw === undefined || raw === null || raw === "") return null;
  if (typeof raw !== "string") throw badParameters("expiration_date must be a string");
  const relative = /^\+(\d+)([mhdw])$/.exec(raw);
  if (relative) return Date.now() + Number(relative[1]) * (UNITS[relative[2] as string] as number);
  const absolute = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?/.test(raw)
    ? Date.parse(`${raw.replace(" ", "T")}Z`)
    : NaN;
  const at = Number.isNaN(absolute) ? Date.parse(raw) : absolute;
  if (Number.isNaN(at)) throw badParameters(`Invalid expiration date: ${raw}`);
  if (at <= Date.now()) throw badParameters("Expiration date was in the past.");
  return at;
}

function ownToken(ctx: RequestContext, token: TokenRecord | undefined, id: string): TokenRecord {
  if (!token || (ctx.user.role !== "sys_admin" && token.username !== ctx.user.username)) {
    throw notFound("Token", id);
  }
  return token;
}

export function registerTokenRoutes(router: Router, base: string): void {
  router.add("POST", `${base}/tokens`, "user", (ctx, app) => {
    const body = ctx.json(false);
    if (body.description !== undefined && body.description !== null && typeof body.description !== "string") {
      throw badParameters("description must be a string");
    }
    const token: TokenRecord = {
      id: randomString(10),
      // Alphanumeric only: the header value must split on "-" into exactly three parts.
      secret: randomString(40),
      username: ctx.user.username,
      description: (body.description as string | null | undefined) ?? null,
      expiresAt: parseExpiration(body.expiration_date),
      lastUsed: null,
    };
    app.store.tokens.set(token.id, token);
    return { status: 200, body: renderToken(token, ctx.user.role, true) };
  });

  router.add("GET", `${base}/tokens`, "user", (ctx, app) => {
    const items = [...app.store.tokens.values()]
      .filter((t) => ctx.user.role === "sys_admin" || t.username === ctx.user.username)
      .map((t) => renderToken(t, app.store.users.get(t.username)?.role ?? "default", false));
    return {
      status: 200,
      body: {
        items,
        metadata: { pagination: { total: items.length, size: 1000, offset: 0 }, filtered: null },
      },
    };
  });

  router.add("GET", `${base}/tokens/:id`, "user", (ctx, app) => {
    const token = ownToken(ctx, app.store.tokens.get(ctx.param("id")), ctx.param("id"));
    return {
      status: 200,
      body: renderToken(token, app.store.users.get(token.username)?.role ?? "default", false),
    };
  });

  router.add("DELETE", `${base}/tokens/:id`, "user", (ctx, app) => {
    const token = ownToken(ctx, app.store.tokens.get(ctx.param("id")), ctx.param("id"));
    app.store.tokens.delete(token.id);
    return { status: 204 };
  });
}
