import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Change,
  FileStateStore,
  type FileStateStoreOptions,
  InvalidChangeError,
  MemoryStateStore,
  type RecordFilter,
  StateCorruptError,
  StateFormatError,
  StateNotOpenError,
  type StateStore,
} from "../src/state/index.js";
import { encodeRecord, scanRecords } from "../src/state/record.js";
import { capturingLogger, tempDir } from "./fixtures/state-helpers.js";

let dir: string;
let cleanup: () => void;
const open: FileStateStore[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => {});
  cleanup();
});

async function openStore(options: Partial<FileStateStoreOptions> = {}): Promise<FileStateStore> {
  const store = new FileStateStore({ dir, ...options });
  await store.open();
  open.push(store);
  return store;
}

async function reopen(
  store: FileStateStore,
  options: Partial<FileStateStoreOptions> = {},
): Promise<FileStateStore> {
  await store.close();
  return openStore(options);
}

const put = (collection: string, id: string, value: unknown): Change => ({
  type: "put",
  collection,
  id,
  value,
});
const del = (collection: string, id: string): Change => ({ type: "delete", collection, id });

function flip(buf: Buffer, offset: number, mask: number): void {
  buf.writeUInt8(buf.readUInt8(offset) ^ mask, offset);
}

function journalPath(): string {
  const name = readdirSync(dir).find((n) => n.startsWith("journal-") && n.endsWith(".log"));
  if (!name) throw new Error("no journal");
  return join(dir, name);
}

