import { type Context, type Handler, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { describeWriteFailure, StateUnavailableError } from "../state/index.js";
import type { OsbEnv } from "./context.js";
import { errorBody, OsbError, toOsbError } from "./errors.js";
import { getCatalog } from "./handlers/catalog.js";
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
export function createOsbApp(ports: OsbPorts, extraRoutes: (ports: OsbPorts) => Route[] = () => []) {
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

  const routes: Route[] = [
    { method: "GET", path: "/v2/catalog", handler: getCatalog(ports) },
    ...extraRoutes(ports),
  ];
  for (const route of routes) app.on(route.method, route.path, route.handler);

  // A known path with a method it does not serve is 405 with Allow, not 404.
  const methodsByPath = new Map<string, string[]>();
  for (const route of routes)
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
  for (const [path, methods] of methodsByPath) {
    app.all(path, (c) =>
      respondWithError(
        new OsbError(
          "MethodNotAllowed",
          `Method ${c.req.method} is not allowed here; this path accepts ${methods.join(", ")}.`,
          {
            headers: { Allow: methods.join(", ") },
          },
        ),
        c,
      ),
    );
  }

  app.notFound((c) =>
    respondWithError(new OsbError("NotFound", `No such endpoint: ${c.req.method} ${c.req.path}.`), c),
  );

  app.onError((error, c) => respondWithError(storeUnavailable(error, ports) ?? error, c));
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
    if (length !== undefined && c.req.header("Transfer-Encoding") === undefined) {
      return Number(length) > max ? tooLarge(c) : next();
    }
    return bodyLimit({ maxSize: max, onError: tooLarge })(c, next);
  };
}

/**
 * The state store could not write (a full disk): nothing was stored and the store recovers by
 * itself, so the platform should retry (503 + Retry-After), not treat it as a broker bug.
 */
function storeUnavailable(error: Error, ports: OsbPorts): OsbError | undefined {
  if (!(error instanceof StateUnavailableError)) return undefined;
  return new OsbError(
    "ServiceUnavailable",
    `The broker cannot store changes right now (${describeWriteFailure(error.errnoCode)}); nothing was changed. Retry later.`,
    { headers: { "Retry-After": String(ports.retryAfterSeconds()) } },
  );
}

export function respondWithError(error: Error, c: Context<OsbEnv>): Response {
  const log = c.get("log") ?? undefined;
  const osb = toOsbError(error);
  if (osb.status >= 500) log?.error({ err: error }, "request failed");
  else log?.info({ status: osb.status, error: osb.code, description: osb.description }, "request refused");
  for (const [name, value] of Object.entries(osb.options.headers ?? {})) c.header(name, value);
  return c.json(errorBody(osb), osb.status as ContentfulStatusCode);
}
