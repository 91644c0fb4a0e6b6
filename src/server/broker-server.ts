import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { BindingService } from "../broker/bindings/binding-service.js";
import { BlueprintSchemas } from "../broker/catalog/blueprint-schemas.js";
import { DeploymentPresence } from "../broker/instances/deployment-presence.js";
import { InstanceService } from "../broker/instances/instance-service.js";
import { inventory } from "../broker/inventory.js";
import { BINDINGS, type BindingRecord, INSTANCES, type InstanceRecord } from "../broker/model/records.js";
import { Sealer } from "../broker/model/sealing.js";
import { bindingMachines, bindingStatusAfter } from "../broker/operations/binding-machines.js";
import {
  deprovisionMachine,
  instanceStatusAfter,
  provisionMachine,
  updateMachine,
} from "../broker/operations/instance-machines.js";
import { KeyedMutex } from "../broker/operations/keyed-mutex.js";
import { OperationEngine } from "../broker/operations/operation-engine.js";
import { serviceBroker } from "../broker/service-broker.js";
import { keyringFromSpecs } from "../crypto/index.js";
import { createLogger, type Logger } from "../log/logger.js";
import { brokerMetrics } from "../metrics/broker-metrics.js";
import { createOsbApp } from "../osb/app.js";
import { renderCatalog } from "../osb/catalog.js";
import { osbRoutes } from "../osb/routes.js";
import type { Catalog } from "../osb/types.js";
import { routeHandlebarsWarnings } from "../templates/index.js";
import { packageVersion } from "../util/package-root.js";
import { letRequestsRun } from "../util/slices.js";
import { answerClientErrors } from "./client-errors.js";
import { CloudifyConnection } from "./cloudify-connection.js";
import { healthChecks, replicaInfo } from "./health.js";
import { drainableServer } from "./http-drain.js";
import { type ConfigOverrides, LiveConfig, type ReloadResult } from "./live-config.js";
import { configFingerprint, configFingerprintInSlices, openState } from "./state-backend.js";

export interface BrokerServerOptions {
  configFile: string;
  overrides?: ConfigOverrides;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Whether a reload applies broker.log_level to the logger (default: only to a logger the server created). */
  applyLogLevel?: boolean;
  /** Open a state directory whose data is missing (`serve --allow-missing-state`): see src/state. */
  allowMissingState?: boolean;
  /** How often tombstones and bindings of deleted instances are purged (default 60 s; tests shorten it). */
  janitorIntervalMs?: number;
}

export interface BrokerServer {
  url: string;
  port: number;
  config: LiveConfig;
  log: Logger;
  /** Re-reads broker.yaml and switches everything derived from it; never throws. */
  reload(): Promise<ReloadResult>;
  /**
   * Graceful stop: stop accepting, let connected clients finish (each connection closes after
   * its current exchange), let engine steps reach their commit, flush and release the state.
   * Resolves `true` when all of it finished within `deadlineMs` (default: the configured
   * shutdown_timeout_seconds); past the deadline the connections left are cut and it
   * resolves `false` without waiting further (the caller exits).
   */
  shutdown(deadlineMs?: number): Promise<boolean>;
  /** Immediate stop (tests): open connections are cut, then the same clean-up as shutdown. */
  close(): Promise<void>;
}

/** After the succeeded period, deprovisioned ids answer last_operation with 410 this long, then are forgotten. */
const GONE_RETENTION_SECONDS = 7 * 24 * 3600;
const JANITOR_INTERVAL_MS = 60_000;

/**
 * Starts the broker: config (throwing ConfigError with every issue), state (exclusive), the
 * operation engine, then HTTP. The catalog needs nothing but the config and the state's
 * schema cache, so it is served even when Cloudify is unreachable.
 */
