/**
 * File-backed state store: an append-only journal plus periodic snapshots in one directory.
 *
 * ON-DISK FORMAT (version 1)
 *
 *   DIR/lock                          holder of the directory: {"pid","hostname","bootId","startTime","acquiredAt"}
 *   DIR/snapshot                      all records as of batch S (absent until the first compaction)
 *   DIR/journal-<16-digit seq>.log    batches from <seq> on; normally one file, two during compaction
 *   DIR/*.tmp                         a snapshot or journal being written; deleted on open
 *
 * Every file is a sequence of records framed as
 *
 *   0xFF | u32le payload length | u32le CRC-32(payload) | payload (UTF-8 JSON)
 *
 * and starts with a header record {"format":"cfy-osb-broker-state","version":1,"kind":..,"seq":..}.
 * Readers refuse files with a higher version. Journal records after the header are group-commit
 * batches {"seq":N,"changes":[{"op":"put","c":collection,"id":id,"v":value} | {"op":"del",..}]},
 * seq increasing by one; a batch is applied all or nothing. Snapshot records after the header are
 * {"c","id","v"} entries, then {"end":true,"records":count}.
 *
 * WRITE PATH. commit() validates and copies the changes synchronously, then queues them. One writer
 * takes everything queued (the group), appends it as one batch record, fdatasyncs, applies it to
 * memory and resolves the commits in call order. Commits arriving during that fsync form the next
 * group, so one fsync serves many commits under load.
 *
 * FULL DISK. A failed write or fsync (ENOSPC, EDQUOT, EIO) rejects that batch with
 * StateUnavailableError and cuts the journal back to its last acknowledged byte (truncate + fsync;
 * truncating frees space, so this works on a full disk). The store stays open: health() reports it
 * unwritable, every later batch first retries the cut if it had failed and then tries to write, and
 * a probe (a small temp file written and fsynced) runs every `probeIntervalMs` so the store notices
 * returning space with no commit arriving. No acknowledged record is lost (the failed batch was not
 * acknowledged) and no half record is kept. An fsync error may make Linux drop the failed pages;
 * they all lie beyond the cut, and every byte before it was fsynced successfully earlier.
 *
 * RECOVERY. Load the snapshot (seq S), replay journal batches with seq > S in order. Damage in the
 * last journal with no intact record after it is a torn tail (a write cut short by a crash, never
 * acknowledged because its fsync had not returned): it is logged and truncated away. Damage with
 * intact records after it, a gap in batch numbers, or any damage in the snapshot is corruption of
 * acknowledged data: open() refuses with the file and byte offset.
 *
 * COMPACTION, when the journals exceed max(compactMinBytes, compactRatio x snapshot size):
 *   1. at a batch boundary (state = batch S) create journal-<S+1>.log (temp, fsync, rename, fsync
 *      dir) and append new batches there; take an O(records) pointer copy of the in-memory state;
 *   2. write it to snapshot.tmp and fsync, while commits continue;
 *   3. rename snapshot.tmp -> snapshot, fsync dir;
 *   4. delete the journals before journal-<S+1>.
 * A crash before 3 leaves the old snapshot plus all journals; after 3, journals whose batches are
 * all <= S are skipped and deleted on open. Every step is thus recoverable.
 *
 * LOST STATE. DIR/state-marker is written when a directory first holds state and never removed.
 * open() refuses (StateMissingError) when the marker is there but no journal and no snapshot, or when a snapshot is there without the journal that must follow it
 * (compaction creates that journal before it writes the snapshot): someone deleted acknowledged
 * data. `allowMissingData` starts anyway, once, on purpose. A torn tail is not cut silently: its
 * bytes go to DIR/quarantine-<time>-<journal> (named in the warning) before the truncation.
 *
 * EXCLUSIVITY. DIR/lock names the holder (pid + process start time + host + boot id); a second
 * broker refuses to open, a lock whose process is dead is taken over. Details and limits: lock.ts.
 * `state export` reads without the lock (and never writes); `state rekey` takes it.
 *
 * ASSUMPTIONS. fsync/fdatasync mean what POSIX says (true for ext4/xfs on honest disks). Crashes of
 * the process (kill -9) are tested; power loss additionally relies on the filesystem's ordering.
 *
 * WHY A JOURNAL, NOT AN EMBEDDED DATABASE. SQLite/LevelDB/LMDB bindings are native addons that
 * must be built for each platform and Node version; this is plain TypeScript on node:fs. A write costs O(size of the changed records), not O(state). Recovery is one linear read
 * whose rules fit in this comment, and the files are inspectable with `cfy-broker state export`.
 * The broker's state (instances, bindings, operations) is small enough to hold in memory, which is
 * what makes synchronous reads possible.
 */
