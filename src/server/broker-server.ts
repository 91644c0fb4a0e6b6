import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { BindingService } from "../broker/bindings/binding-service.js";
import { BlueprintSchemas } from "../broker/catalog/blueprint-schemas.js";
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
import { connectCloudify } from "./cloudify-connection.js";
import { type ConfigOverrides, LiveConfig } from "./live-config.js";
import { configFingerprint, openState } from "./state-backend.js";

export interface BrokerServerOptions {
  configFile: string;
  overrides?: ConfigOverrides;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Open a state directory whose data is missing (`serve --allow-missing-state`): see src/state. */
  allowMissingState?: boolean;
  /** How often tombstones and bindings of deleted instances are purged (default 60 s; tests shorten it). */
  janitorIntervalMs?: number;
}

export interface BrokerServer {
  url: string;
  port: number;
  config: LiveConfig;
  reload(): ReturnType<LiveConfig["reload"]>;
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

  const { keys, allowPlaintext } = runtime().encryption;
  const sealer = new Sealer(keys.length ? keyringFromSpecs(keys) : undefined);
  if (!sealer.encrypting && allowPlaintext) {
    log.warn(
      "UNSAFE: no encryption key; binding credentials are stored in plain text (broker.encryption.allow_plaintext)",
    );
  }

  let fingerprint = configFingerprint(config.get().loaded);
  const { store, shared, where } = await openState(
    runtime(),
    log.child({ component: "state" }),
    fingerprint,
    options.allowMissingState,
  );

  const { client, port: cloudify } = connectCloudify(
    runtime().cloudify,
    log.child({ component: "cloudify" }),
  );
  const metrics = brokerMetrics(
    inventory(store),
    shared ? { own: () => fingerprint, all: () => shared.knownReplicas() } : undefined,
  );
  const mutex = new KeyedMutex(shared);
  const engine = new OperationEngine({
    store,
    cloudify,
    mutex,
    ...(shared ? { leases: shared } : {}),
    log: log.child({ component: "engine" }),
    settings: () => ({ pollIntervalMs: runtime().operations.pollIntervalMs, maxBackoffMs: 60_000 }),
    observer: { finished: metrics.operationFinished, transientFailure: metrics.cloudifyTransientFailure },
  });
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
    log: log.child({ component: "schemas" }),
    retryIntervalMs: Math.max(1000, runtime().operations.pollIntervalMs * 5),
    onChange: () => {
      catalog = undefined;
    },
  });
  const currentCatalog = () => {
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
  });

  const broker = serviceBroker(instances, bindings);
  const app = createOsbApp(
    {
      log,
      platformUsers: () => runtime().users,
      maxBodyBytes: () => runtime().maxBodyBytes,
      catalog: currentCatalog,
      broker: () => broker,
      retryAfterSeconds: () => runtime().operations.retryAfterSeconds,
      metrics,
      health: (): { status: "ok" | "degraded"; checks: Record<string, string> } => {
        const state = store.health();
        if (!shared) {
          return {
            status: state.writable ? "ok" : "degraded",
            checks: {
              config: "loaded",
              state: state.writable ? "writable" : `not writable: ${state.reason}`,
            },
          };
        }
        const replicas = shared.knownReplicas();
        const prints = new Set(replicas.map((r) => r.configFingerprint));
        return {
          status: state.writable ? "ok" : "degraded",
          checks: {
            config: `loaded (fingerprint ${fingerprint})`,
            state: state.writable ? "postgres reachable" : `not writable: ${state.reason}`,
            // Different versions during a rolling upgrade are expected: reported, not failing.
            replicas:
              prints.size > 1
                ? `${replicas.length} live, config fingerprints differ: ${[...prints].sort().join(", ")}`
                : `${replicas.length} live, same config`,
          },
        };
      },
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
    await client.close();
    throw error;
  }
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

  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, config: config.file, state: where, config_fingerprint: fingerprint }, "broker listening");

  return {
    url,
    port: address.port,
    config,
    async reload() {
      const result = await config.reload();
      if (result.ok) {
        fingerprint = configFingerprint(config.get().loaded);
        await shared?.setConfigFingerprint(fingerprint);
        catalog = undefined;
        void schemas.load(config.get().loaded.catalog);
      }
      return result;
    },
    async close() {
      clearInterval(janitor);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets would hold close() open; platforms reconnect.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      schemas.stop();
      await engine.stop();
      await store.close();
      await client.close();
    },
  };
}

/** How long a read waits to see other replicas' latest commits before answering from its cache. */
const READ_SYNC_TIMEOUT_MS = 2000;

/**
 * With several replicas a platform may provision on one and poll last_operation on another: each
 * OSB request first brings this replica's cache up to date (one query), so it sees every commit
 * acknowledged before it arrived. Mutations re-sync under their instance lock anyway. While the
 * database is unreachable, reads answer from the cache (the best this replica knows).
 */
function readYourWrites<Rest extends unknown[]>(
  fetch: (request: Request, ...rest: Rest) => Response | Promise<Response>,
  shared: { sync(): Promise<void> },
): (request: Request, ...rest: Rest) => Promise<Response> {
  // `rest` carries the Node request and response (hono's bindings: the access log reads the peer).
  return async (request, ...rest) => {
    if (new URL(request.url).pathname.startsWith("/v2/service_")) {
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
