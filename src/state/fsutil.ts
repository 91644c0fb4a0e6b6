import { existsSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import { FORMAT_NAME, MARKER_FILE } from "./format.js";

/**
 * Makes directory entry changes (create, rename, unlink) durable. Without it a crash can lose a
 * freshly renamed snapshot or journal even though the file's own data was fsynced.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return; // directories cannot be fsynced there; NTFS journals metadata
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** write() may write less than asked; loop until every byte is in the file. */
export async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Replace `path` atomically and durably: temp file, fsync, rename, fsync directory. */
export async function writeFileDurable(
  dir: string,
  path: string,
  tmpPath: string,
  data: Buffer,
): Promise<void> {
  const fh = await open(tmpPath, "w", 0o600);
  try {
    await writeAll(fh, data, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmpPath, path);
  await fsyncDir(dir);
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * mkdir -p that also fsyncs the parent of every directory it creates: otherwise a power loss
 * could make a brand-new state directory, and the acknowledged commits inside it, disappear.
 */
export async function mkdirDurable(dir: string): Promise<void> {
  const target = resolve(dir);
  const created = await mkdir(target, { recursive: true, mode: 0o700 });
  if (created === undefined) return;
  const levels = relative(created, target).split(sep).filter(Boolean);
  let current = resolve(created);
  await fsyncDir(dirname(current));
  for (const level of levels) {
    await fsyncDir(current);
    current = resolve(current, level);
  }
}

/** Room a probe demands: a margin over a typical batch, so health does not flap at the brink. */
const PROBE_BYTES = 64 * 1024;

/**
 * Throws unless `dir` can take a write of PROBE_BYTES now: writes, fsyncs and removes a temp file
 * (named like a journal temp file, so a crash in between leaves a stray that open() removes).
 */
export async function probeWritable(dir: string): Promise<void> {
  const path = resolve(dir, "journal-probe.tmp");
  try {
    const fh = await open(path, "w", 0o600);
    try {
      await writeAll(fh, Buffer.alloc(PROBE_BYTES), 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } finally {
    await unlinkIfExists(path).catch(() => {});
  }
}

/** Writes DIR/state-marker once (durably); later calls find it and do nothing. */
export async function writeMarker(dir: string): Promise<void> {
  const path = resolve(dir, MARKER_FILE);
  if (existsSync(path)) return;
  const text = `${JSON.stringify({ format: FORMAT_NAME, createdAt: new Date().toISOString() })}\n`;
  await writeFileDurable(dir, path, `${path}.tmp`, Buffer.from(text));
}