describe("FileStateStore basics", () => {
  it("round-trips puts, gets, lists and deletes across reopen", async () => {
    let store = await openStore();
    await store.commit([
      put("instances", "b", { plan: "small", tags: ["x"] }),
      put("instances", "a", { plan: "big" }),
    ]);
    await store.commit([put("bindings", "1", { instance: "a" }), put("bindings", "2", null)]);
    await store.commit([del("bindings", "2"), del("bindings", "missing")]);
    store = await reopen(store);
    expect(store.get("instances", "a")).toEqual({ plan: "big" });
    expect(store.get("instances", "nope")).toBeUndefined();
    expect(store.list("instances").map((r) => r.id)).toEqual(["a", "b"]);
    expect(store.list("bindings")).toEqual([{ id: "1", value: { instance: "a" } }]);
    expect(store.collections()).toEqual(["bindings", "instances"]);
    expect(store.export()).toEqual({
      bindings: { "1": { instance: "a" } },
      instances: { a: { plan: "big" }, b: { plan: "small", tags: ["x"] } },
    });
    await store.commit([del("bindings", "1")]);
    store = await reopen(store);
    expect(store.collections()).toEqual(["instances"]);
    expect(store.list("bindings")).toEqual([]);
  });

  it("creates a missing state directory, private to the broker", async () => {
    const nested = join(dir, "a", "b");
    const store = new FileStateStore({ dir: nested });
    await store.open();
    await store.commit([put("c", "x", 1)]);
    await store.close();
    expect(statSync(nested).mode & 0o777).toBe(0o700);
    expect(readdirSync(nested).filter((f) => f.startsWith("journal-"))).toHaveLength(1);
  });

  it("hands out frozen values and keeps its own copy of committed values", async () => {
    const store = await openStore();
    const value = { nested: { list: [1, 2] } };
    await store.commit([put("c", "x", value)]);
    value.nested.list.push(3);
    const got = store.get<{ nested: { list: number[] } }>("c", "x")!;
    expect(got).toEqual({ nested: { list: [1, 2] } });
    expect(() => got.nested.list.push(4)).toThrow(TypeError);
    expect(() => {
      (store.list<{ nested: unknown }>("c")[0]!.value as { nested: unknown }).nested = 1;
    }).toThrow(TypeError);
    const exported = store.export();
    exported.c = {};
    expect(store.get("c", "x")).toEqual({ nested: { list: [1, 2] } });
  });

  it("keeps odd ids such as __proto__ as ordinary data", async () => {
    let store = await openStore();
    // A load writes each string shared with the record read before it back in place.
    const text = '{"__proto__":"p","constructor":"x","list":["p",{"__proto__":"p"}]}';
    await store.commit([
      put("__proto__", "__proto__", JSON.parse(text)),
      put("__proto__", "b", JSON.parse(text)),
    ]);
    const check = (s: FileStateStore) => {
      for (const id of ["__proto__", "b"]) {
        expect(s.get("__proto__", id)).toEqual(JSON.parse(text));
        expect(Object.getPrototypeOf(s.get("__proto__", id))).toBe(Object.prototype);
      }
    };
    store = await reopen(store); // from the journal
    check(store);
    await store.compact();
    store = await reopen(store); // from the snapshot
    check(store);
    expect(Object.keys(store.export())).toEqual(["__proto__"]);
  });

  it("rejects an invalid commit whole, before anything is written", async () => {
    let store = await openStore();
    class Thing {}
    const invalid: unknown[] = [Number.NaN, Infinity, new Date(), new Thing(), () => 1, [1, undefined], 10n];
    for (const bad of invalid) {
      await expect(store.commit([put("c", "ok", 1), put("c", "bad", { bad })])).rejects.toThrow(
        InvalidChangeError,
      );
    }
    await expect(store.commit([put("c", "ok", 1), put("c", "bad", undefined)])).rejects.toThrow(
      InvalidChangeError,
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(store.commit([put("c", "cyclic", cyclic)])).rejects.toThrow(/cyclic/);
    // Like JSON, an undefined property just means absent.
    await store.commit([put("c", "optional", { a: 1, b: undefined })]);
    expect(store.get("c", "optional")).toEqual({ a: 1 });
    await store.commit([del("c", "optional")]);
    await expect(store.commit([put("c", "", 1)])).rejects.toThrow(InvalidChangeError);
    await expect(
      store.commit([{ type: "upsert", collection: "c", id: "x" } as unknown as Change]),
    ).rejects.toThrow(InvalidChangeError);
    store = await reopen(store);
    expect(store.export()).toEqual({});
  });

  it("applies a multi-collection commit atomically, visible only once resolved", async () => {
    let store = await openStore();
    await store.commit([put("instances", "i1", { state: "provisioning" })]);
    const pending = store.commit([
      put("instances", "i1", { state: "ready" }),
      put("operations", "op1", { instance: "i1" }),
      del("tombstones", "i1"),
    ]);
    expect(store.get("operations", "op1")).toBeUndefined();
    await pending;
    expect(store.get("instances", "i1")).toEqual({ state: "ready" });
    store = await reopen(store);
    expect(store.export()).toEqual({
      instances: { i1: { state: "ready" } },
      operations: { op1: { instance: "i1" } },
    });
  });

  it("group-commits concurrent commits in one fsync batch and preserves their order", async () => {
    let store = await openStore();
    const resolved: number[] = [];
    const n = 1000;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        store.commit([put("items", String(i), i), put("meta", "last", i)]).then(() => resolved.push(i)),
      ),
    );
    expect(resolved).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(store.get("meta", "last")).toBe(n - 1);
    const { commits, batches } = store.stats();
    expect(commits).toBe(n);
    // All were queued in one tick: the first batch takes one, the next takes the rest.
    expect(batches).toBeLessThanOrEqual(3);
    store = await reopen(store);
    expect(store.get("meta", "last")).toBe(n - 1);
    expect(store.list("items")).toHaveLength(n);
  });

  it("refuses use before open and after close", async () => {
    const store = new FileStateStore({ dir });
    expect(() => store.get("c", "x")).toThrow(StateNotOpenError);
    await store.open();
    await store.close();
    await expect(store.commit([put("c", "x", 1)])).rejects.toThrow(StateNotOpenError);
    expect(readdirSync(dir)).not.toContain("lock");
  });

  it("close waits for commits in flight", async () => {
    let store = await openStore();
    const commits = Array.from({ length: 50 }, (_, i) => store.commit([put("c", String(i), i)]));
    await store.close();
    await Promise.all(commits);
    store = await openStore();
    expect(store.list("c")).toHaveLength(50);
  });
});