import { open } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Logger } from "../log/logger.js";
import { silentLogger } from "../log/logger.js";
import { type PreparedCommit, prepareCommit } from "./changes.js";
import {
  describeWriteFailure,
  InvalidChangeError,
  StateMissingError,
  StateNotOpenError,
  StateUnavailableError,
} from "./errors.js";
import { encodeBatch, MARKER_FILE, QUARANTINE_PREFIX, TMP_SUFFIX } from "./format.js";
import {
  fsyncDir,
  mkdirDurable,
  probeWritable,
  unlinkIfExists,
  writeFileDurable,
  writeMarker,
} from "./fsutil.js";
import { JournalFile } from "./journal.js";
import { type LoadedState, loadState } from "./loader.js";
import { DirectoryLock } from "./lock.js";
import { MemoryState } from "./memory-image.js";
import { encodeRecord } from "./record.js";
import { installSnapshot, writeSnapshotTemp } from "./snapshot.js";
import type {
  Change,
  JsonValue,
  RecordFilter,
  StateExport,
  StateHealth,
  StateRecord,
  StateStore,
} from "./types.js";
import { WriterLoop } from "./writer-loop.js";

export type CompactionStep =
  | "journal-rotated"
  | "snapshot-written"
  | "snapshot-installed"
  | "journals-removed";

export interface FileStateStoreOptions {
  dir: string;
  logger?: Logger;
  /** Never compact below this many journal bytes. Default 4 MiB. */
  compactMinBytes?: number;
  /** Compact when journal bytes exceed this multiple of the snapshot size. Default 2. */
  compactRatio?: number;
  /** Upper bound for one group-commit batch (a larger single commit still goes alone). Default 16 MiB. */
  maxBatchBytes?: number;
  /**
   * Called after each compaction step, before the next. For crash tests, which SIGKILL the process
   * from here to leave the directory exactly in between two steps.
   */
  onCompactionStep?: (step: CompactionStep) => void | Promise<void>;
  /** While the journal cannot be written, how often to probe whether it can again. Default 1 s. */
  probeIntervalMs?: number;
  /** Open even though the directory shows state that is now missing (see LOST STATE). */
  allowMissingData?: boolean;
}

export interface FileStateStoreStats {
  /** Seq of the last durable batch. */
  seq: number;
  records: number;
  commits: number;
  batches: number;
  compactions: number;
  journalBytes: number;
  snapshotBytes: number;
}

type QueueItem =
  | { kind: "commit"; commit: PreparedCommit; resolve: () => void; reject: (err: Error) => void }
  | { kind: "probe" }
  | { kind: "compact"; resolve: (done: Promise<Error | undefined>) => void; reject: (err: Error) => void };
type CommitItem = Extract<QueueItem, { kind: "commit" }>;

export class FileStateStore implements StateStore {
  readonly dir: string;
  readonly #log: Logger;
  readonly #compactMinBytes: number;
  readonly #compactRatio: number;
  readonly #maxBatchBytes: number;
  readonly #hook: FileStateStoreOptions["onCompactionStep"];
  readonly #probeIntervalMs: number;
  readonly #allowMissingData: boolean;

