import type { FileHandle } from "node:fs/promises";
import { crc32 } from "node:zlib";

/**
 * Record framing shared by journal and snapshot files:
 *
 *   0xFF | u32le payload length | u32le CRC-32 of payload | payload (UTF-8 JSON)
 *
 * 0xFF never occurs in UTF-8, so it cannot appear inside a payload; that makes the forward search
 * in {@link scanRecords} reliable when it asks "is there any intact record after this damage?".
 */
export const RECORD_MARK = 0xff;
export const RECORD_HEADER_BYTES = 9;
/** Larger records are rejected on write and treated as damage on read. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export function encodeRecord(payload: string): Buffer {
  const body = Buffer.from(payload, "utf8");
  if (body.length > MAX_RECORD_BYTES) {
    throw new RangeError(`record of ${body.length} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`);
  }
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  out[0] = RECORD_MARK;
  out.writeUInt32LE(body.length, 1);
  out.writeUInt32LE(crc32(body), 5);
  body.copy(out, RECORD_HEADER_BYTES);
  return out;
}

export interface ScannedRecord {
  offset: number;
  payload: Buffer;
}

export interface Damage {
  offset: number;
  reason: string;
  /** True when no intact record follows: a torn tail. False means corruption before the tail. */
  atTail: boolean;
}

export interface ScanResult {
  records: ScannedRecord[];
  /** Offset just past the last intact record. */
  end: number;
  damage?: Damage;
}

const INCOMPLETE_HEADER = "incomplete record header";
const PAST_END = "record extends past end of file";

/** Why the record at `offset` is not intact, or undefined if it is. */
function checkRecord(buf: Buffer, offset: number): string | undefined {
  const remaining = buf.length - offset;
  if (buf[offset] !== RECORD_MARK) return "missing record marker";
  if (remaining < RECORD_HEADER_BYTES) return INCOMPLETE_HEADER;
  const length = buf.readUInt32LE(offset + 1);
  if (length > MAX_RECORD_BYTES) return `implausible record length ${length}`;
  if (remaining - RECORD_HEADER_BYTES < length) return PAST_END;
  const start = offset + RECORD_HEADER_BYTES;
  if (crc32(buf.subarray(start, start + length)) !== buf.readUInt32LE(offset + 5)) return "checksum mismatch";
  return undefined;
}

function hasIntactRecordAfter(buf: Buffer, offset: number): boolean {
  for (let at = buf.indexOf(RECORD_MARK, offset + 1); at >= 0; at = buf.indexOf(RECORD_MARK, at + 1)) {
    if (checkRecord(buf, at) === undefined) return true;
  }
  return false;
}

/**
 * Reads records from `start` until the end of `buf` or the first damaged record. Damage followed
 * by no intact record is a torn tail (a write cut short by a crash, never acknowledged because the
 * fsync had not returned); damage with intact records after it is corruption of acknowledged data.
 */
export function scanRecords(buf: Buffer, start = 0): ScanResult {
  const records: ScannedRecord[] = [];
  let offset = start;
  while (offset < buf.length) {
    const reason = checkRecord(buf, offset);
    if (reason !== undefined) {
      return { records, end: offset, damage: { offset, reason, atTail: !hasIntactRecordAfter(buf, offset) } };
    }
    const length = buf.readUInt32LE(offset + 1);
    records.push({
      offset,
      payload: buf.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length),
    });
    offset += RECORD_HEADER_BYTES + length;
  }
  return { records, end: offset };
}

/** What {@link visitFileRecords} read: where intact data ends, and the first damage if any. */
export interface FileScan {
  end: number;
  damage?: { offset: number; reason: string };
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Reads the records of a file a chunk at a time, so a large file never sits in memory whole
 * (issue 14: at 100,000 instances the 167 MB snapshot, and a journal as large, were each read in
 * one piece, and the process kept those pages). `visit` gets each record in file order; its
 * payload is only valid during the call. Stops at the first damage, with the reasons and offsets
 * {@link scanRecords} gives for the whole file ({@link damageIsAtTail} tells a torn tail).
 */
export async function visitFileRecords(
  handle: FileHandle,
  visit: (record: ScannedRecord) => void,
  chunkBytes = READ_CHUNK_BYTES,
): Promise<FileScan> {
  let buf = Buffer.alloc(0);
  let base = 0; // file offset of buf[0]
  let at = 0; // next record's offset in buf
  let eof = false;
  for (;;) {
    while (at < buf.length) {
      const reason = checkRecord(buf, at);
      if (reason === INCOMPLETE_HEADER || reason === PAST_END) {
        if (eof) return { end: base + at, damage: { offset: base + at, reason } };
        break;
      }
      if (reason !== undefined) return { end: base + at, damage: { offset: base + at, reason } };
      const length = buf.readUInt32LE(at + 1);
      const start = at + RECORD_HEADER_BYTES;
      visit({ offset: base + at, payload: buf.subarray(start, start + length) });
      at = start + length;
    }
    if (eof) return { end: base + at };
    // Keep the unread part and read at least what the record begun there still needs.
    const kept = buf.length - at;
    const needed = kept >= RECORD_HEADER_BYTES ? RECORD_HEADER_BYTES + buf.readUInt32LE(at + 1) - kept : 0;
    const next = Buffer.allocUnsafe(kept + Math.max(chunkBytes, needed));
    buf.copy(next, 0, at);
    const { bytesRead } = await handle.read(next, kept, next.length - kept, base + buf.length);
    eof = bytesRead === 0;
    base += at;
    at = 0;
    buf = next.subarray(0, kept + bytesRead);
  }
}

/**
 * Whether damage found at `offset` is a torn tail: no intact record follows it (scanRecords'
 * `atTail`). Reads the rest of the file, which only happens when a file is damaged.
 */
export async function damageIsAtTail(handle: FileHandle, offset: number): Promise<boolean> {
  const { size } = await handle.stat();
  const rest = Buffer.allocUnsafe(Math.max(0, size - offset));
  let filled = 0;
  while (filled < rest.length) {
    const { bytesRead } = await handle.read(rest, filled, rest.length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return !hasIntactRecordAfter(rest.subarray(0, filled), 0);
}
