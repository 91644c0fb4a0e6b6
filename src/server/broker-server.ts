import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { BindingService } from "../broker/bindings.js";
import { BlueprintSchemas } from "../broker/blueprint-schemas.js";
import { renderCatalog } from "../broker/catalog.js";
import { bindingMachines, bindingStatusAfter } from "../broker/engine/binding-machines.js";
import { OperationEngine } from "../broker/engine/engine.js";
import {
  deprovisionMachine,
  instanceStatusAfter,
  provisionMachine,
  updateMachine,
} from "../broker/engine/instance-machines.js";
import { InstanceService } from "../broker/instances.js";
import { KeyedMutex } from "../broker/mutex.js";
import { BINDINGS, type BindingRecord, INSTANCES, type InstanceRecord } from "../broker/records.js";
import { Sealer } from "../broker/sealing.js";
import { keyringFromSpecs } from "../crypto/index.js";
import { createLogger, type Logger } from "../log/logger.js";
import { brokerMetrics } from "../metrics/broker-metrics.js";
import { createOsbApp } from "../osb/app.js";
import { osbRoutes } from "../osb/routes.js";
import type { Catalog } from "../osb/types.js";
import { FileStateStore } from "../state/index.js";
import { connectCloudify } from "./cloudify-connection.js";
import { type ConfigOverrides, LiveConfig } from "./live-config.js";

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

  const store = new FileStateStore({
    dir: runtime().stateDir,
    logger: log.child({ component: "state" }),
    allowMissingData: options.allowMissingState ?? false,
  });
  await store.open();

  const { client, port: cloudify } = connectCloudify(
    runtime().cloudify,
    log.child({ component: "cloudify" }),
  );
  const metrics = brokerMetrics(store);
  const mutex = new KeyedMutex();
  const engine = new OperationEngine({
    store,
    cloudify,
    mutex,
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

  const app = createOsbApp(
    {
      log,
      credentials: () => runtime().users,
      maxBodyBytes: () => runtime().maxBodyBytes,
      catalog: currentCatalog,
      instances: () => instances,
      bindings: () => bindings,
      retryAfterSeconds: () => runtime().operations.retryAfterSeconds,
      metrics,
      health: () => {
        const state = store.health();
        return {
          status: state.writable ? "ok" : "degraded",
          checks: { config: "loaded", state: state.writable ? "writable" : `not writable: ${state.reason}` },
        };
      },
    },
    osbRoutes,
  );

  const { host, port } = runtime().listen;
  let server: ReturnType<typeof serve>;
  try {
    server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
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
  log.info({ url, config: config.file, state: runtime().stateDir }, "broker listening");

  return {
    url,
    port: address.port,
    config,
    async reload() {
      const result = await config.reload();
      if (result.ok) {
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
