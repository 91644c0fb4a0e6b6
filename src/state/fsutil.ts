import type { FileHandle } from "node:fs/promises";
import { open, rename, unlink } from "node:fs/promises";

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
