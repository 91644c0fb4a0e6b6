import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { canonicalJsonSteps } from "../broker/model/ids.js";
import type { LoadedConfig } from "../config/load.js";
import type { PostgresSettings, RuntimeSettings } from "../config/runtime.js";
import type { Logger } from "../log/logger.js";
import {
  FileStateStore,
  PostgresStateStore,
  type PostgresStateStoreOptions,
  type StateStore,
} from "../state/index.js";
import { runAtOnce, runInSlices } from "../util/slices.js";

export interface OpenedState {
  store: StateStore;
  /** Set with the postgres backend: coordination between replicas. */
  shared?: PostgresStateStore;
  /** Where the state lives, for logs (never a password). */
  where: string;
}

/** Driver options for the configured database: TLS files read here, so a missing one is named. */
export function postgresOptions(settings: PostgresSettings): PostgresStateStoreOptions {
  const tls = settings.tls;
  return {
    url: settings.url,
    schema: settings.schema,
    poolSize: settings.poolSize,
    leaseSeconds: settings.leaseSeconds,
    ...(tls
      ? {
          ssl: {
            rejectUnauthorized: !tls.insecure,
            ...(tls.caFile ? { ca: readFileSync(tls.caFile, "utf8") } : {}),
            ...(tls.certFile ? { cert: readFileSync(tls.certFile, "utf8") } : {}),
            ...(tls.keyFile ? { key: readFileSync(tls.keyFile, "utf8") } : {}),
          },
        }
      : {}),
  };
}

/** The database URL without its password, for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** Opens the configured store: the state directory (default) or the shared PostgreSQL schema. */
export async function openState(
  runtime: RuntimeSettings,
  log: Logger,
  configFingerprint: string,
  /** Open a file state directory whose data is missing (`serve --allow-missing-state`). */
  allowMissingData = false,
): Promise<OpenedState> {
  if (!runtime.postgres) {
    const store = new FileStateStore({ dir: runtime.stateDir, logger: log, allowMissingData });
    await store.open();
    return { store, where: runtime.stateDir };
  }
  const store = new PostgresStateStore({
    ...postgresOptions(runtime.postgres),
    replica: { configFingerprint },
    logger: log,
  });
  await store.open();
  return {
    store,
    shared: store,
    where: `${redactUrl(runtime.postgres.url)} schema ${runtime.postgres.schema}`,
  };
}

/**
 * What replicas must agree on: everything but the `broker` section (listen address, credentials,
 * state: legitimately per replica or secret) and the Cloudify credentials. Replicas publishing
 * different fingerprints serve different catalogs (a rolling upgrade, or a forgotten ConfigMap).
 */
export function configFingerprint(loaded: LoadedConfig): string {
  return runAtOnce(fingerprintSteps(loaded));
}

/** configFingerprint for a reload: requests are served meanwhile (1,000 plans take ~150 ms). */
export function configFingerprintInSlices(loaded: LoadedConfig, pause: () => Promise<void>): Promise<string> {
  return runInSlices(fingerprintSteps(loaded), pause);
}

function* fingerprintSteps(loaded: LoadedConfig): Generator<void, string> {
  const { broker: _broker, cloudify, ...rest } = loaded.config;
  const { auth: _auth, ...cloudifyRest } = cloudify;
  const out: string[] = [];
  yield* canonicalJsonSteps({ ...rest, cloudify: cloudifyRest }, out);
  return createHash("sha256").update(out.join("")).digest("hex").slice(0, 12);
}
