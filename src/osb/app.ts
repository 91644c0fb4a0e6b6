import { type Context, type Handler, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { StateUnavailableError } from "../state/index.js";
import { shapeForRequest } from "./api-versions.js";
import { logsAt, type OsbEnv, requestLog } from "./context.js";
import { errorBody, OsbError, toOsbError } from "./errors.js";
import { accessLog } from "./middleware/access-log.js";
import { apiVersion } from "./middleware/api-version.js";
import { AuthThrottle } from "./middleware/auth-throttle.js";
import { basicAuth } from "./middleware/basic-auth.js";
import { originatingIdentity } from "./middleware/originating-identity.js";
import { requestIdentity } from "./middleware/request-identity.js";
import type { HealthReport, OsbPorts } from "./ports.js";

export interface Route {
  method: "GET" | "PUT" | "PATCH" | "DELETE";
  path: string;
  handler: Handler<OsbEnv>;
}

/**
 * The OSB HTTP application. Middleware order matters and follows the spec and osb-checker
 * (X3): identity echo, then auth (401), then version (412), then originating identity, and
 * only then body/query validation inside the handlers.
 */
export function createOsbApp(ports: OsbPorts, routes: (ports: OsbPorts) => Route[]) {
  const app = new Hono<OsbEnv>();

  // Unauthenticated liveness/readiness for container orchestrators; says nothing secret.
  // /healthz stays as an alias of liveness for probes written before /livez existed.
  const probe =
    (check: () => HealthReport): Handler<OsbEnv> =>
    (c) => {
      const report = check();
      c.header("Cache-Control", "no-store");
      return c.json(report, report.status === "ok" ? 200 : 503);
    };
  for (const path of ["/livez", "/healthz"]) app.get(path, probe(ports.health.liveness));
  app.get("/readyz", probe(ports.health.readiness));

  // Prometheus scrapes without credentials, as with /healthz; it exposes counts, no names or secrets.
  if (ports.metrics) {
    const metrics = ports.metrics;
    app.get("/metrics", async (c) =>
      c.body(await metrics.render(), 200, { "Content-Type": metrics.contentType }),
    );
  }

  app.use("*", requestIdentity(ports.log));
  app.use("*", accessLog(ports.metrics));
  // A known path with a method it does not serve is 405 with Allow (HEAD comes with GET), not 404.
  app.use(
    "*",
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        respondWithError(
          new OsbError(
            "MethodNotAllowed",
            `Method ${c.req.method} is not allowed here; this path accepts ${methods.join(", ")}.`,
            { headers: { Allow: methods.join(", ") } },
          ),
          c,
        ),
    }),
  );
  app.use(
    "/v2/*",
    basicAuth(ports.platformUsers, new AuthThrottle(), (outcome) => ports.metrics?.authFailure?.(outcome)),
  );
  app.use("/v2/*", apiVersion());
  app.use("/v2/*", originatingIdentity());
  app.use(
    "/v2/*",
    limitBody(() => ports.maxBodyBytes()),
  );

  for (const route of routes(ports)) app.on(route.method, route.path, route.handler);

  app.notFound((c) =>
    respondWithError(new OsbError("NotFound", `No such endpoint: ${c.req.method} ${c.req.path}.`), c),
  );

  app.onError((error, c) => {
    const failure = storeUnavailable(error, ports) ?? error;
    // Every 503 (Cloudify unreachable, the store unable to write) says when to try again.
    if (toOsbError(failure).status === 503) c.header("Retry-After", String(ports.retryAfterSeconds()));
    return respondWithError(failure, c);
  });
  return app;
}

/**
 * 413 for bodies over the limit. A declared Content-Length is checked without touching the
 * body: opening the body stream and then not reading it (a 404, a 405, a handler refusing
 * before it reads) left the connection unusable for the client's next request. Only bodies
 * of unknown length are counted while read. A 413 closes the connection, as the rest of the
 * body is never read.
 */
function limitBody(maxBytes: () => number): MiddlewareHandler<OsbEnv> {
  return async (c, next) => {
    const max = maxBytes();
    const tooLarge = (c: Context<OsbEnv>) =>
      respondWithError(
        new OsbError("PayloadTooLarge", `The request body exceeds the limit of ${max} bytes.`, {
          headers: { Connection: "close" },
        }),
        c,
      );
    const length = c.req.header("Content-Length");
    const chunked = c.req.header("Transfer-Encoding") !== undefined;
    if (length !== undefined && !chunked) {
      return Number(length) > max ? tooLarge(c) : next();
    }
    // Neither header: HTTP/1.1 says there is no body (RFC 9112 6.3), so nothing to count, and
    // counting would build the full WHATWG Request of every GET (issue 14: 17 % of catalog CPU).
    if (length === undefined && !chunked) return next();
    return bodyLimit({ maxSize: max, onError: tooLarge })(c, next);
  };
}

/**
 * The state store could not write (a full disk, the state database unreachable): the store
 * recovers by itself, so the platform should retry (503 + Retry-After), not treat it as a broker
 * bug. Every mutation is idempotent for an identical request, so a retry is safe even when a
 * database connection broke after the commit was sent.
 */
function storeUnavailable(error: Error, ports: OsbPorts): OsbError | undefined {
  if (!(error instanceof StateUnavailableError)) return undefined;
  return new OsbError(
    "ServiceUnavailable",
    `The broker cannot store changes right now (${error.reason}); ${
      error.stored === "no"
        ? "nothing was changed"
        : "the change may or may not have been stored, and sending the same request again is safe"
    }. Retry later.`,
    { headers: { "Retry-After": String(ports.retryAfterSeconds()) } },
  );
}

export function respondWithError(error: Error, c: Context<OsbEnv>): Response {
  const osb = toOsbError(error);
  if (osb.status >= 500) requestLog(c)?.error({ err: error }, "request failed");
  else if (logsAt(c, "info"))
    requestLog(c)?.info(
      { status: osb.status, error: osb.code, description: osb.description },
      "request refused",
    );
  for (const [name, value] of Object.entries(osb.options.headers ?? {})) c.header(name, value);
  // instance_usable and update_repeatable are 2.16 fields (H16).
  return c.json(shapeForRequest(c, "error", errorBody(osb)), osb.status as ContentfulStatusCode);
}
