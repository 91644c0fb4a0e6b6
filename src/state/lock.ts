import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, open, readFile, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log/logger.js";
import { StateLockedError } from "./errors.js";
import { LOCK_FILE, TMP_SUFFIX } from "./format.js";
import { unlinkIfExists } from "./fsutil.js";

/**
 * Exclusive use of a state directory by one broker process.
 *
 * Approach: `DIR/lock` holds JSON naming the holder: pid, the process start time (Linux
 * /proc/<pid>/stat field 22, so a recycled pid is not mistaken for the holder), hostname and boot
 * id. It is created atomically with its content (write temp file, then link(2), which fails if the
 * lock exists), so a reader never sees a half-written lock. An existing lock is stale, and taken
 * over, when on this host the holder pid is gone or now belongs to a process with another start
 * time, or when the host has rebooted since (different boot id). A `kill -9`'d broker therefore
 * never blocks a restart, including a container restart where the new broker reuses the pid.
 *
 * Limits (documented for operators):
 * - A lock written on another host (shared or network filesystem, or a replacement pod with a new
 *   hostname) cannot be checked for liveness, so it is never taken over automatically: the error
 *   says so, and an operator who has made sure that broker is gone deletes DIR/lock.
 * - Liveness is judged in our pid namespace: processes with the same hostname in different pid
 *   namespaces sharing one directory are not told apart. Do not share a state directory.
 * - Without /proc (non-Linux), a live pid is assumed to be the holder (safe, may need manual removal
 *   after a crash if the pid was reused).
 * - Takeover renames the stale lock aside and checks it moved the lock it judged stale; this is
 *   safe for two brokers starting at once, not proven for three racing on the same stale lock.
 * - Advisory only: nothing stops a process that ignores the lock.
 */
export interface LockOwner {
  pid: number;
  hostname: string;
  bootId?: string;
  startTime?: string;
  acquiredAt: string;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Start time of `pid` in clock ticks since boot (Linux), or undefined if unknown. */
export function processStartTime(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Field 2 (comm) is parenthesised and may contain spaces; fields after ")" start at field 3.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

function bootId(): string | undefined {
  return readProc("/proc/sys/kernel/random/boot_id")?.trim() || undefined;
}

function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

type Verdict = "held" | "stale" | "foreign";

function judge(holder: LockOwner, me: LockOwner): Verdict {
  if (holder.hostname !== me.hostname) return "foreign";
  if (holder.bootId && me.bootId && holder.bootId !== me.bootId) return "stale";
  if (!isPidAlive(holder.pid)) return "stale";
  const now = processStartTime(holder.pid);
  if (holder.startTime && now && holder.startTime !== now) return "stale";
  return "held";
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as LockOwner;
    // pid <= 0 would make kill(pid, 0) address a process group: never a valid holder.
    return Number.isSafeInteger(owner.pid) && owner.pid > 0 && typeof owner.hostname === "string"
      ? owner
      : undefined;
  } catch {
    return undefined;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export class DirectoryLock {
  readonly path: string;
  readonly #text: string;

  private constructor(path: string, text: string) {
    this.path = path;
    this.#text = text;
  }

  /** Reads the current holder of `dir`'s lock, if any (for messages and diagnostics). */
  static async holder(dir: string): Promise<LockOwner | undefined> {
    const text = await readText(join(dir, LOCK_FILE));
    return text === undefined ? undefined : parseOwner(text);
  }

  static async acquire(dir: string, logger?: Logger): Promise<DirectoryLock> {
    const path = join(dir, LOCK_FILE);
    const me: LockOwner = {
      pid: process.pid,
      hostname: hostname(),
      acquiredAt: new Date().toISOString(),
    };
    const boot = bootId();
    const start = processStartTime(process.pid);
    if (boot) me.bootId = boot;
    if (start) me.startTime = start;
    const text = `${JSON.stringify(me)}\n`;

    for (let attempt = 0; attempt < 5; attempt++) {
      if (await createWithContent(path, text)) return new DirectoryLock(path, text);
      const current = await readText(path);
      if (current === undefined) continue; // released meanwhile: try again
      const holder = parseOwner(current);
      if (!holder) {
        throw new StateLockedError(
          dir,
          undefined,
          `The lock file ${path} is unreadable; delete it if no broker uses this directory.`,
        );
      }
      const verdict = judge(holder, me);
      if (verdict === "held") throw new StateLockedError(dir, holder);
      if (verdict === "foreign") {
        throw new StateLockedError(
          dir,
          holder,
          `Its liveness cannot be checked from host ${me.hostname}; if that broker is gone, delete ${path}.`,
        );
      }
      logger?.warn(
        { dir, stale_pid: holder.pid, stale_host: holder.hostname },
        "taking over stale state lock of a dead process",
      );
      await removeIfUnchanged(path, current);
    }
    throw new StateLockedError(
      dir,
      undefined,
      "The lock kept changing while acquiring it; another broker is starting.",
    );
  }

  /** Removes the lock if it is still ours. */
  async release(): Promise<void> {
    if ((await readText(this.path)) === this.#text) await unlinkIfExists(this.path);
  }
}

/** Atomic create-with-content: returns false if the lock already exists. */
async function createWithContent(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}${TMP_SUFFIX}`;
  const fh = await open(tmp, "wx", 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await unlinkIfExists(tmp);
  }
}

/**
 * Removes a stale lock, unless another process replaced it since we judged it: rename it aside
 * (atomic, only one racer gets it), compare, and put back a lock that turned out to be fresh.
 */
async function removeIfUnchanged(path: string, judged: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString("hex")}${TMP_SUFFIX}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if ((await readText(aside)) !== judged) {
    try {
      await link(aside, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  await unlink(aside);
}
