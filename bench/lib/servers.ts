/** Parent side of bench/lib/server-child.ts: fork, start, stop. */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type {
  ReadyMessage,
  ReloadedMessage,
  ReloadMessage,
  StartMessage,
  StaticMessage,
  StatsMessage,
  StatsRequest,
} from "./server-child.js";

export interface Servers extends ReadyMessage {
  pid: number;
  /** The server process's memory now (after a full GC with `gc`), and its emulator's request count. */
  stats(options?: Omit<StatsRequest, "type">): Promise<StatsMessage>;
  /** Reloads the broker's broker.yaml (what SIGHUP does); resolves when the reload is over. */
  reload(): Promise<ReloadedMessage>;
  /** Makes the bare static server answer `body` at `path`. */
  serveStatic(path: string, body: string, contentType: string): Promise<void>;
  stop(): Promise<void>;
}

function nextReply<T extends { type: string }>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T | { type: "error"; message: string }) => {
      cleanup();
      if (message.type === "error")
        reject(new Error(`bench server: ${(message as { message: string }).message}`));
      else resolve(message as T);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`bench server exited (${code ?? signal})`));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined
 * elsewhere. Used to say whether a server was CPU-bound during a phase.
 */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export async function startServers(
  options: Omit<StartMessage, "type"> & {
    /** Node flags for the server process, e.g. `--max-old-space-size=256`. */
    nodeArgs?: string[];
  },
): Promise<Servers> {
  const { nodeArgs = [], ...start } = options;
  const child = fork(fileURLToPath(new URL("./server-child.ts", import.meta.url)), [], {
    execArgv: [
      "--import",
      "tsx",
      "--expose-gc",
      ...nodeArgs,
      // Extra node flags for the server process, e.g. BENCH_CHILD_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
      ...(process.env.BENCH_CHILD_ARGS ? process.env.BENCH_CHILD_ARGS.split(" ") : []),
    ],
    env: { ...process.env, LOG_LEVEL: "silent" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = nextReply<ReadyMessage>(child);
  child.send({ type: "start", ...start } satisfies StartMessage);
  let started: ReadyMessage;
  try {
    started = await ready;
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    ...started,
    pid: child.pid!,
    async serveStatic(path, body, contentType) {
      const reply = nextReply<{ type: "static" }>(child);
      child.send({ type: "static", path, body, contentType } satisfies StaticMessage);
      await reply;
    },
    async stats(request = {}) {
      const reply = nextReply<StatsMessage>(child);
      child.send({ type: "stats", ...request } satisfies StatsRequest);
      return reply;
    },
    async reload() {
      const reply = nextReply<ReloadedMessage>(child);
      child.send({ type: "reload" } satisfies ReloadMessage);
      return reply;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      const stopped = nextReply<{ type: "stopped" }>(child).catch(() => undefined);
      child.send({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await stopped;
      await exited;
      clearTimeout(timer);
    },
  };
}