describe("FileStateStore recovery", () => {
  async function threeCommits(): Promise<void> {
    const store = await openStore();
    for (const i of [1, 2, 3]) await store.commit([put("c", String(i), { i })]);
    await store.close();
  }

  it("discards a torn final record with a warning, truncates it, and keeps working", async () => {
    await threeCommits();
    const journal = journalPath();
    const goodSize = statSync(journal).size;
    const record = encodeRecord(JSON.stringify({ seq: 4, changes: [{ op: "put", c: "c", id: "4", v: 4 }] }));
    appendFileSync(journal, record.subarray(0, record.length - 5));
    const { logger, lines } = capturingLogger();
    let store = await openStore({ logger });
    expect(store.list("c").map((r) => r.id)).toEqual(["1", "2", "3"]);
    const warning = lines().find((l) => l.level === "warn" && String(l.msg).includes("torn"));
    expect(warning).toMatchObject({ file: journal, offset: goodSize });
    expect(statSync(journal).size).toBe(goodSize);
    await store.commit([put("c", "4", { i: 4 })]);
    store = await reopen(store);
    expect(store.list("c").map((r) => r.id)).toEqual(["1", "2", "3", "4"]);
  });

  it("treats a zero-filled or checksum-failing final record as torn", async () => {
    await threeCommits();
    const journal = journalPath();
    appendFileSync(journal, Buffer.alloc(300));
    let store = await openStore();
    expect(store.list("c")).toHaveLength(3);
    await store.close();
    const record = encodeRecord(JSON.stringify({ seq: 4, changes: [] }));
    flip(record, record.length - 1, 0x01);
    appendFileSync(journal, record);
    store = await openStore();
    expect(store.list("c")).toHaveLength(3);
  });

  it("refuses to open when a record before the tail is corrupt, naming file and offset", async () => {
    await threeCommits();
    const journal = journalPath();
    const buf = readFileSync(journal);
    const second = scanRecords(buf).records[2]!; // [0] is the header
    flip(buf, second.offset + 12, 0x20);
    writeFileSync(journal, buf);
    const store = new FileStateStore({ dir });
    const error = await store.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StateCorruptError);
    expect(error).toMatchObject({ file: journal, offset: second.offset });
    expect((error as Error).message).toContain(journal);
    expect((error as Error).message).toContain(`offset ${second.offset}`);
    // A failed open releases the lock and changes nothing on disk.
    expect(readdirSync(dir)).not.toContain("lock");
    expect(readFileSync(journal)).toEqual(buf);
  });

  it("does not mistake a corrupt length field in the middle for a torn tail", async () => {
    await threeCommits();
    const journal = journalPath();
    const buf = readFileSync(journal);
    const second = scanRecords(buf).records[2]!;
    buf.writeUInt32LE(0x7fffff, second.offset + 1); // now "extends past end of file"
    writeFileSync(journal, buf);
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(StateCorruptError);
  });

  it("refuses a damaged snapshot", async () => {
    const store = await openStore();
    await store.commit([put("c", "1", "one"), put("c", "2", "two")]);
    await store.compact();
    await store.close();
    const snapshot = join(dir, "snapshot");
    const buf = readFileSync(snapshot);
    writeFileSync(snapshot, buf.subarray(0, buf.length - 4));
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(/snapshot.*corrupt at byte offset/);
  });

  it("refuses state written by a newer format version", async () => {
    await threeCommits();
    const journal = journalPath();
    const buf = readFileSync(journal);
    const [header, first] = scanRecords(buf).records;
    const newer = JSON.parse(header!.payload.toString());
    newer.version = 2;
    writeFileSync(journal, Buffer.concat([encodeRecord(JSON.stringify(newer)), buf.subarray(first!.offset)]));
    const open = new FileStateStore({ dir }).open();
    await expect(open).rejects.toThrow(StateFormatError);
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(/format version 2.*up to 1/);
  });

  it("refuses a gap in the journal sequence (a missing journal file)", async () => {
    await threeCommits();
    const first = journalPath();
    // A valid journal that starts at batch 9, while batches 4-8 are nowhere.
    const header = JSON.parse(scanRecords(readFileSync(first)).records[0]!.payload.toString());
    writeFileSync(
      join(dir, "journal-0000000000000009.log"),
      encodeRecord(JSON.stringify({ ...header, seq: 9 })),
    );
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(/batch \d+ is missing/);
  });
});

