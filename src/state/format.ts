import { StateCorruptError, StateFormatError } from "./errors.js";
import type { JsonValue } from "./types.js";

/** Identifies our files; `version` lets the format evolve (readers refuse newer versions). */
export const FORMAT_NAME = "cfy-osb-broker-state";
export const FORMAT_VERSION = 1;

export const SNAPSHOT_FILE = "snapshot";
export const LOCK_FILE = "lock";
/** Written once when a directory first holds state, never removed: its absence of data is then loud. */
export const MARKER_FILE = "state-marker";
/** Prefix of files keeping the bytes a torn journal tail had, cut away on open. */
export const QUARANTINE_PREFIX = "quarantine-";
export const TMP_SUFFIX = ".tmp";
const JOURNAL_RE = /^journal-(\d{16})\.log$/;

/** Zero-padded so lexical order is numeric order (handy for `ls`). */
export function journalFileName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(16, "0")}.log`;
}

export function parseJournalFileName(name: string): number | undefined {
  const match = JOURNAL_RE.exec(name);
  return match ? Number(match[1]) : undefined;
}

export interface FileHeader {
  format: typeof FORMAT_NAME;
  version: number;
  kind: "journal" | "snapshot";
  /** Journal: seq of its first batch. Snapshot: seq of the last batch it includes. */
  seq: number;
  createdAt: string;
}

export function encodeHeader(kind: FileHeader["kind"], seq: number): string {
  const header: FileHeader = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    kind,
    seq,
    createdAt: new Date().toISOString(),
  };
  return JSON.stringify(header);
}

export function parseHeader(file: string, payload: Buffer | undefined, kind: FileHeader["kind"]): FileHeader {
  let header: Partial<FileHeader> | undefined;
  try {
    header = payload ? JSON.parse(payload.toString("utf8")) : undefined;
  } catch {
    header = undefined;
  }
  if (!header || header.format !== FORMAT_NAME) throw new StateFormatError(file, "not a broker state file");
  if (typeof header.version !== "number" || header.version > FORMAT_VERSION) {
    throw new StateFormatError(
      file,
      `written in state format version ${String(header.version)}; this broker reads versions up to ${FORMAT_VERSION} (upgrade the broker)`,
    );
  }
  if (header.kind !== kind || !Number.isSafeInteger(header.seq) || (header.seq as number) < 0) {
    throw new StateFormatError(file, `invalid ${kind} header`);
  }
  return header as FileHeader;
}

/** One change as stored: `{"op":"put","c":..,"id":..,"v":..}` or `{"op":"del","c":..,"id":..}`. */
export type StoredChange =
  | { op: "put"; c: string; id: string; v: JsonValue }
  | { op: "del"; c: string; id: string };

/** Journal payload: one group-commit batch, applied all-or-nothing. */
export interface StoredBatch {
  seq: number;
  changes: StoredChange[];
}

export function encodeBatch(seq: number, encodedChanges: readonly string[]): string {
  return `{"seq":${seq},"changes":[${encodedChanges.join(",")}]}`;
}

function isStoredChange(c: unknown): c is StoredChange {
  if (typeof c !== "object" || c === null) return false;
  const o = c as Record<string, unknown>;
  if (typeof o.c !== "string" || typeof o.id !== "string") return false;
  return (o.op === "put" && "v" in o) || o.op === "del";
}

/** Parses a checksummed journal payload; bad content behind a good checksum is corruption. */
export function parseBatch(file: string, offset: number, payload: Buffer): StoredBatch {
  let batch: Partial<StoredBatch>;
  try {
    batch = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new StateCorruptError(file, offset, "journal record is not valid JSON");
  }
  if (
    !Number.isSafeInteger(batch.seq) ||
    !Array.isArray(batch.changes) ||
    !batch.changes.every(isStoredChange)
  ) {
    throw new StateCorruptError(file, offset, "journal record has an invalid shape");
  }
  return batch as StoredBatch;
}

/** Snapshot payloads after the header: one entry per record, then an end marker. */
export type SnapshotItem = { c: string; id: string; v: JsonValue } | { end: true; records: number };

export function parseSnapshotItem(file: string, offset: number, payload: Buffer): SnapshotItem {
  let item: Record<string, unknown>;
  try {
    item = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new StateCorruptError(file, offset, "snapshot record is not valid JSON");
  }
  if (item?.end === true && Number.isSafeInteger(item.records)) return item as SnapshotItem;
  if (typeof item?.c === "string" && typeof item.id === "string" && "v" in item) {
    return item as SnapshotItem;
  }
  throw new StateCorruptError(file, offset, "snapshot record has an invalid shape");
}
