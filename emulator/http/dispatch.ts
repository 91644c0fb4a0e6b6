import type { IncomingHttpHeaders } from "node:http";
import type { App } from "../app.js";
import { ManagerError } from "../errors.js";
import { authenticate, resolveTenant } from "./auth.js";
import { methodNotAllowedPage, notFoundPage } from "./pages.js";
import { type Reply, RequestContext } from "./request.js";
import type { Router } from "./router.js";

export interface Dispatched {
  reply: Reply;
  headers: Record<string, string>;
}

const HTML = "text/html; charset=utf-8";

/** Routing first (unknown URLs are HTML), then authentication, tenant, handler; errors as envelopes. */
export async function dispatch(
  router: Router,
  app: App,
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<Dispatched> {
  const match = router.match(method, url.pathname);
  if (match.kind === "not_found")
    return { reply: { status: 404, text: notFoundPage(), contentType: HTML }, headers: {} };
  if (match.kind === "method_not_allowed") {
    return { reply: { status: 405, text: methodNotAllowedPage(), contentType: HTML }, headers: {} };
  }
  const ctx = new RequestContext(method, url.pathname, url.searchParams, headers, body);
  ctx.params = match.params;
  const audit: Record<string, string> = {};
  let reply: Reply;
  try {
    if (match.route.access !== "none") {
      ctx.principal = authenticate(ctx, app.store);
      audit["X-Cloudify-Audit-Auth-Method"] = ctx.principal.method;
      audit["X-Cloudify-Audit-Username"] = ctx.principal.user.username;
    }
    if (match.route.access === "tenant") {
      ctx.tenant = resolveTenant(ctx, app.store, `${method} ${url.pathname}`);
      audit["X-Cloudify-Audit-Tenant"] = ctx.tenant;
    }
    reply = await match.route.handler(ctx, app);
  } catch (err) {
    if (err instanceof ManagerError) reply = { status: err.status, body: err.toBody() };
    else {
      app.log.error({ err, method, path: url.pathname }, "emulator handler failed");
      reply = {
        status: 500,
        body: {
          message: (err as Error).message,
          error_code: "internal_server_error",
          server_traceback: (err as Error).stack ?? String(err),
        },
      };
    }
  }
  return { reply, headers: audit };
}
