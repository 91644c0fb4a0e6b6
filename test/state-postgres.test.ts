import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStateStore } from "../src/state/postgres/index.js";
import { createTestDatabase, type TestDatabase, uniqueSchema } from "./support/postgres.js";

let db: TestDatabase;
const opened: PostgresStateStore[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {});
  await db?.drop();
});

async function openStore(
  schema: string,
  extra: Partial<ConstructorParameters<typeof PostgresStateStore>[0]> = {},
) {
  const store = new PostgresStateStore({ url: db.url, schema, refreshIntervalMs: 200, ...extra });
  await store.open();
  opened.push(store);
  return store;
}

async function raw(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("PostgreSQL state store", () => {
  it("commits atomically and durably: a new store sees exactly what was committed, as the same JSON text", async () => {
    const schema = uniqueSchema();
    const store = await openStore(schema);
    const sealed = { v: 1, kid: "k1", iv: "aXY=", ct: "Y3Q=", tag: "dGFn" };
    await store.commit([
      { type: "put", collection: "instances", id: "a", value: { n: 1, secret: sealed, odd: "\u0000x" } },
      { type: "put", collection: "instances", id: "b", value: { n: 2 } },
      { type: "put", collection: "bindings", id: "x", value: { instance: "a" } },
    ]);
    await store.commit([
      { type: "delete", collection: "instances", id: "b" },
      { type: "put", collection: "instances", id: "a", value: { n: 3, secret: sealed, odd: "\u0000x" } },
    ]);
    expect(store.get("instances", "a")).toEqual({ n: 3, secret: sealed, odd: "\u0000x" });
    expect(Object.isFrozen(store.get("instances", "a"))).toBe(true);
    expect(store.get("instances", "b")).toBeUndefined();

    const rows = await raw(`SELECT value::text AS text FROM ${schema}.records WHERE id = 'a'`);
    expect(rows[0].text).toBe(JSON.stringify({ n: 3, secret: sealed, odd: "\u0000x" }));

    const again = await openStore(schema);
    expect(again.export()).toEqual({
      bindings: { x: { instance: "a" } },
      instances: { a: { n: 3, secret: sealed, odd: "\u0000x" } },
    });
  });

  it("rejects an invalid commit whole, before anything reaches the database", async () => {
    const store = await openStore(uniqueSchema());
    await expect(
      store.commit([
        { type: "put", collection: "c", id: "ok", value: 1 },
        { type: "put", collection: "c", id: "bad", value: new Date() },
      ]),
    ).rejects.toThrow(/Date is not plain JSON/);
    expect(store.collections()).toEqual([]);
  });

  it("migrates once when several replicas open a new schema at the same time", async () => {
    const schema = uniqueSchema();
    await Promise.all(Array.from({ length: 5 }, () => openStore(schema)));
    const rows = await raw(`SELECT version FROM ${schema}.migrations`);
    expect(rows).toEqual([{ version: 1 }]);
  });

  it("refuses tables migrated by a newer broker", async () => {
    const schema = uniqueSchema();
    await openStore(schema);
    await raw(`INSERT INTO ${schema}.migrations (version, name) VALUES (999, 'future')`);
    const store = new PostgresStateStore({ url: db.url, schema });
    await expect(store.open()).rejects.toThrow(/version 999.*upgrade the broker/);
  });

  it("replicas see each other's commits (NOTIFY), deletions included", async () => {
    const schema = uniqueSchema();
    const a = await openStore(schema);
    const b = await openStore(schema);
    await a.commit([{ type: "put", collection: "c", id: "1", value: { from: "a" } }]);
    await until(() => b.get("c", "1") !== undefined, "b to see a's put");
    await b.commit([{ type: "delete", collection: "c", id: "1" }]);
    await until(() => a.get("c", "1") === undefined, "a to see b's delete");
    // sync() returns only once everything committed before the call is visible.
    await a.commit([{ type: "put", collection: "c", id: "2", value: 2 }]);
    await b.sync();
    expect(b.get("c", "2")).toBe(2);
  });

  it("exclusive() serialises read-decide-commit on one key across replicas", async () => {
    const schema = uniqueSchema();
    const replicas = await Promise.all([openStore(schema), openStore(schema), openStore(schema)]);
    // Each worker reads the counter, yields, then writes counter + 1: without a cross-process
    // lock, increments would be lost.
    const increment = (store: PostgresStateStore) =>
      store.exclusive("counter", async () => {
        const value = store.get<number>("c", "counter") ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 2));
        await store.commit([{ type: "put", collection: "c", id: "counter", value: value + 1 }]);
      });
    await Promise.all(Array.from({ length: 60 }, (_, i) => increment(replicas[i % 3]!)));
    await replicas[0]!.sync();
    expect(replicas[0]!.get("c", "counter")).toBe(60);
  });

  it("a lease is held by one replica, renewed while held, and taken over only after it expires", async () => {
    const schema = uniqueSchema();
    const replica = { configFingerprint: "f" };
    const a = await openStore(schema, { replica, leaseSeconds: 1 });
    const b = await openStore(schema, { replica, leaseSeconds: 1 });
    expect(await a.claim("op")).toBe(true);
    expect(await b.claim("op")).toBe(false);
    // Renewal keeps it with a beyond several lease periods.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await b.claim("op")).toBe(false);
    expect(a.holds("op")).toBe(true);
    await a.release("op");
    // b asked a moment ago and may wait up to a second before asking the database again.
    let claimed = false;
    for (let i = 0; i < 100 && !claimed; i++) {
      claimed = await b.claim("op");
      if (!claimed) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(claimed).toBe(true);

    // A replica that stops renewing (as if killed) loses the lease after expiry.
    await raw(`UPDATE ${schema}.leases SET expires_at = now() - interval '1 second' WHERE key = 'op'`);
    expect(await a.claim("op")).toBe(true);
    expect((await a.replicas()).map((r) => r.id).sort()).toEqual([a.replicaId, b.replicaId].sort());
  });
});
