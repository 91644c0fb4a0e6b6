import { createHash } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log/logger.js";
import type { BrokerServer } from "../server/broker-server.js";

export interface LifecycleOptions {
  log: Logger;
  /** Reload when broker.yaml or a file it names changes (`serve --watch`). */
  watch?: boolean;
  /** Runs after the broker stopped (the demo closes its emulator). */
  afterStop?: () => Promise<void>;
}

/**
 * Runs a started broker until SIGTERM or SIGINT: SIGHUP (and, with watch, a changed file)
 * reloads; the first stop signal shuts down gracefully within the configured deadline, a
 * second one exits at once. Resolves with the exit code: 0 after a clean shutdown, 1 when
 * the deadline cut it short.
 */
export function runUntilStopped(server: BrokerServer, options: LifecycleOptions): Promise<number> {
  const { log } = options;
  const reload = () => void server.reload();
  process.on("SIGHUP", reload);
  const watcher = options.watch ? watchConfig(server, log, reload) : undefined;

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, "second stop signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, "stop signal received");
      process.off("SIGHUP", reload);
      watcher?.close();
      void (async () => {
        const clean = await server.shutdown();
        await options.afterStop?.().catch((error) => log.error({ err: error }, "clean-up after stop failed"));
        const code = clean ? 0 : 1;
        // Work cut off by the deadline may still hold the event loop open.
        if (!clean) setTimeout(() => process.exit(code), 200).unref();
        resolve(code);
      })();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}

/**
 * Watches the directories of broker.yaml and of the files it names, because Kubernetes
 * updates a mounted ConfigMap or Secret by swapping a symlink (`..data`) in the directory,
 * which a watch on the file itself never sees. Events are debounced, and only a change of
 * the files' content (read through the symlinks) triggers a reload.
 */
function watchConfig(server: BrokerServer, log: Logger, reload: () => void): { close(): void } {
  const files = () => [server.config.file, ...(server.config.get().loaded.runtime?.files ?? [])];
  const fingerprint = () => {
    const hash = createHash("sha256");
    for (const file of files()) {
      try {
        hash.update(readFileSync(file));
      } catch {
        hash.update(`missing ${file}`);
      }
      hash.update("\0");
    }
    return hash.digest("hex");
  };
  let seen = fingerprint();
  let timer: NodeJS.Timeout | undefined;
  const watchers = new Map<string, FSWatcher>();
  const onEvent = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const now = fingerprint();
      if (now === seen) return;
      seen = now;
      log.info({ file: server.config.file }, "configuration files changed; reloading");
      reload();
      // A reload may name other files (a new secret file): watch their directories too.
      setTimeout(watchAll, 500).unref();
    }, 250);
  };
  const watchAll = () => {
    for (const dir of new Set(files().map((f) => dirname(f)))) {
      if (watchers.has(dir)) continue;
      try {
        watchers.set(dir, watch(dir, { persistent: false }, onEvent));
      } catch (error) {
        log.warn({ dir, err: error }, "cannot watch this directory; send SIGHUP to reload");
      }
    }
  };
  watchAll();
  log.info({ dirs: [...watchers.keys()] }, "watching configuration files");
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
    },
  };
}
