import { type ChildProcess, spawn } from "node:child_process";
import { BIN } from "../fixtures/configs/helpers.js";

/** `cfy-broker <command>` as a real child process whose JSON log lines the test reads. */
export interface BrokerProcess {
  child: ChildProcess;
  url: string;
  /** Everything written so far. */
  output(): { stdout: string; stderr: string };
  /** Parsed JSON lines of stdout. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<void>;
  kill(): void;
}

export async function startBrokerProcess(
  args: string[],
  options: { env: Record<string, string>; cwd?: string },
): Promise<BrokerProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const logs = () =>
    stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const waitForLog = (
    predicate: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs = 30_000,
  ) =>
    new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        if (logs().some(predicate)) return resolve();
        if (child.exitCode !== null || Date.now() - started > timeoutMs) {
          return reject(new Error(`no log line for ${what}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }
        setTimeout(check, 20);
      };
      check();
    });
  const handle: BrokerProcess = {
    child,
    url: "",
    output: () => ({ stdout, stderr }),
    logs,
    exited,
    waitForLog,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
  try {
    await waitForLog((line) => line.msg === "broker listening", "the broker to listen", 120_000);
  } catch (error) {
    handle.kill();
    throw error;
  }
  handle.url = String(logs().find((line) => line.msg === "broker listening")?.url);
  return handle;
}