export async function startBrokerServer(options: BrokerServerOptions): Promise<BrokerServer> {
  const env = options.env ?? process.env;
  const bootLog = options.logger ?? createLogger({ level: env.LOG_LEVEL });
  const config = await LiveConfig.load(options.configFile, options.overrides ?? {}, env, bootLog);
  const runtime = () => config.get().loaded.runtime!;
  const log = options.logger ?? createLogger({ level: runtime().logLevel });
  config.logTo(log);

  const { keys, allowPlaintext } = runtime().encryption;
  const keyringOf = (specs: string[]) => (specs.length ? keyringFromSpecs(specs) : undefined);
  const sealer = new Sealer(keyringOf(keys));
  if (!sealer.encrypting && allowPlaintext) {
    log.warn(
      "UNSAFE: no encryption key; binding credentials are stored in plain text (broker.encryption.allow_plaintext)",
    );
  }

  const levelled = [log];
  const component = (name: string) => {
    const child = log.child({ component: name });
    levelled.push(child);
    return child;
  };
  routeHandlebarsWarnings(component("templates"));
  let fingerprint = configFingerprint(config.get().loaded);
  const storeHealth = () => store.health();
  const { store, shared, where } = await openState(
    runtime(),
    component("state"),
    fingerprint,
    options.allowMissingState,
  );

  const metrics = brokerMetrics(
    {
      inventory: inventory(store),
      storeWritable: () => storeHealth().writable,
      configGeneration: () => config.get().number,
      failedReloads: () => config.failedReloads,
      lastReloadFailed: () => config.problem !== undefined,
      cloudifyLastAnswerAt: () => connection.reachability.lastAnswerAt,
      version: packageVersion(),
    },
    shared ? { own: () => fingerprint, all: () => shared.knownReplicas() } : undefined,
  );
  const connection = new CloudifyConnection(runtime().cloudify, component("cloudify"), metrics.cloudifyCall);
  const cloudify = connection.port;
  const mutex = new KeyedMutex(shared);
  const engine = new OperationEngine({
    store,
    cloudify,
    mutex,
    ...(shared ? { leases: shared } : {}),
    log: component("engine"),
    settings: () => ({
      pollIntervalMs: runtime().operations.pollIntervalMs,
      maxBackoffMs: 60_000,
      lookupWindowMs: runtime().cloudify.lookupWindowMs,
    }),
    observer: {
      finished: metrics.operationFinished,
      transientFailure: metrics.cloudifyTransientFailure,
      swept: metrics.operationsSwept,
    },
  });
  // Operations waiting out a grown backoff go on as soon as the manager answers again.
  connection.onRecovered = () => engine.retryTransientNow();
  engine.register<InstanceRecord>({
    collection: INSTANCES,
    logField: "instance_id",
    machine: (op) =>
      op.type === "provision" ? provisionMachine : op.type === "update" ? updateMachine : deprovisionMachine,
    lockKey: (record) => record.id,
    onFinished: instanceStatusAfter,
  });

  const machines = bindingMachines({ store, catalog: () => config.get().loaded.catalog, sealer });
  engine.register<BindingRecord>({
    collection: BINDINGS,
    logField: "binding_id",
    machine: (op) => (op.type === "bind" ? machines.bind : machines.unbind),
    // A binding's commits take its instance's lock, so they never interleave with a request on
    // that instance (which checks the instance's bindings before it acts).
    lockKey: (record) => record.instanceId,
    onFinished: bindingStatusAfter,
  });

  // The catalog is rendered once per config load and once per change of derived schemas.
  let catalog: Catalog | undefined;
  const schemas = new BlueprintSchemas({
    store,
    cloudify,
    log: component("schemas"),
    retryIntervalMs: Math.max(1000, runtime().operations.pollIntervalMs * 5),
    onChange: () => {
      catalog = undefined;
    },
  });
  const currentCatalog = () => {
    schemas.followCache(); // may reset `catalog`: another replica refreshed the shared cache
    catalog ??= renderCatalog(config.get().loaded.catalog, (planId) => schemas.forPlan(planId));
    return catalog;
  };

  const instances = new InstanceService({
    store,
    engine,
    mutex,
    log,
    catalog: () => config.get().loaded.catalog,
    derived: (planId) => schemas.forPlan(planId),
    settings: () => runtime().operations,
  });

  const bindings = new BindingService({
    store,
    engine,
    mutex,
    cloudify,
    sealer,
    log,
    catalog: () => config.get().loaded.catalog,
    settings: () => runtime().operations,
    // As long as a deployment's presence is reused (CFY-GONE): what changed on the manager
    // outside the broker shows within the same time.
    reuseDeploymentReadsMs: () => runtime().operations.pollIntervalMs * 2,
  });

  let stopping = false;
  const health = healthChecks({
    store: storeHealth,
    configProblem: () => config.problem,
    cloudify: connection.reachability,
    cloudifyUnreachableMs: () => runtime().health.cloudifyUnreachableMs,
    stopping: () => stopping,
    // Every plan's blueprint exists in Cloudify (issue 9 item 7): reported, never failing the
    // probe, since the other plans still work.
    info: () => ({
      blueprints: schemas.blueprintCheck(),
      ...(shared ? replicaInfo(shared, fingerprint) : {}),
    }),
  });

  const presence = new DeploymentPresence({
    store,
    cloudify,
    log,
    // Platforms poll every few seconds: one check per deployment per few poll intervals.
    cacheMs: () => runtime().operations.pollIntervalMs * 2,
  });
  const broker = serviceBroker(instances, bindings, presence);
  const app = createOsbApp(
    {
      log,
      platformUsers: () => runtime().users,
      maxBodyBytes: () => runtime().maxBodyBytes,
      catalog: currentCatalog,
      broker: () => broker,
      retryAfterSeconds: () => runtime().operations.retryAfterSeconds,
      metrics,
      health,
    },
    osbRoutes,
  );

  const { host, port } = runtime().listen;
  let server: ReturnType<typeof serve>;
  try {
    server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve(
        { fetch: shared ? readYourWrites(app.fetch, shared) : app.fetch, hostname: host, port },
        () => resolve(s),
      );
      s.once("error", reject);
    });
  } catch (error) {
    await store.close();
    await connection.close();
    throw error;
  }
  const http = drainableServer(server as Parameters<typeof drainableServer>[0]);
  answerClientErrors(server as Parameters<typeof answerClientErrors>[0], log);
  engine.start();
  void schemas.load(config.get().loaded.catalog);
  const janitor = setInterval(() => {
    Promise.all([
      instances.purgeTombstones(GONE_RETENTION_SECONDS),
      bindings.purgeTombstones(GONE_RETENTION_SECONDS),
      bindings.purgeBindingsOfDeletedInstances(),
    ]).catch((error) => log.error({ err: error }, "state clean-up failed"));
  }, options.janitorIntervalMs ?? JANITOR_INTERVAL_MS);
  janitor.unref();

  // An idle broker makes no Cloudify calls; a cheap one now and then keeps readiness honest.
  let probe: NodeJS.Timeout | undefined;
  const scheduleProbe = () => {
    const interval = runtime().health.cloudifyProbeIntervalMs;
    probe = setTimeout(() => {
      if (Date.now() - connection.reachability.lastAnswerAt >= interval) {
        void connection.probe();
      }
      scheduleProbe();
    }, interval);
    probe.unref();
  };
  scheduleProbe();

  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, config: config.file, state: where, config_fingerprint: fingerprint }, "broker listening");

  return {
    url,
    port: address.port,
    config,
    log,
    async reload() {
      const result = await config.reload((next) => {
        const settings = next.loaded.runtime!;
        // Built first: a key or CA file that cannot be used fails the reload before anything switched.
        const keyring = keyringOf(settings.encryption.keys);
        connection.update(settings.cloudify);
        sealer.useKeyring(keyring);
        if (options.applyLogLevel ?? !options.logger)
          for (const logger of levelled) logger.level = settings.logLevel;
      });
      if (result.ok) {
        const loaded = config.get().loaded;
        catalog = undefined;
        void schemas.load(loaded.catalog);
        // A large config's fingerprint takes a while: requests are served meanwhile (issue 14),
        // and a reload that finished in the meantime has published its own.
        const print = await configFingerprintInSlices(loaded, letRequestsRun);
        if (config.get().loaded === loaded) {
          fingerprint = print;
          await shared?.setConfigFingerprint(print);
        }
      }
      return result;
    },
    shutdown: (deadlineMs = runtime().shutdownTimeoutMs) => stop(deadlineMs),
    async close() {
      await stop(0);
    },
  };

  async function stop(deadlineMs: number): Promise<boolean> {
    stopping = true;
    clearInterval(janitor);
    clearTimeout(probe);
    log.info({ deadline_ms: deadlineMs, in_flight: http.inFlight() }, "shutting down");
    const graceful = (async () => {
      await http.drain();
      // Requests are answered; the steps they kicked (and the sweep) reach their commit point.
      schemas.stop();
      await engine.stop();
      await store.close();
      await connection.close();
    })();
    if (deadlineMs === 0) {
      http.forceClose();
      await graceful;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    const finished = await Promise.race([graceful.then(() => true as const), expired]);
    clearTimeout(timer);
    if (finished) {
      log.info("shut down cleanly");
      return true;
    }
    log.error(
      { deadline_ms: deadlineMs, connections: http.connections(), in_flight: http.inFlight() },
      "shutdown deadline passed; cutting the remaining connections",
    );
    http.forceClose();
    return false;
  }
}

