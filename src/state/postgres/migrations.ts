import type { PoolClient } from "pg";
import type { Logger } from "../../log/logger.js";
import { StateFormatError } from "../errors.js";

/**
 * Versioned schema migrations, applied in order at open. Each runs in its own transaction and is
 * recorded in `migrations`; all of them run under one advisory lock so replicas that start at the
 * same time apply each migration exactly once (the others wait, then find nothing to do). Never
 * edit a released migration: append a new one.
 *
 * TABLES (inside the configured schema)
 *   records(collection, id, value json, seq)  every record; value NULL = deleted, kept so other
 *                                             replicas catching up by seq see the deletion
 *   head(seq, horizon)                        one row: seq of the last commit (its row lock orders
 *                                             commits), horizon = highest seq of purged deletions
 *   leases(key, owner, expires_at)            which replica drives an operation, until when
 *   replicas(id, ..., config_fingerprint)     each running replica, for readiness and drift
 *
 * `value` is `json`, not `jsonb`: json keeps the text exactly as the broker wrote it (the same
 * bytes the file store journals, sealed envelopes included) and accepts every string JSON can
 * hold, while jsonb would reorder keys and refuse \u0000.
 */
const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: "records, head, leases, replicas",
    sql: `
      CREATE TABLE records (
        collection text NOT NULL,
        id text NOT NULL,
        value json,
        seq bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (collection, id)
      );
      CREATE INDEX records_seq ON records (seq);
      CREATE TABLE head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        seq bigint NOT NULL,
        horizon bigint NOT NULL DEFAULT 0
      );
      INSERT INTO head (seq) VALUES (0);
      CREATE TABLE leases (
        key text PRIMARY KEY,
        owner text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE TABLE replicas (
        id text PRIMARY KEY,
        hostname text NOT NULL,
        pid integer NOT NULL,
        config_fingerprint text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        seen_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Creates the schema if needed and applies every migration it lacks. Idempotent. */
export async function migrate(client: PoolClient, schema: string, log: Logger): Promise<void> {
  const id = client.escapeIdentifier(schema);
  await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`cfy-broker:migrate:${schema}`]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${id}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${id}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${id}.migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const newest = Math.max(0, ...applied);
    if (newest > SCHEMA_VERSION) {
      throw new StateFormatError(
        `postgres schema ${schema}`,
        `its tables are at version ${newest}, this broker knows up to ${SCHEMA_VERSION}; upgrade the broker`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(`SET LOCAL search_path TO ${id}`);
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${id}.migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
      log.info({ schema, version: migration.version, name: migration.name }, "state schema migrated");
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [
      `cfy-broker:migrate:${schema}`,
    ]);
  }
}
