import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import { Hono } from "hono";
import { type Logger, silentLogger } from "../src/log/logger.js";
import { adminApp } from "./admin.js";
import type { App } from "./app.js";
import { Engine } from "./engine/execution-engine.js";
import { type Fault, type FaultSpec, Faults } from "./faults.js";
import { proxyErrorPage } from "./http/pages.js";
import { toResponse } from "./http/router.js";
import { applyBuiltinRules } from "./model/availability.js";
import { type Catalogue, loadCatalogueFile, parseCatalogue } from "./model/blueprints.js";
import { shippedBlueprintsPath } from "./paths.js";
import { renderExec } from "./routes/executions.js";
import { buildApi } from "./routes/index.js";
import type { DeploymentRecord, UserRecord } from "./state/records.js";
import { renderDeployment } from "./state/render.js";
import { Store } from "./state/store.js";
import { type EmulatorTimings, resolveTimings } from "./timings.js";
import { nowIso } from "./util.js";

export interface EmulatorUser {
  username: string;
  password: string;
  /** Default `sys_admin` (may use every tenant); `default` users only their `tenants`. */
  role?: "sys_admin" | "default";
  tenants?: string[];
}

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** A blueprint catalogue: file path or parsed YAML document. Default: the shipped emulator/blueprints.yaml. */
  blueprints?: string | unknown;
  timings?: Partial<EmulatorTimings>;
  /** Default: one sys_admin `admin`/`admin`. */
  users?: EmulatorUser[];
  /** Default: `default_tenant` only. */
  tenants?: string[];
  /** Secrets present at start (for `get_secret`). */
  secrets?: Array<{ key: string; value: string; tenant?: string; hidden?: boolean }>;
  /** Faults active from the start. */
  faults?: FaultSpec[];
  /**
   * Reported by /api/version, and the behaviour emulated. Default 7.0.4 / community: the strict
   * rules of a 7.x manager (docs/CLOUDIFY.md). Below 6.4 workflows have no availability rules.
   */
  version?: string;
  edition?: "community" | "premium";
  /** Serve HTTPS with this PEM key and certificate (a real manager usually does). */
  tls?: { key: string; cert: string };
  /** How long a sync PUT /deployments waits before a 500 (the manager's ~120 s). */
  syncCreateTimeoutMs?: number;
  logger?: Logger;
}

export interface RequestRecord {
  method: string;
  path: string;
  at: string;
}

export interface RequestFilter {
  method?: string;
  path?: string | RegExp;
}

export interface ExecutionHistoryEntry {
  id: string;
  tenant: string;
  deploymentId: string;
  workflowId: string;
  status: string;
  parameters: Record<string, unknown>;
}

export interface NodeInstanceSnapshot {
  id: string;
  nodeId: string;
  state: string;
  runtimeProperties: Record<string, unknown>;
}

/** Direct access to the emulated manager's data, for test assertions and setup. */
export interface EmulatorState {
  /** The deployment as GET /deployments/{id} renders it, or undefined. */
  deployment(id: string, tenant?: string): Record<string, unknown> | undefined;
  /** Executions as the API renders them, optionally of one deployment. */
  executions(deploymentId?: string, tenant?: string): Record<string, unknown>[];
  nodeInstances(deploymentId: string, tenant?: string): NodeInstanceSnapshot[];
  /**
   * Every execution the manager was asked to run (most recent 50,000), also those of deleted
   * deployments, which `executions` no longer shows: status as it was last known.
   */
  history(deploymentId?: string): ExecutionHistoryEntry[];
  putSecret(key: string, value: string, options?: { tenant?: string; hidden?: boolean }): void;
  /** Forget all manager data (deployments, executions, secrets, tokens). */
  wipe(): void;
  /**
   * Lets API tokens reach their expiration date now (all, or the one with this id): the next
   * request with one gets the real 401 "User unauthorized: Token is expired".
   */
  expireTokens(id?: string): number;
}

export interface EmulatorHandle {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
  /**
   * Simulates a manager restart: stops listening (connections refused, open ones cut) for
   * `downMs`, then comes back on the same port; `keepData: false` comes back empty.
   */
  restart(options?: { downMs?: number; keepData?: boolean }): Promise<void>;
  readonly faults: {
    add(spec: FaultSpec): string;
    remove(id: string): boolean;
    clear(): void;
    list(): Fault[];
  };
  readonly requests: {
    list(): RequestRecord[];
    count(filter?: RequestFilter): number;
    clear(): void;
  };
  readonly state: EmulatorState;
}