/** How long a read waits to see other replicas' latest commits before answering from its cache. */
const READ_SYNC_TIMEOUT_MS = 2000;

/**
 * With several replicas a platform may provision on one and poll last_operation on another: each
 * OSB request first brings this replica's cache up to date (one query), so it sees every commit
 * acknowledged before it arrived. Mutations re-sync under their instance lock anyway. While the
 * database is unreachable, reads answer from the cache (the best this replica knows) and
 * mutations get 503 with Retry-After.
 */
function readYourWrites<Rest extends unknown[]>(
  fetch: (request: Request, ...rest: Rest) => Response | Promise<Response>,
  shared: { sync(): Promise<void>; health(): { writable: boolean } },
): (request: Request, ...rest: Rest) => Promise<Response> {
  // `rest` carries the Node request and response (hono's bindings: the access log reads the peer).
  return async (request, ...rest) => {
    // Known unreachable: no wait, the store's own probe notices its return within a second.
    // Mutations need no wait here: they catch up under their instance lock before deciding.
    if (
      request.method === "GET" &&
      shared.health().writable &&
      new URL(request.url).pathname.startsWith("/v2/service_")
    ) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        shared.sync().catch(() => {}),
        new Promise((resolve) => {
          timer = setTimeout(resolve, READ_SYNC_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    return fetch(request, ...rest);
  };
}
