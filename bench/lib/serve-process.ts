/**
 * `cfy-broker serve` as a process of its own, as an operator runs it: for what only a separate
 * process shows (replicas sharing PostgreSQL, the memory of a broker alone). The build in dist/
 * (`bin/cfy-broker.js`) unless BENCH_FROM_SOURCE is set, then the sources through tsx.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { packageRoot } from "../../src/util/package-root.js";
import { freePort } from "../../test/support/ports.js";

function serveArgs(): string[] {
  const bin = join(packageRoot(), "bin", "cfy-broker.js");
  const built = join(packageRoot(), "dist", "src", "cli", "main.js");
  if (!process.env.BENCH_FROM_SOURCE && existsSync(built)) return [bin, "serve"];
  return [
    "--import",
    "tsx",
    "-e",
    "import('./src/cli/main.ts').then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c; })",
    "serve",
  ];
}

/**
 * Starts `serve --config broker.yaml` with `env` on a free port and resolves with its URL once
 * /readyz answers 200. The child is pushed onto `children` at once, so the caller can kill it
 * even when this rejects.
 */
export async function startServeProcess(
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  // The same extra node flags as the server process (bench/lib/servers.ts), e.g. a CPU profile.
  const nodeFlags = process.env.BENCH_CHILD_ARGS ? process.env.BENCH_CHILD_ARGS.split(" ") : [];
  const child = spawn(process.execPath, [...nodeFlags, ...serveArgs(), "--config", "broker.yaml"], {
    cwd: packageRoot(),
    env: { ...env, BROKER_PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cfy-broker serve exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/readyz`)
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status === 200;
      })
      .catch(() => false);
    if (ok) return { url, child };
    if (Date.now() > deadline) throw new Error(`cfy-broker serve did not become ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A process's resident set size in bytes, from /proc (Linux); undefined elsewhere. */
export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
