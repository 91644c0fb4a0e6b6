import { type FileHandle, open, rename } from "node:fs/promises";
import { join } from "node:path";
import { encodeHeader, journalFileName, TMP_SUFFIX } from "./format.js";
import { fsyncDir, unlinkIfExists, writeAll } from "./fsutil.js";
import { encodeRecord } from "./record.js";

/** The journal file currently appended to. One writer; appends are serialised by the store. */
export class JournalFile {
  readonly path: string;
  readonly firstSeq: number;
  #fh: FileHandle;
  #size: number;

  private constructor(path: string, firstSeq: number, fh: FileHandle, size: number) {
    this.path = path;
    this.firstSeq = firstSeq;
    this.#fh = fh;
    this.#size = size;
  }

  /**
   * Creates `journal-<firstSeq>.log` complete with its header (temp file, fsync, rename, fsync
   * directory), so a journal that exists always has an intact header.
   */
  static async create(dir: string, firstSeq: number): Promise<JournalFile> {
    const path = join(dir, journalFileName(firstSeq));
    const tmpPath = path + TMP_SUFFIX;
    const header = encodeRecord(encodeHeader("journal", firstSeq));
    const fh = await open(tmpPath, "w", 0o600);
    let renamed = false;
    try {
      await writeAll(fh, header, 0);
      await fh.sync();
      await rename(tmpPath, path);
      renamed = true;
      await fsyncDir(dir);
    } catch (err) {
      await fh.close();
      // Best effort: an unused, batch-less journal left behind is harmless but untidy.
      await unlinkIfExists(renamed ? path : tmpPath).catch(() => {});
      throw err;
    }
    return new JournalFile(path, firstSeq, fh, header.length);
  }

  /**
   * Reopens an existing journal for appending after its last intact record. Anything beyond (a
   * torn record) is cut off and the truncation fsynced before new records follow; otherwise the
   * garbage would sit before acknowledged records and read as corruption on the next start.
   */
  static async reopen(path: string, firstSeq: number, validBytes: number): Promise<JournalFile> {
    const fh = await open(path, "r+");
    try {
      if ((await fh.stat()).size !== validBytes) {
        await fh.truncate(validBytes);
        await fh.sync();
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new JournalFile(path, firstSeq, fh, validBytes);
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Appends and fdatasyncs (file size included): on return the data survives a crash. On failure
   * (a full disk: ENOSPC/EDQUOT, or an I/O error) part of `data` may be in the file; call
   * {@link rollback} before appending again.
   */
  async append(data: Buffer): Promise<void> {
    await writeAll(this.#fh, data, this.#size);
    await this.#fh.datasync();
    this.#size += data.length;
  }

  /**
   * Cuts the file back to its last acknowledged byte and makes that durable, so a half-written
   * record never sits before the next acknowledged one. Truncating frees space, so this works on a
   * full disk. After a failed fsync Linux may have dropped the failed pages; they lay beyond
   * `size`, and every byte before it was fsynced successfully earlier, so what remains is exactly
   * the acknowledged data.
   */
  async rollback(): Promise<void> {
    await this.#fh.truncate(this.#size);
    await this.#fh.sync();
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}