  #status: "new" | "opening" | "open" | "closing" | "closed" = "new";
  #memory = new MemoryState();
  #lock: DirectoryLock | undefined;
  #journal: JournalFile | undefined;
  /** Journals before the current one that the snapshot does not cover yet. */
  #olderJournals: Array<{ path: string; bytes: number }> = [];
  #seq = 0;
  #snapshotBytes = 0;
  #queue: QueueItem[] = [];
  readonly #writer = new WriterLoop(
    () => this.#drain(),
    () => this.#queue.length > 0,
  );
  #compaction: Promise<Error | undefined> | undefined;
  /** After a failed compaction, wait for this many journal bytes before trying again. */
  #compactRetryAt = 0;
  /** Set while the journal cannot be written; cleared by the next successful write or probe. */
  #unwritable: { error: StateUnavailableError; rolledBack: boolean; since: number } | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #counts = { commits: 0, batches: 0, compactions: 0 };

  constructor(options: FileStateStoreOptions) {
    this.dir = options.dir;
    this.#log = options.logger ?? silentLogger;
    this.#compactMinBytes = options.compactMinBytes ?? 4 * 1024 * 1024;
    this.#compactRatio = options.compactRatio ?? 2;
    this.#maxBatchBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
    this.#hook = options.onCompactionStep;
    this.#probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.#allowMissingData = options.allowMissingData ?? false;
  }

  async open(): Promise<void> {
    if (this.#status !== "new") throw new Error("FileStateStore.open() can only be called once");
    this.#status = "opening";
    try {
      await mkdirDurable(this.dir);
      this.#lock = await DirectoryLock.acquire(this.dir, this.#log);
      await this.#recover();
      this.#status = "open";
    } catch (err) {
      await this.#journal?.close().catch(() => {});
      await this.#lock?.release().catch(() => {});
      this.#status = "closed";
      throw err;
    }
  }

  async #recover(): Promise<void> {
    const loaded = await loadState(this.dir, this.#log);
    this.#checkNothingMissing(loaded);
    const removals = [...loaded.strays];
    if (loaded.tornTail) await this.#quarantineTornTail(loaded.tornTail);
    const live = loaded.journals.filter((j) => !j.obsolete);
    removals.push(...loaded.journals.filter((j) => j.obsolete).map((j) => j.path));
    const last = live.at(-1);
    if (last && last.lastSeq === loaded.seq) {
      this.#journal = await JournalFile.reopen(last.path, last.firstSeq, last.validBytes);
      live.pop();
    } else {
      // No journal, or the last one is wholly inside the snapshot: start afresh after the snapshot.
      if (last) removals.push(live.pop()!.path);
      this.#journal = await JournalFile.create(this.dir, loaded.seq + 1);
    }
    for (const path of removals) await unlinkIfExists(path);
    if (removals.length > 0) await fsyncDir(this.dir);
    await writeMarker(this.dir);
    this.#olderJournals = live.map((j) => ({ path: j.path, bytes: j.validBytes }));
    this.#memory = loaded.memory;
    this.#seq = loaded.seq;
    this.#snapshotBytes = loaded.snapshotBytes;
  }

  #checkNothingMissing(loaded: LoadedState): void {
    const hasJournal = loaded.journals.some((j) => !j.obsolete);
    let missing: string | undefined;
    if (!hasJournal && loaded.snapshotBytes > 0) {
      missing = "its snapshot is there without the journal that always follows it";
    } else if (!hasJournal && !loaded.hasSnapshot && loaded.hasMarker) {
      missing = `its journal and snapshot are gone (${MARKER_FILE} is still there)`;
    }
    if (!missing) return;
    if (!this.#allowMissingData) throw new StateMissingError(this.dir, missing);
    this.#log.warn(
      { dir: this.dir, missing },
      "starting with missing state because --allow-missing-state was given",
    );
  }

  /**
   * Keeps the bytes of a torn final record (never acknowledged, but evidence for an operator)
   * in a quarantine file before they are cut off. If even that cannot be written (a full disk),
   * the cut goes ahead: the bytes were never acknowledged, and the broker must start.
   */
  async #quarantineTornTail(torn: NonNullable<LoadedState["tornTail"]>): Promise<void> {
    const { path, offset, size, reason } = torn;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const quarantine = join(this.dir, `${QUARANTINE_PREFIX}${stamp}-${basename(path)}`);
    let kept: string | undefined;
    try {
      const fh = await open(path, "r");
      let bytes: Buffer;
      try {
        bytes = Buffer.alloc(size - offset);
        await fh.read(bytes, 0, bytes.length, offset);
      } finally {
        await fh.close();
      }
      await writeFileDurable(this.dir, quarantine, `${quarantine}${TMP_SUFFIX}`, bytes);
      kept = quarantine;
    } catch (err) {
      this.#log.error({ err, file: path }, "could not keep the torn journal tail in a quarantine file");
    }
    this.#log.warn(
      { file: path, offset, discarded_bytes: size - offset, reason, quarantine: kept },
      `discarding torn final journal record (a write interrupted by a crash, never acknowledged)${kept ? `; its bytes are kept in ${kept}` : ""}`,
    );
  }

  async close(): Promise<void> {
    if (this.#status === "closed") return;
    if (this.#status !== "open") throw new StateNotOpenError(`close() while ${this.#status}`);
    this.#status = "closing";
    clearTimeout(this.#probeTimer);
    await this.#writer.idle();
    while (this.#compaction) await this.#compaction;
    await this.#journal?.close();
    await this.#lock?.release();
    this.#status = "closed";
  }

  get<T = JsonValue>(collection: string, id: string): T | undefined {
    this.#assertReadable("get");
    return this.#memory.get(collection, id) as T | undefined;
  }

  list<T = JsonValue>(collection: string): StateRecord<T>[] {
    this.#assertReadable("list");
    return this.#memory.list(collection) as StateRecord<T>[];
  }

  select<T = JsonValue>(collection: string, filter: RecordFilter): StateRecord<T>[] {
    this.#assertReadable("select");
    return this.#memory.select(collection, filter) as StateRecord<T>[];
  }

  collections(): string[] {
    this.#assertReadable("collections");
    return this.#memory.collections();
  }

  export(): StateExport {
    this.#assertReadable("export");
    return this.#memory.export();
  }

  health(): StateHealth {
    if (this.#status !== "open") return { writable: false, reason: `state store is ${this.#status}` };
    if (!this.#unwritable) return { writable: true };
    const code = this.#unwritable.error.errnoCode;
    return {
      writable: false,
      recovering: true,
      reason: `${describeWriteFailure(code)} since ${new Date(this.#unwritable.since).toISOString()}; retrying`,
    };
  }

  commit(changes: readonly Change[]): Promise<void> {
    if (this.#status !== "open") return Promise.reject(new StateNotOpenError(`commit while ${this.#status}`));
    let commit: PreparedCommit;
    try {
      commit = prepareCommit(changes);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind: "commit", commit, resolve, reject });
      this.#writer.kick();
    });
  }

  /** Compacts now (snapshot + fresh journal) and waits until done. Used after rekey and by tests. */
  async compact(): Promise<void> {
    if (this.#status !== "open") throw new StateNotOpenError(`compact while ${this.#status}`);
    if (this.#unwritable) throw this.#unwritable.error;
    while (this.#compaction) await this.#compaction;
    const done = await new Promise<Promise<Error | undefined>>((resolve, reject) => {
      this.#queue.push({ kind: "compact", resolve, reject });
      this.#writer.kick();
    });
    const err = await done;
    if (err) throw err;
  }

  stats(): FileStateStoreStats {
    return {
      seq: this.#seq,
      records: this.#memory.size,
      ...this.#counts,
      journalBytes: this.#journalBytes(),
      snapshotBytes: this.#snapshotBytes,
    };
  }

  #assertReadable(what: string): void {
    if (this.#status !== "open" && this.#status !== "closing") throw new StateNotOpenError(what);
  }

  #journalBytes(): number {
    return this.#olderJournals.reduce((n, j) => n + j.bytes, this.#journal?.size ?? 0);
  }

  /** The single writer: turns the queue into batches, strictly in order. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.kind === "compact") {
        this.#queue.shift();
        if (this.#unwritable) head.reject(this.#unwritable.error);
        else head.resolve(this.#compaction ?? (await this.#startCompaction()).done);
        continue;
      }
      if (head.kind === "probe") {
        this.#queue.shift();
        await this.#probe();
        continue;
      }
      const batch = this.#takeBatch();
      if (!(await this.#rollBack())) {
        for (const item of batch) item.reject(this.#unwritable!.error);
        continue;
      }
      let record: Buffer;
      try {
        record = encodeRecord(
          encodeBatch(
            this.#seq + 1,
            batch.flatMap((item) => item.commit.encoded),
          ),
        );
      } catch (err) {
        // Only a single oversized commit can get here (batches are cut well below the record limit).
        for (const item of batch) item.reject(new InvalidChangeError((err as Error).message));
        continue;
      }
      try {
        await this.#journal!.append(record);
      } catch (err) {
        this.#writeFailed(err);
        // Cut the half-written record off before answering; if that fails too, the next batch
        // (or the probe) retries it before writing anything.
        await this.#rollBack();
        for (const item of batch) item.reject(this.#unwritable!.error);
        continue;
      }
      this.#writable();
      this.#seq++;
      for (const item of batch) for (const change of item.commit.changes) this.#memory.apply(change);
      this.#counts.batches++;
      this.#counts.commits += batch.length;
      for (const item of batch) item.resolve();
      if (this.#compactionDue()) await this.#startCompaction();
    }
  }

  #takeBatch(): CommitItem[] {
    const batch: CommitItem[] = [];
    let bytes = 0;
    for (let next = this.#queue[0]; next?.kind === "commit"; next = this.#queue[0]) {
      if (batch.length > 0 && bytes + next.commit.bytes > this.#maxBatchBytes) break;
      this.#queue.shift();
      batch.push(next);
      bytes += next.commit.bytes;
    }
    return batch;
  }

  #writeFailed(cause: unknown): void {
    const error = new StateUnavailableError(cause);
    if (!this.#unwritable) {
      this.#log.error(
        { err: cause, dir: this.dir },
        "state journal write failed; refusing changes until it can be written again",
      );
    }
    this.#unwritable = { error, rolledBack: false, since: this.#unwritable?.since ?? Date.now() };
    this.#scheduleProbe();
  }

  /** After a failed write, cuts the journal back to its acknowledged end; false if that failed too. */
  async #rollBack(): Promise<boolean> {
    if (!this.#unwritable || this.#unwritable.rolledBack) return true;
    try {
      await this.#journal!.rollback();
      this.#unwritable.rolledBack = true;
      return true;
    } catch (err) {
      this.#log.warn({ err, dir: this.dir }, "cannot yet cut the failed write off the journal; retrying");
      return false;
    }
  }

  #writable(): void {
    if (!this.#unwritable) return;
    this.#log.warn(
      { dir: this.dir, unwritable_ms: Date.now() - this.#unwritable.since },
      "state journal writable again; accepting changes",
    );
    this.#unwritable = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #scheduleProbe(): void {
    if (this.#probeTimer || this.#status !== "open") return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      if (!this.#unwritable || this.#status !== "open") return;
      this.#queue.push({ kind: "probe" });
      this.#writer.kick();
    }, this.#probeIntervalMs);
    this.#probeTimer.unref();
  }

  /** Run by the writer: is there room again? Cuts the journal first if that is still pending. */
  async #probe(): Promise<void> {
    if (!this.#unwritable) return;
    try {
      if (await this.#rollBack()) {
        await probeWritable(this.dir);
        this.#writable();
        return;
      }
    } catch (err) {
      this.#log.debug({ err }, "state directory still not writable");
    }
    this.#scheduleProbe();
  }

  #compactionDue(): boolean {
    if (this.#compaction) return false;
    const threshold = Math.max(
      this.#compactMinBytes,
      this.#compactRatio * this.#snapshotBytes,
      this.#compactRetryAt,
    );
    return this.#journalBytes() > threshold;
  }

  /**
   * Step 1 of compaction, run by the writer between batches so memory equals batch `seq` exactly.
   * Steps 2-4 run in the background; `done` resolves to the error, if any (wrapped in an object
   * because an async function cannot return a promise without it being awaited).
   */
  async #startCompaction(): Promise<{ done: Promise<Error | undefined> }> {
    const seq = this.#seq;
    const view = this.#memory.view();
    const current = this.#journal!;
    if (current.firstSeq <= seq) {
      // Skipped when the current journal holds no batch yet: nothing to rotate away from.
      try {
        this.#journal = await JournalFile.create(this.dir, seq + 1);
      } catch (err) {
        this.#compactionFailed(err);
        return { done: Promise.resolve(err as Error) };
      }
      this.#olderJournals.push({ path: current.path, bytes: current.size });
      await current.close().catch(() => {}); // its data is already fsynced
    }
    const covered = [...this.#olderJournals];
    const run = this.#finishCompaction(seq, view, covered).then(
      () => undefined,
      (err: Error) => {
        this.#compactionFailed(err);
        return err;
      },
    );
    const done = run.finally(() => {
      if (this.#compaction === done) this.#compaction = undefined;
    });
    this.#compaction = done;
    return { done };
  }

  async #finishCompaction(
    seq: number,
    view: Array<[string, Map<string, JsonValue>]>,
    covered: Array<{ path: string; bytes: number }>,
  ): Promise<void> {
    await this.#hook?.("journal-rotated");
    const { tmpPath, bytes } = await writeSnapshotTemp(this.dir, seq, view);
    await this.#hook?.("snapshot-written");
    await installSnapshot(this.dir, tmpPath);
    this.#snapshotBytes = bytes;
    this.#olderJournals = this.#olderJournals.filter((j) => !covered.includes(j));
    await this.#hook?.("snapshot-installed");
    for (const journal of covered) await unlinkIfExists(journal.path);
    await fsyncDir(this.dir);
    await this.#hook?.("journals-removed");
    this.#counts.compactions++;
    this.#compactRetryAt = 0;
    this.#log.info(
      { dir: this.dir, seq, snapshot_bytes: bytes, journals_removed: covered.length },
      "state compacted",
    );
  }

  #compactionFailed(err: unknown): void {
    // Not fatal: the journals still hold everything. Back off so a full disk is not hammered.
    this.#compactRetryAt = this.#journalBytes() + this.#compactMinBytes;
    this.#log.error({ err, dir: this.dir }, "state compaction failed; will retry later");
    void unlinkIfExists(`${this.dir}/snapshot${TMP_SUFFIX}`).catch(() => {});
  }
}
