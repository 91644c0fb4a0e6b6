import { open, rename } from "node:fs/promises";
import { join } from "node:path";
import { encodeHeader, SNAPSHOT_FILE, TMP_SUFFIX } from "./format.js";
import { fsyncDir, writeAll } from "./fsutil.js";
import { encodeRecord } from "./record.js";
import type { JsonValue } from "./types.js";

const CHUNK_BYTES = 1024 * 1024;

/**
 * Writes the snapshot of `view` (state as of batch `seq`) to a temp file and fsyncs it. Records are
 * streamed in chunks so a large state never becomes one giant string, and the event loop (and the
 * journal writer) keeps running meanwhile. Returns the temp path and size.
 */
export async function writeSnapshotTemp(
  dir: string,
  seq: number,
  view: Iterable<[string, Map<string, JsonValue>]>,
): Promise<{ tmpPath: string; bytes: number }> {
  const tmpPath = join(dir, SNAPSHOT_FILE + TMP_SUFFIX);
  const fh = await open(tmpPath, "w", 0o600);
  let position = 0;
  try {
    let chunk: Buffer[] = [encodeRecord(encodeHeader("snapshot", seq))];
    let chunkBytes = chunk[0]!.length;
    const flush = async (): Promise<void> => {
      const data = Buffer.concat(chunk, chunkBytes);
      await writeAll(fh, data, position);
      position += data.length;
      chunk = [];
      chunkBytes = 0;
    };
    let records = 0;
    for (const [collection, entries] of view) {
      for (const [id, value] of entries) {
        const record = encodeRecord(JSON.stringify({ c: collection, id, v: value }));
        chunk.push(record);
        chunkBytes += record.length;
        records++;
        if (chunkBytes >= CHUNK_BYTES) await flush();
      }
    }
    const end = encodeRecord(JSON.stringify({ end: true, records }));
    chunk.push(end);
    chunkBytes += end.length;
    await flush();
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { tmpPath, bytes: position };
}

/** Atomically replaces the snapshot with the fsynced temp file and makes the rename durable. */
export async function installSnapshot(dir: string, tmpPath: string): Promise<void> {
  await rename(tmpPath, join(dir, SNAPSHOT_FILE));
  await fsyncDir(dir);
}
