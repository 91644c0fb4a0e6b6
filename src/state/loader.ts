import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../log/logger.js";
import { StateCorruptError, StateFormatError } from "./errors.js";
import {
  MARKER_FILE,
  parseBatch,
  parseHeader,
  parseJournalFileName,
  parseSnapshotItem,
  SNAPSHOT_FILE,
  TMP_SUFFIX,
} from "./format.js";
import { MemoryState } from "./memory-image.js";
import { damageIsAtTail, type FileScan, type ScannedRecord, visitFileRecords } from "./record.js";

export interface JournalInfo {
  path: string;
  firstSeq: number;
  /** Seq of its last intact batch (firstSeq - 1 if it has none). */
  lastSeq: number;
  /** Bytes of intact data (header and records): where appending continues. */
  validBytes: number;
  /** Every batch in it is also in the snapshot: safe to delete. */
  obsolete: boolean;
}

export interface LoadedState {
  memory: MemoryState;
  /** Seq of the last batch applied (0 for an empty store). */
  seq: number;
  snapshotSeq: number;
  snapshotBytes: number;
  /** Sorted by firstSeq. */
  journals: JournalInfo[];
  /** Torn final record of the last journal: bytes from `offset` on are to be discarded. */
  tornTail?: { path: string; offset: number; size: number; reason: string };
  /** Leftover temp files from an interrupted snapshot or journal creation. */
  strays: string[];
  hasSnapshot: boolean;
  /** DIR/state-marker exists: the directory has held state before. */
  hasMarker: boolean;
}

/**
 * Reads a state directory into memory without modifying it. The writer applies the repairs it
 * reports (truncate torn tail, delete strays and obsolete journals); the read-only `state export`
 * command uses it as is, concurrently with a running broker.
 */
export async function loadState(dir: string, logger?: Logger): Promise<LoadedState> {
  const names = await readdir(dir);
  const memory = new MemoryState();
  // Only our own temp files: lock temp files belong to other processes racing for the lock.
  const strays = names
    .filter((n) => n.endsWith(TMP_SUFFIX) && (n.startsWith(SNAPSHOT_FILE) || n.startsWith("journal-")))
    .map((n) => join(dir, n));

  let snapshotSeq = 0;
  let snapshotBytes = 0;
  if (names.includes(SNAPSHOT_FILE)) {
    const path = join(dir, SNAPSHOT_FILE);
    ({ seq: snapshotSeq, bytes: snapshotBytes } = await loadSnapshot(path, memory));
  }

  const journalNames = names
    .map((name) => ({ name, firstSeq: parseJournalFileName(name) }))
    .filter((j): j is { name: string; firstSeq: number } => j.firstSeq !== undefined)
    .sort((a, b) => a.firstSeq - b.firstSeq);

  let seq = snapshotSeq;
  let tornTail: LoadedState["tornTail"];
  const journals: JournalInfo[] = [];
  for (const [i, { name, firstSeq }] of journalNames.entries()) {
    const path = join(dir, name);
    const next = journalNames[i + 1];
    const isLast = next === undefined;
    // A journal followed by one starting at or before snapshotSeq+1 holds only snapshotted batches.
    if (next !== undefined && next.firstSeq <= snapshotSeq + 1) {
      journals.push({
        path,
        firstSeq,
        lastSeq: next.firstSeq - 1,
        validBytes: (await stat(path)).size,
        obsolete: true,
      });
      continue;
    }
    let validBytes = 0;
    if (firstSeq > seq + 1) {
      throw new StateCorruptError(
        path,
        0,
        `journal starts at batch ${firstSeq} but batch ${seq + 1} is missing`,
      );
    }
    let header: ScannedRecord | undefined;
    let lastSeq = firstSeq - 1;
    const handle = await open(path, "r");
    try {
      const scan = await visitFileRecords(handle, (record) => {
        if (!header) {
          header = record;
          if (parseHeader(path, record.payload, "journal").seq !== firstSeq) {
            throw new StateFormatError(path, "journal header does not match its file name");
          }
          return;
        }
        const batch = parseBatch(path, record.offset, record.payload);
        if (batch.seq !== lastSeq + 1) {
          throw new StateCorruptError(
            path,
            record.offset,
            `expected batch ${lastSeq + 1}, found ${batch.seq}`,
          );
        }
        lastSeq = batch.seq;
        if (batch.seq <= seq) return; // already in the snapshot (crash after snapshot, before cleanup)
        for (const change of batch.changes) {
          if (change.op === "put") memory.put(change.c, change.id, change.v);
          else memory.delete(change.c, change.id);
        }
        seq = batch.seq;
      });
      if (!header) {
        // Journals are created complete (temp file, fsync, rename), so a missing header is damage.
        throw new StateCorruptError(path, 0, "journal has no intact header");
      }
      if (scan.damage) {
        if (!isLast || !(await damageIsAtTail(handle, scan.damage.offset)))
          throw new StateCorruptError(path, scan.damage.offset, scan.damage.reason);
        const { size } = await handle.stat();
        tornTail = { path, offset: scan.damage.offset, size, reason: scan.damage.reason };
        logger?.debug(tornTail, "journal ends in a torn record");
      }
      validBytes = scan.end;
    } finally {
      await handle.close();
    }
    journals.push({ path, firstSeq, lastSeq, validBytes, obsolete: false });
  }
  return {
    memory,
    seq,
    snapshotSeq,
    snapshotBytes,
    journals,
    ...(tornTail ? { tornTail } : {}),
    strays,
    hasSnapshot: names.includes(SNAPSHOT_FILE),
    hasMarker: names.includes(MARKER_FILE),
  };
}

/** A snapshot is only ever installed complete, so any damage in it is corruption. */
async function loadSnapshot(path: string, memory: MemoryState): Promise<{ seq: number; bytes: number }> {
  let header: ScannedRecord | undefined;
  let seq = 0;
  let count = 0;
  let end: ScannedRecord | undefined;
  const handle = await open(path, "r");
  let scan: FileScan;
  try {
    scan = await visitFileRecords(handle, (record) => {
      if (!header) {
        header = record;
        seq = parseHeader(path, record.payload, "snapshot").seq;
        return;
      }
      if (end)
        throw new StateCorruptError(path, end.offset, "snapshot end marker does not match its contents");
      const item = parseSnapshotItem(path, record.offset, record.payload);
      if ("end" in item) {
        if (item.records !== count)
          throw new StateCorruptError(path, record.offset, "snapshot end marker does not match its contents");
        end = record;
        return;
      }
      memory.put(item.c, item.id, item.v);
      count++;
    });
  } finally {
    await handle.close();
  }
  if (scan.damage) throw new StateCorruptError(path, scan.damage.offset, scan.damage.reason);
  if (!header) parseHeader(path, undefined, "snapshot");
  if (!end) throw new StateCorruptError(path, scan.end, "snapshot is truncated (no end marker)");
  return { seq, bytes: scan.end };
}
