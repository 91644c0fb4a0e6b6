import { createHash, randomBytes } from "node:crypto";
import pg from "pg";

/** The local test server (trust auth); PGHOST/PGPORT/PGUSER override it. */
export const PG_ADMIN_URL =
  process.env.TEST_PG_ADMIN_URL ??
  `postgres://${process.env.PGUSER ?? "postgres"}@${process.env.PGHOST ?? "127.0.0.1"}:${process.env.PGPORT ?? "5432"}/postgres`;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database with a unique name (suites run in parallel); drop() removes it. */
export async function createTestDatabase(prefix = "cfy_test"): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A schema name unique to this process and call, valid unquoted. */
export function uniqueSchema(prefix = "s"): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

/** Whether this run exercises the PostgreSQL store (the `postgres` vitest project). */
export const POSTGRES_RUN = process.env.TEST_STATE_BACKEND === "postgres";

/**
 * In the postgres project: the broker environment that keeps the state of the broker "at"
 * `stateDir` in a schema of the file's test database named after that directory. Otherwise none
 * (the file store in `stateDir`, the default).
 */
export function stateBackendEnv(stateDir: string): Record<string, string> {
  if (!POSTGRES_RUN) return {};
  const url = process.env.TEST_PG_URL;
  if (!url) throw new Error("TEST_STATE_BACKEND=postgres needs test/support/postgres-setup.ts (TEST_PG_URL)");
  return {
    BROKER_STATE_BACKEND: "postgres",
    BROKER_STATE_URL: url,
    BROKER_STATE_SCHEMA: schemaFor(stateDir),
  };
}

export function schemaFor(stateDir: string): string {
  return `s_${createHash("sha256").update(stateDir).digest("hex").slice(0, 20)}`;
}
