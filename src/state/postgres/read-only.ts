import pg from "pg";
import { StateError } from "../errors.js";
import { MemoryState } from "../memory-image.js";
import type { JsonValue, StateExport } from "../types.js";
import type { PostgresStateStoreOptions } from "./store.js";

/**
 * Reads every record of a broker schema in one snapshot, without migrating or registering
 * anything: safe while replicas run (`state export`), and refuses a schema holding no broker
 * state rather than creating one.
 */
export async function readPostgresState(options: ReadOptions): Promise<StateExport> {
  return withSchema(options, async (client, schema) => {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { rows } = await client.query<{ collection: string; id: string; value: JsonValue }>(
      `SELECT collection, id, value FROM ${client.escapeIdentifier(schema)}.records WHERE value IS NOT NULL`,
    );
    await client.query("COMMIT");
    const memory = new MemoryState();
    for (const row of rows) memory.put(row.collection, row.id, row.value);
    return memory.export();
  });
}

/** Refuses (StateError FORMAT) unless the schema holds broker state. */
export async function assertPostgresState(options: ReadOptions): Promise<void> {
  await withSchema(options, async () => undefined);
}

type ReadOptions = Pick<PostgresStateStoreOptions, "url" | "schema" | "ssl">;

async function withSchema<T>(
  options: ReadOptions,
  work: (client: pg.Client, schema: string) => Promise<T>,
): Promise<T> {
  const schema = options.schema ?? "cfy_broker";
  const client = new pg.Client({
    connectionString: options.url,
    ...(options.ssl ? { ssl: options.ssl } : {}),
    application_name: "cfy-broker state",
    connectionTimeoutMillis: 10_000,
  });
  await client.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>("SELECT to_regclass($1) IS NOT NULL AS ok", [
      `${client.escapeIdentifier(schema)}.records`,
    ]);
    if (!rows[0]?.ok) throw new StateError("FORMAT", `no broker state in schema ${schema} of that database`);
    return await work(client, schema);
  } finally {
    await client.end().catch(() => {});
  }
}
