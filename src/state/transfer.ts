import { createHash } from "node:crypto";
import { StateError } from "./errors.js";
import type { Change, JsonValue, StateExport, StateStore } from "./types.js";

export interface TransferReport {
  /** Records per collection, as copied and as found again in the destination. */
  counts: Record<string, number>;
  records: number;
  /** SHA-256 over every record's checksum, in collection/id order: one value to compare. */
  digest: string;
}

/** Records per commit: bounded transactions and journal batches, whatever the state's size. */
const CHUNK = 1000;

/**
 * Checksum of one record: SHA-256 of its canonical JSON (keys sorted), so the same value reads
 * the same whether it came back from a journal, from a `json` column or from an export.
 */
export function recordChecksum(value: JsonValue): string {
  return createHash("sha256").update(canonical(value)).digest("hex");
}

function canonical(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(value[key]!)}`)
    .join(",")}}`;
}

/** Per collection, per id: the record's checksum. */
export function checksums(state: StateExport): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [collection, records] of Object.entries(state)) {
    const sums = new Map<string, string>();
    for (const [id, value] of Object.entries(records)) sums.set(id, recordChecksum(value));
    out.set(collection, sums);
  }
  return out;
}

/**
 * Copies everything in `source` into `destination`, which must be empty (a migration never
 * merges into live state), then checks that `reread` (the destination read back independently,
 * not from the writer's memory) holds every record with the same checksum and nothing else.
 */
export async function transferState(
  source: StateExport,
  destination: StateStore,
  reread: () => Promise<StateExport>,
): Promise<TransferReport> {
  const existing = destination.collections();
  if (existing.length > 0) {
    throw new StateError(
      "FORMAT",
      `the destination already holds state (collections ${existing.join(", ")}); migrate only into an empty store`,
    );
  }
  let batch: Change[] = [];
  for (const [collection, records] of Object.entries(source)) {
    for (const [id, value] of Object.entries(records)) {
      batch.push({ type: "put", collection, id, value });
      if (batch.length >= CHUNK) {
        await destination.commit(batch);
        batch = [];
      }
    }
  }
  if (batch.length) await destination.commit(batch);
  return verifyTransfer(source, await reread());
}

/** Compares counts and per-record checksums; throws naming the first differences. */
export function verifyTransfer(source: StateExport, copy: StateExport): TransferReport {
  const want = checksums(source);
  const got = checksums(copy);
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  const digest = createHash("sha256");
  let records = 0;
  for (const collection of new Set([...want.keys(), ...got.keys()])) {
    const a = want.get(collection) ?? new Map<string, string>();
    const b = got.get(collection) ?? new Map<string, string>();
    if (a.size !== b.size)
      problems.push(`${collection}: ${a.size} record(s) in the source, ${b.size} in the copy`);
    for (const [id, sum] of a) {
      const other = b.get(id);
      if (other === undefined) problems.push(`${collection}/${id}: missing in the copy`);
      else if (other !== sum) problems.push(`${collection}/${id}: checksum differs`);
    }
    for (const id of b.keys()) if (!a.has(id)) problems.push(`${collection}/${id}: not in the source`);
    counts[collection] = b.size;
    records += b.size;
  }
  if (problems.length) {
    const shown = problems.slice(0, 10).join("; ");
    throw new StateError(
      "CORRUPT",
      `verification of the copy failed (${problems.length} problem(s)): ${shown}${problems.length > 10 ? "; ..." : ""}`,
    );
  }
  for (const collection of [...got.keys()].sort()) {
    for (const [id, sum] of [...got.get(collection)!].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      digest.update(`${collection}\u0000${id}\u0000${sum}\n`);
    }
  }
  return { counts, records, digest: digest.digest("hex") };
}
