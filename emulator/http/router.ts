import type { Context } from "hono";
import { Hono } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { App } from "../app.js";
import { ManagerError } from "../errors.js";
import { authenticate, resolveTenant } from "./auth.js";
import { methodNotAllowedPage, notFoundPage } from "./pages.js";
import { type Reply, RequestContext } from "./request.js";

/** `none`: anonymous; `user`: authenticated, no tenant needed; `tenant`: authenticated + Tenant header. */
export type Access = "none" | "user" | "tenant";

export type Handler = (ctx: RequestContext, app: App) => Reply | Promise<Reply>;

const HTML = "text/html; charset=utf-8";

/**
 * The manager's REST surface on Hono. Each route runs as the manager does: authentication,
 * then the Tenant header, then the handler; a ManagerError becomes the JSON envelope. URLs no
 * route knows are Flask's HTML 404/405 pages, not JSON (the manager leaves them to werkzeug).
 */
export class Router {
  readonly hono = new Hono({ strict: true });

  constructor(private readonly app: App) {
    this.hono.use(
      methodNotAllowed({
        app: this.hono,
        onMethodNotAllowed: (c) => c.body(methodNotAllowedPage(), 405, { "Content-Type": HTML }),
      }),
    );
    this.hono.notFound((c) => c.body(notFoundPage(), 404, { "Content-Type": HTML }));
  }

  add(method: string, pattern: string, access: Access, handler: Handler): this {
    this.hono.on(method, pattern, (c) => this.run(c, access, handler));
    return this;
  }

  private async run(c: Context, access: Access, handler: Handler): Promise<Response> {
    const url = new URL(c.req.url);
    const ctx = new RequestContext(
      c.req.method,
      url.pathname,
      url.searchParams,
      c.req.header(),
      Buffer.from(await c.req.arrayBuffer()),
    );
    ctx.params = c.req.param() as Record<string, string>;
    const audit: Record<string, string> = {};
    let reply: Reply;
    try {
      if (access !== "none") {
        ctx.principal = authenticate(ctx, this.app.store);
        audit["X-Cloudify-Audit-Auth-Method"] = ctx.principal.method;
        audit["X-Cloudify-Audit-Username"] = ctx.principal.user.username;
      }
      if (access === "tenant") {
        ctx.tenant = resolveTenant(ctx, this.app.store, `${ctx.method} ${ctx.path}`);
        audit["X-Cloudify-Audit-Tenant"] = ctx.tenant;
      }
      reply = await handler(ctx, this.app);
    } catch (err) {
      if (err instanceof ManagerError) reply = { status: err.status, body: err.toBody() };
      else {
        this.app.log.error({ err, method: ctx.method, path: ctx.path }, "emulator handler failed");
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
    this.app.log.debug({ method: ctx.method, path: ctx.path, status: reply.status }, "emulator request");
    return toResponse(reply, audit);
  }
}

/** A handler's reply as an HTTP response: JSON unless it carries its own text; 204 has no body. */
export function toResponse(reply: Reply, headers: Record<string, string> = {}): Response {
  if (reply.status === 204 || (reply.body === undefined && reply.text === undefined)) {
    return new Response(null, { status: reply.status, headers });
  }
  const payload = reply.text ?? JSON.stringify(reply.body);
  return new Response(payload, {
    status: reply.status,
    headers: { ...headers, "Content-Type": reply.contentType ?? "application/json" },
  });
}
