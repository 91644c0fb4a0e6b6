/** What the benchmarks read from a running broker's state directory (read-only). */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeBatch } from "../../src/state/format.js";
import { readStateDir } from "../../src/state/read-only.js";
import { encodeRecord, scanRecords } from "../../src/state/record.js";

/**
 * Seq of the last batch in the broker's journals: batch seqs increase by one, so the difference
 * between two readings counts fdatasynced batches, even across a compaction (which deletes old
 * journals).
 */
export async function lastBatchSeq(dir: string): Promise<number> {
  let last = 0;
  for (const name of (await readdir(dir)).sort()) {
    if (!name.startsWith("journal-") || !name.endsWith(".log")) continue;
    const { records } = scanRecords(await readFile(join(dir, name)));
    for (const [index, record] of records.entries()) {
      const { seq } = JSON.parse(record.payload.toString("utf8")) as { seq: number };
      // The header holds the journal's first seq, the batch it is waiting for.
      last = Math.max(last, index === 0 ? seq - 1 : seq);
    }
  }
  return last;
}

/**
 * The journal record a commit of one record of `collection` appends (the first one the state
 * holds), byte for byte: what a bare durable write of the same size must write.
 */
export async function oneRecordBatch(dir: string, collection: "instances" | "bindings"): Promise<Buffer> {
  const records = (await readStateDir(dir))[collection] ?? {};
  const first = Object.entries(records)[0];
  if (!first) throw new Error(`no ${collection} in ${dir}`);
  const [id, value] = first;
  return encodeRecord(encodeBatch(1_000_000, [JSON.stringify({ op: "put", c: collection, id, v: value })]));
}