describe("FileStateStore compaction", () => {
  it("keeps every record and bounds the journal", async () => {
    let store = await openStore({ compactMinBytes: 8 * 1024, compactRatio: 2 });
    const model = new Map<string, unknown>();
    let maxJournal = 0;
    let written = 0;
    for (let round = 0; round < 200; round++) {
      const changes: Change[] = [];
      for (let k = 0; k < 10; k++) {
        const id = `k${(round * 7 + k) % 60}`;
        if ((round + k) % 9 === 0) {
          changes.push(del("c", id));
          model.delete(id);
        } else {
          const value = { round, k, pad: "p".repeat(50) };
          changes.push(put("c", id, value));
          model.set(id, value);
        }
      }
      written += JSON.stringify(changes).length;
      await Promise.all(changes.map((change) => store.commit([change])));
      maxJournal = Math.max(maxJournal, store.stats().journalBytes);
    }
    const expected = Object.fromEntries([...model].sort(([a], [b]) => (a < b ? -1 : 1)));
    expect(store.stats().compactions).toBeGreaterThan(3);
    expect(written).toBeGreaterThan(100 * 1024);
    // Threshold is max(8 KiB, 2 x ~5 KiB snapshot); background compaction may overshoot a little.
    expect(maxJournal).toBeLessThan(48 * 1024);
    expect(store.export()).toEqual({ c: expected });
    store = await reopen(store);
    expect(store.export()).toEqual({ c: expected });
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => f.startsWith("journal-"))).toHaveLength(1);
    expect(files).toContain("snapshot");
  });

  it("compact() on demand replaces the journal with a snapshot", async () => {
    let store = await openStore();
    await store.commit([put("a", "1", { x: 1 }), put("b", "2", [1, 2])]);
    await store.compact();
    await store.compact(); // nothing new: must not rotate onto itself
    expect(store.stats().journalBytes).toBeLessThan(200);
    await store.commit([del("a", "1")]);
    store = await reopen(store);
    expect(store.export()).toEqual({ b: { "2": [1, 2] } });
  });
});

describe("MemoryStateStore", () => {
  it("behaves like the file store for reads, validation and ordering", async () => {
    const store = new MemoryStateStore();
    await store.open();
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3].map((i) => store.commit([put("c", String(i), { i })]).then(() => order.push(i))),
    );
    expect(order).toEqual([1, 2, 3]);
    expect(() => (store.get<{ i: number }>("c", "1")!.i = 5)).toThrow(TypeError);
    await expect(store.commit([put("c", "x", Number.NaN)])).rejects.toThrow(InvalidChangeError);
    await store.commit([del("c", "2")]);
    expect(store.export()).toEqual({ c: { "1": { i: 1 }, "3": { i: 3 } } });
    await store.close();
  });
});

describe("select: a selection the store keeps current", () => {
  const busy: RecordFilter = {
    name: "busy",
    matches: (value) => (value as { busy?: boolean }).busy === true,
  };
  const ids = (store: StateStore, collection = "instances") =>
    store.select(collection, busy).map((r) => r.id);

  async function exercise(store: StateStore, reopened: () => Promise<StateStore>): Promise<void> {
    await store.commit([
      put("instances", "c", { busy: true }),
      put("instances", "a", { busy: false }),
      put("instances", "b", { busy: true }),
    ]);
    // First call walks what is there; sorted by id like list().
    expect(store.select("instances", busy)).toEqual([
      { id: "b", value: { busy: true } },
      { id: "c", value: { busy: true } },
    ]);
    // Later changes move records in and out; other collections are separate.
    await store.commit([
      put("instances", "a", { busy: true }),
      put("instances", "b", { busy: false }),
      put("bindings", "b", { busy: true }),
    ]);
    expect(ids(store)).toEqual(["a", "c"]);
    expect(ids(store, "bindings")).toEqual(["b"]);
    await store.commit([del("instances", "c"), put("instances", "d", { busy: true })]);
    expect(ids(store)).toEqual(["a", "d"]);
    expect(store.select("instances", busy).map((r) => r.value)).toEqual(
      store
        .list("instances")
        .filter((r) => busy.matches(r.value))
        .map((r) => r.value),
    );
    // Emptied collections and collections never written select nothing.
    await store.commit([del("instances", "a"), del("instances", "b"), del("instances", "d")]);
    expect(ids(store)).toEqual([]);
    expect(ids(store, "nothing-here")).toEqual([]);
    await store.commit([put("instances", "e", { busy: true })]);
    expect(ids(store)).toEqual(["e"]);
    // A reopened store (a new image) selects the same.
    const again = await reopened();
    expect(ids(again)).toEqual(["e"]);
    expect(ids(again, "bindings")).toEqual(["b"]);
  }

  it("file store, across commits and a reopen", async () => {
    const store = await openStore();
    await exercise(store, () => reopen(store));
  });

  it("memory store", async () => {
    const store = new MemoryStateStore();
    await store.open();
    await exercise(store, async () => store);
    await store.close();
  });
});
