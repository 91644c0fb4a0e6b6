import { stat } from "node:fs/promises";
import type { Logger } from "../log/logger.js";
import { StateError } from "./errors.js";
import { loadState } from "./loader.js";
import type { StateExport } from "./types.js";

const ATTEMPTS = 5;

/**
 * Reads a state directory without the lock and without changing anything, so it works while the
 * broker runs. The broker may compact meanwhile (rename a snapshot, delete journals); that shows up
 * as a vanished file or an inconsistent set, and the read is simply retried. A record being
 * appended shows up as a torn tail and is left out. The result is a consistent state as of some
 * recent batch.
 */
export async function readStateDir(dir: string, logger?: Logger): Promise<StateExport> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new StateError("FORMAT", `${dir} is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new StateError("FORMAT", `no state directory at ${dir}`);
    throw err;
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      return (await loadState(dir, logger)).memory.export();
    } catch (err) {
      const vanished = (err as NodeJS.ErrnoException).code === "ENOENT";
      if (!vanished && !(err instanceof StateError)) throw err;
      lastError = err;
      logger?.debug({ err, attempt }, "state changed while reading; retrying");
    }
  }
  throw lastError;
}
