import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { shippedBlueprintsPath } from "../../emulator/index.js";
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

/**
 * The emulator's shipped blueprints (as the parsed YAML document its `blueprints` option takes) with the postgresql blueprint's install taking `installMs`
 * (at timing scale 1), so a test can catch provisions while their install runs.
 */
export async function slowInstallCatalogue(installMs: number): Promise<unknown> {
  const catalogue = parse(await readFile(shippedBlueprintsPath(), "utf8"), { merge: true }) as {
    blueprints: { id: string; workflows: Record<string, Record<string, unknown>> }[];
  };
  const postgresql = catalogue.blueprints.find((b) => b.id === "postgresql")!;
  postgresql.workflows = Object.fromEntries(
    Object.entries(postgresql.workflows).map(([name, workflow]) => [
      name,
      name === "install" ? { ...workflow, duration_ms: installMs } : workflow,
    ]),
  );
  return catalogue;
}

export { freePort } from "./ports.js";

export interface Replica {
  proc: ChildProcess;
  url: string;
  osb: ValidatingOsbClient;
  stderr: () => string;
  /** The last lines of its log (stdout). */
  stdout: () => string;
}

/**
 * `cfy-broker serve` as a child process on a port of its own choosing (port 0: a port picked
 * here and bound later could be taken meanwhile by a replica of a test file running in
 * parallel); the address comes from its "broker listening" log line. Resolves once /healthz
 * answers 200. `port` pins the port (a restart that must come back at the same address).
 */
export async function startReplica(
  env: Record<string, string>,
  children: Set<ChildProcess>,
  configFile = "broker.yaml",
  port = 0,
): Promise<Replica> {
  const level = !env.LOG_LEVEL || env.LOG_LEVEL === "silent" ? "info" : env.LOG_LEVEL;
  const proc = spawn(process.execPath, ["bin/cfy-broker.js", "serve", "--config", configFile], {
    cwd: ROOT,
    env: { ...env, BROKER_PORT: String(port), LOG_LEVEL: level },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(proc);
  let stderr = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let stdout = "";
  let url: string | undefined;
  let tail = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000);
    if (url) return;
    stdout += chunk.toString();
    const listening = /[^\n]*"msg":"broker listening"[^\n]*/.exec(stdout)?.[0];
    const address = listening && /"url":"(http:\/\/[^"]+)"/.exec(listening)?.[1];
    if (address) {
      url = address;
      stdout = "";
    }
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the broker exited with ${proc.exitCode}: ${stderr}`);
    if (url) {
      try {
        const health = await fetch(`${url}/healthz`);
        await health.arrayBuffer();
        if (health.status === 200) {
          const osb = new ValidatingOsbClient(url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
          return { proc, url, osb, stderr: () => stderr, stdout: () => tail };
        }
      } catch {
        // not answering yet
      }
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