const DEFAULT_TENANT = "default_tenant";
const MAX_BODY = 16 * 1024 * 1024;
/** The request log keeps the most recent entries only, so a long-running emulator stays small. */
const MAX_LOGGED_REQUESTS = 50_000;

function loadCatalogue(source: EmulatorOptions["blueprints"]): Catalogue {
  if (source === undefined) return loadCatalogueFile(shippedBlueprintsPath());
  if (typeof source === "string") return loadCatalogueFile(source);
  return parseCatalogue(source, "blueprints option");
}

const envelope = (status: number, message: string, errorCode: string) =>
  toResponse({ status, body: { message, error_code: errorCode, server_traceback: null } });

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startEmulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const log = options.logger ?? silentLogger;
  const host = options.host ?? "127.0.0.1";
  const tenants = options.tenants ?? [DEFAULT_TENANT];
  const users: UserRecord[] = (options.users ?? [{ username: "admin", password: "admin" }]).map((u) => ({
    username: u.username,
    password: u.password,
    role: u.role ?? "sys_admin",
    tenants: u.tenants ?? tenants,
  }));
  const catalogue = loadCatalogue(options.blueprints);
  const version = options.version ?? "7.0.4";
  applyBuiltinRules(catalogue.blueprints, version);
  const store = new Store(catalogue.blueprints, users, tenants);
  const timings = resolveTimings(options.timings);
  const faults = new Faults();
  for (const spec of options.faults ?? []) faults.add(spec);
  const engine = new Engine(store, timings, faults, log);
  const app: App = {
    store,
    engine,
    faults,
    timings,
    log,
    version: { version, edition: options.edition ?? "community" },
    syncCreateTimeoutMs: options.syncCreateTimeoutMs ?? 120_000,
  };
  let requests: RequestRecord[] = [];

  const putSecret = (key: string, value: string, opts: { tenant?: string; hidden?: boolean } = {}) => {
    const tenant = opts.tenant ?? DEFAULT_TENANT;
    const now = nowIso();
    store.tenant(tenant).secrets.set(key, {
      key,
      tenant,
      value,
      visibility: "tenant",
      isHiddenValue: opts.hidden ?? false,
      schema: null,
      createdAt: now,
      updatedAt: now,
      createdBy: "admin",
    });
  };
  for (const s of catalogue.secrets) putSecret(s.key, s.value, { hidden: s.hidden });
  for (const s of options.secrets ?? []) putSecret(s.key, s.value, s);

  const expireTokens = (id?: string): number => {
    let expired = 0;
    for (const token of store.tokens.values()) {
      if (id !== undefined && token.id !== id) continue;
      token.expiresAt = Date.now() - 1;
      expired += 1;
    }
    return expired;
  };

  const wipe = () => {
    engine.stopAll();
    store.wipe();
  };

  let server: Server;
  let port = options.port ?? 0;

  type Env = { Bindings: HttpBindings };
  const api = buildApi(app);
  const front = new Hono<Env>();
  front.route(
    "/_emulator",
    adminApp({
      faults,
      requests: () => requests.map((r) => ({ ...r })),
      clearRequests: () => {
        requests = [];
      },
      restart: (downMs, keepData) => handle.restart({ downMs, keepData }),
      wipe,
      expireTokens,
    }),
  );
  // Everything else is the manager, behind the injected faults of the network in front of it.
  front.all("*", async (c) => {
    const method = c.req.method.toUpperCase();
    const path = new URL(c.req.url).pathname;
    requests.push({ method, path, at: nowIso() });
    if (requests.length > MAX_LOGGED_REQUESTS) requests.splice(0, requests.length - MAX_LOGGED_REQUESTS);
    const decision = faults.forRequest(method, path);
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    if (decision.holds.length) await Promise.all(decision.holds);
    const dropConnection = () => {
      // No response at all: the client sees the connection close under it.
      c.env.incoming.socket.destroy();
      return new Response(null, { status: 500 });
    };
    if (decision.drop) return dropConnection();
    const body = Buffer.from(await c.req.arrayBuffer());
    if (decision.error) {
      const { status, errorCode, retryAfter } = decision.error;
      const response = errorCode
        ? envelope(status, `Cloudify Manager is unavailable (${errorCode})`, errorCode)
        : toResponse({ status, text: proxyErrorPage(status), contentType: "text/html" });
      if (retryAfter !== undefined) response.headers.set("Retry-After", retryAfter);
      return response;
    }
    if (body.length > MAX_BODY) return envelope(413, "Request body too large", "bad_parameters_error");
    const forward = async () =>
      api.fetch(
        new Request(c.req.url, {
          method,
          headers: c.req.raw.headers,
          ...(body.length > 0 ? { body } : {}),
        }),
      );
    if (decision.late) {
      const { answer, performAfterMs } = decision.late;
      // The gateway gave up; the manager did not: the request still happens, later.
      setTimeout(() => {
        forward().catch((err) => log.error({ err }, "late request failed"));
      }, performAfterMs).unref();
      log.debug({ method, path, answer, performAfterMs }, "gateway timeout; performing the request late");
      return answer === "drop"
        ? dropConnection()
        : toResponse({ status: 504, text: proxyErrorPage(504), contentType: "text/html" });
    }
    return forward();
  });
  const requestListener = getRequestListener(front.fetch, {
    errorHandler: (err) => {
      log.error({ err }, "emulator request crashed");
      return envelope(500, "emulator crashed", "internal_server_error");
    },
  });

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const onRequest = (req: IncomingMessage, res: ServerResponse) => void requestListener(req, res);
      server = options.tls ? createHttpsServer(options.tls, onRequest) : createServer(onRequest);
      server.keepAliveTimeout = 5_000;
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  await listen();
  let closed = false;
  let restarting: Promise<void> | undefined;

  const depOf = (id: string, tenant = DEFAULT_TENANT): DeploymentRecord | undefined =>
    store.tenant(tenant).deployments.get(id);

  const handle: EmulatorHandle = {
    get url() {
      return `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
    },
    host,
    get port() {
      return port;
    },
    async close() {
      if (closed) return;
      closed = true;
      await restarting;
      engine.stopAll();
      await stop();
    },
    async restart({ downMs = 1000, keepData = true } = {}) {
      if (closed || restarting) return restarting;
      restarting = (async () => {
        await stop();
        if (!keepData) wipe();
        log.info({ downMs, keepData }, "emulated manager restarting");
        await sleep(downMs);
        if (!closed) await listen();
      })().finally(() => {
        restarting = undefined;
      });
      return restarting;
    },
    faults: {
      add: (spec) => faults.add(spec),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
      list: () => faults.list(),
    },
    requests: {
      list: () => requests.map((r) => ({ ...r })),
      count: (filter = {}) =>
        requests.filter(
          (r) =>
            (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
            (filter.path === undefined ||
              (typeof filter.path === "string" ? r.path === filter.path : filter.path.test(r.path))),
        ).length,
      clear: () => {
        requests = [];
      },
    },
    state: {
      deployment(id, tenant) {
        const dep = depOf(id, tenant);
        if (!dep) return undefined;
        return renderDeployment(dep, store.tenant(dep.tenant).executions.get(dep.latestExecutionId));
      },
      executions(deploymentId, tenant = DEFAULT_TENANT) {
        const data = store.tenant(tenant);
        return [...data.executions.values()]
          .filter((e) => deploymentId === undefined || e.deploymentId === deploymentId)
          .map((e) => renderExec(data, e));
      },
      history(deploymentId) {
        return engine.history
          .filter((e) => deploymentId === undefined || e.deploymentId === deploymentId)
          .map((e) => ({
            id: e.id,
            tenant: e.tenant,
            deploymentId: e.deploymentId,
            workflowId: e.workflowId,
            status: e.status,
            parameters: structuredClone(e.parameters),
          }));
      },
      nodeInstances(deploymentId, tenant) {
        return (depOf(deploymentId, tenant)?.nodes ?? []).map((n) => ({
          id: n.id,
          nodeId: n.nodeId,
          state: n.state,
          runtimeProperties: structuredClone(n.runtimeProperties),
        }));
      },
      putSecret,
      wipe,
      expireTokens,
    },
  };
  log.info({ url: handle.url }, "Cloudify Manager emulator listening");
  return handle;
}
