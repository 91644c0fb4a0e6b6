import { readFile, stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../config/issues.js";
import { loadConfig } from "../config/load.js";
import type { createLogger } from "../log/logger.js";
import {
  assertPostgresState,
  FileStateStore,
  PostgresStateStore,
  readPostgresState,
  readStateDir,
  StateError,
  type StateExport,
  type StateStore,
} from "../state/index.js";
import { UsageError } from "./args.js";

/** Where state lives: a directory (file store) or a PostgreSQL schema. */
export type Location = { kind: "dir"; dir: string } | { kind: "postgres"; url: string; schema: string };

export function location(value: string, schema: string | undefined): Location {
  if (/^postgres(ql)?:\/\//.test(value))
    return { kind: "postgres", url: value, schema: schema ?? "cfy_broker" };
  if (schema !== undefined) throw new UsageError("a schema only applies to a postgres:// URL");
  return { kind: "dir", dir: value };
}

export function describe(where: Location): string {
  if (where.kind === "dir") return where.dir;
  const url = new URL(where.url);
  if (url.password) url.password = "***";
  return `${url} schema ${where.schema}`;
}

export async function readState(
  where: Location,
  logger: ReturnType<typeof createLogger>,
): Promise<StateExport> {
  return where.kind === "dir"
    ? readStateDir(where.dir, logger)
    : readPostgresState({ url: where.url, schema: where.schema });
}

/**
 * Opens a store for maintenance. A directory must exist (open() would create a missing one, and
 * a typo should not "succeed" on nothing) and is locked; PostgreSQL is opened without joining
 * the replicas (no leases).
 */
export async function openStore(
  where: Location,
  logger: ReturnType<typeof createLogger>,
  { create = false } = {},
): Promise<StateStore> {
  if (where.kind === "dir") {
    if (!create && !(await stat(where.dir).catch(() => undefined))?.isDirectory())
      throw new StateError("FORMAT", `no state directory at ${where.dir}`);
    const store = new FileStateStore({ dir: where.dir, logger });
    await store.open();
    return store;
  }
  if (!create) await assertPostgresState({ url: where.url, schema: where.schema });
  const store = new PostgresStateStore({ url: where.url, schema: where.schema, logger });
  await store.open();
  return store;
}

/**
 * The state a command works on: `--state DIR|URL` when given (no configuration needed at all),
 * else broker.state of broker.yaml, read without its secrets (only the state's own settings
 * must resolve), so operators can run state commands with nothing but the state's location.
 */
export async function stateLocation(file: string, state: string | undefined): Promise<Location> {
  if (state !== undefined) return location(state, undefined);
  const { loaded, issues } = await loadConfig(file, { mode: "validate" });
  if (!loaded) throw new ConfigError(issues);
  const settings = loaded.config.broker.state;
  if (settings?.backend === "postgres") {
    const url = settings.url;
    const text =
      typeof url === "string"
        ? url
        : url
          ? (
              await readFile(isAbsolute(url.file) ? url.file : resolve(loaded.file, "..", url.file), "utf8")
            ).trim()
          : "";
    if (!text) throw new UsageError(`${file}: broker.state.url is empty; give --state DIR|URL`);
    return location(text, settings.schema ?? "cfy_broker");
  }
  return location(settings?.dir ?? "./.state", undefined);
}

/**
 * Opens a store to change records behind the broker's back, which is only safe while no broker
 * uses it: a directory is locked by its broker (StateLockedError: stop it first); a PostgreSQL
 * schema must have no live replica.
 */
export async function openStopped(
  where: Location,
  logger: ReturnType<typeof createLogger>,
): Promise<StateStore> {
  const store = await openStore(where, logger);
  if (store instanceof PostgresStateStore) {
    const live = await store.replicas();
    if (live.length) {
      await store.close();
      throw new StateError(
        "LOCKED",
        `${live.length} broker replica(s) still use ${describe(where)} (${live.map((r) => r.id).join(", ")}); stop them first`,
      );
    }
  }
  return store;
}
