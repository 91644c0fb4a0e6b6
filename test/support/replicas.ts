import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { packageRoot } from "../../src/util/package-root.js";
import { ValidatingOsbClient } from "./stack.js";

const ROOT = packageRoot();

/**
 * The replica tests run the compiled CLI (`npm test` builds first). A dist/ older than the
 * PostgreSQL store sources would test old code: refuse rather than pass or fail for nothing.
 */
export function assertFreshBuild(): void {
  for (const [source, built] of [
    ["src/state/postgres/store.ts", "dist/src/state/postgres/store.js"],
    ["src/broker/operations/operation-engine.ts", "dist/src/broker/operations/operation-engine.js"],
    ["src/server/broker-server.ts", "dist/src/server/broker-server.js"],
  ] as const) {
    const built_ = statSync(join(ROOT, built), { throwIfNoEntry: false });
    if (!built_ || built_.mtimeMs < statSync(join(ROOT, source)).mtimeMs)
      throw new Error(`${built} is missing or older than ${source}: run npm run build (npm test does)`);
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Replica {
  proc: ChildProcess;
  url: string;
  osb: ValidatingOsbClient;
  stderr: () => string;
}

/** `cfy-broker serve` as a child process; resolves once /healthz answers 200. */
export async function startReplica(
  env: Record<string, string>,
  children: Set<ChildProcess>,
  configFile = "broker.yaml",
): Promise<Replica> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["bin/cfy-broker.js", "serve", "--config", configFile], {
    cwd: ROOT,
    env: { ...env, BROKER_PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(proc);
  let stderr = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const osb = new ValidatingOsbClient(url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the broker exited with ${proc.exitCode}: ${stderr}`);
    try {
      const health = await fetch(`${url}/healthz`);
      await health.arrayBuffer();
      if (health.status === 200) return { proc, url, osb, stderr: () => stderr };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the broker did not come up: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function kill9(proc: ChildProcess, children: Set<ChildProcess>): Promise<void> {
  children.delete(proc);
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.kill("SIGKILL");
  await exited;
}

export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
