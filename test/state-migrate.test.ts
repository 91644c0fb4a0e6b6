import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateCommand } from "../src/cli/commands/state.js";
import { generateKey, keyringFromSpecs, mapSealed } from "../src/crypto/index.js";
import {
  type Change,
  FileStateStore,
  PostgresStateStore,
  readPostgresState,
  readStateDir,
  recordChecksum,
} from "../src/state/index.js";
import { textSink } from "./fixtures/state-helpers.js";
import { createTestDatabase, type TestDatabase, uniqueSchema } from "./support/postgres.js";

const INSTANCES = 10_000;
const BINDINGS = 20_000;
const KEY = generateKey();
const ring = keyringFromSpecs([`k1:${KEY}`]);

let db: TestDatabase;
let work: string;
let source: string;

beforeAll(async () => {
  db = await createTestDatabase();
  work = await mkdtemp(join(tmpdir(), "osb-migrate-"));
  source = join(work, "file-store");
  // A populated file store shaped like the broker's: instances, and two bindings per instance
  // with sealed credentials (one seal each: sealing 20,000 values is the slow part).
  const store = new FileStateStore({ dir: source });
  await store.open();
  let batch: Change[] = [];
  const flush = async () => {
    await store.commit(batch);
    batch = [];
  };
  for (let i = 0; i < INSTANCES; i++) {
    const id = `instance-${i}`;
    batch.push({
      type: "put",
      collection: "instances",
      id,
      value: {
        id,
        status: "provisioned",
        planId: "small",
        parameters: { size: i % 7, name: `db ${i}` },
        n: i,
      },
    });
    for (const b of [0, 1]) {
      const bid = `binding-${i}-${b}`;
      batch.push({
        type: "put",
        collection: "bindings",
        id: bid,
        value: {
          id: bid,
          instanceId: id,
          result: ring.seal({ credentials: { password: `pw-${i}-${b}` } }, `bindings/${bid}/result`),
        },
      });
    }
    if (batch.length >= 3000) await flush();
  }
  await flush();
  await store.close();
}, 180_000);

afterAll(async () => {
  await db?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const out = textSink();
  const err = textSink();
  const code = await stateCommand(args, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

function sums(state: Record<string, Record<string, unknown>>) {
  return Object.fromEntries(
    Object.entries(state).map(([c, records]) => [
      c,
      Object.fromEntries(Object.entries(records).map(([id, v]) => [id, recordChecksum(v as never)])),
    ]),
  );
}

describe("state migrate", () => {
  it(`moves a file store (${INSTANCES} instances, ${BINDINGS} bindings) into PostgreSQL and back, losing nothing`, async () => {
    const original = await readStateDir(source);
    expect(Object.keys(original.instances!)).toHaveLength(INSTANCES);
    expect(Object.keys(original.bindings!)).toHaveLength(BINDINGS);

    const schema = uniqueSchema();
    const there = await run(["migrate", "--from", source, "--to", db.url, "--to-schema", schema]);
    expect(there.stderr).toBe("");
    expect(there.code).toBe(0);
    expect(there.stdout).toContain(`migrated ${INSTANCES + BINDINGS} record(s)`);
    expect(there.stdout).toContain(`bindings ${BINDINGS}, instances ${INSTANCES}`);
    expect(there.stdout).toContain("counts and every record's checksum verified");

    // Independently of the command's own verification: every record, byte for byte in meaning.
    const inPostgres = await readPostgresState({ url: db.url, schema });
    expect(sums(inPostgres)).toEqual(sums(original));
    // Sealed values moved as they were: the same key opens them.
    const binding = inPostgres.bindings!["binding-42-1"] as { result: never };
    expect(ring.open(binding.result, "bindings/binding-42-1/result")).toEqual({
      credentials: { password: "pw-42-1" },
    });

    // A broker on PostgreSQL sees it all.
    const store = new PostgresStateStore({ url: db.url, schema });
    await store.open();
    expect(store.list("instances")).toHaveLength(INSTANCES);
    await store.close();

    const back = join(work, "back");
    const again = await run(["migrate", "--from", db.url, "--from-schema", schema, "--to", back]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`migrated ${INSTANCES + BINDINGS} record(s)`);
    expect(sums(await readStateDir(back))).toEqual(sums(original));
    // Both directions carry one digest over all records: the same state gives the same digest.
    const digest = (out: string) => /digest ([0-9a-f]{64})/.exec(out)?.[1];
    expect(digest(again.stdout)).toBe(digest(there.stdout));
  }, 240_000);

  it("refuses to merge into a store that already holds state, and names it", async () => {
    const schema = uniqueSchema();
    const store = new PostgresStateStore({ url: db.url, schema });
    await store.open();
    await store.commit([{ type: "put", collection: "instances", id: "x", value: {} }]);
    await store.close();
    const result = await run(["migrate", "--from", source, "--to", db.url, "--to-schema", schema]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/already holds state.*instances.*empty store/);
    expect((await readPostgresState({ url: db.url, schema })).instances).toEqual({ x: {} });
  });

  it("refuses a PostgreSQL source that live replicas still use", async () => {
    const schema = uniqueSchema();
    const replica = new PostgresStateStore({ url: db.url, schema, replica: { configFingerprint: "f" } });
    await replica.open();
    try {
      const result = await run([
        "migrate",
        "--from",
        db.url,
        "--from-schema",
        schema,
        "--to",
        join(work, "x"),
      ]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/1 broker replica\(s\) still use .*stop them first/);
    } finally {
      await replica.close();
    }
  });
});

describe("state export and rekey on PostgreSQL", () => {
  it("export prints the records (sealed), --decrypt opens them; rekey re-seals under the new primary", async () => {
    const schema = uniqueSchema();
    const store = new PostgresStateStore({ url: db.url, schema });
    await store.open();
    await store.commit([
      {
        type: "put",
        collection: "bindings",
        id: "b1",
        value: { credentials: ring.seal({ password: "s3cret-value" }, "bindings/b1/credentials") },
      },
    ]);
    await store.close();

    const exported = await run(["export", "--state", db.url, "--schema", schema]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).not.toContain("s3cret-value");
    const decrypted = await run(["export", "--state", db.url, "--schema", schema, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: `k1:${KEY}`,
    });
    expect(JSON.parse(decrypted.stdout)).toEqual({
      bindings: { b1: { credentials: { password: "s3cret-value" } } },
    });

    const NEW = generateKey();
    const keyFile = join(work, "keys");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(keyFile, `k2:${NEW}\nk1:${KEY}\n`, { mode: 0o600 });
    const rekey = await run(["rekey", "--state", db.url, "--schema", schema, "--key-file", keyFile]);
    expect(rekey.stderr).toBe("");
    expect(rekey.stdout).toContain('re-sealed 1 value(s) in 1 record(s) with key "k2"');
    const kids: string[] = [];
    mapSealed(await readPostgresState({ url: db.url, schema }), (sealed) => {
      kids.push(sealed.kid);
      return sealed;
    });
    expect(kids).toEqual(["k2"]);
    const withNewOnly = await run(["export", "--state", db.url, "--schema", schema, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: `k2:${NEW}`,
    });
    expect(JSON.parse(withNewOnly.stdout).bindings.b1.credentials).toEqual({ password: "s3cret-value" });
  });

  it("export refuses a schema holding no broker state instead of creating one", async () => {
    const result = await run(["export", "--state", db.url, "--schema", uniqueSchema()]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/no broker state in schema/);
  });
});
