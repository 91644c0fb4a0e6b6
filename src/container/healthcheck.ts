/**
 * The container image's HEALTHCHECK: probes the broker on the port it actually listens on.
 *
 * The port may come from broker.yaml, an environment variable it reads, or a `--port`
 * appended to `docker run`, so guessing it from the environment probes the wrong port as
 * soon as an operator sets it another way. Inside the container the broker is the one
 * `cfy-broker serve` process; its listening TCP sockets are read from /proc (the socket
 * inodes among its file descriptors, matched in its network namespace's tcp tables) and
 * the liveness path is fetched there. Exit 0 healthy, 1 unhealthy, with one line saying why.
 *
 *   node /app/dist/src/container/healthcheck.js [--pid N] [--path /livez] [--timeout-ms 4000]
 *
 * Linux only (it reads /proc); it needs no credentials (the health endpoints have none).
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { get as httpGet } from "node:http";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

export interface Listener {
  host: string;
  port: number;
}

/**
 * Node.js processes running `cfy-broker ... serve`, this one excluded. Only node itself counts:
 * an init such as tini carries the same words in its command line.
 */
export function findBrokerPids(proc = "/proc"): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${proc}/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const cli = argv.findIndex((arg) => /(^|\/)cfy-broker(\.js)?$/.test(arg));
    const isNode =
      /(^|\/)node(js)?$/.test(argv[0] ?? "") && argv.slice(1, cli).every((a) => a.startsWith("-"));
    if (cli > 0 && isNode && argv.slice(cli + 1).includes("serve")) pids.push(Number(entry));
  }
  return pids;
}

/** `0100007F:1F90` (little-endian words, as in /proc/net/tcp) -> 127.0.0.1, 8080. */
export function decodeProcAddress(hex: string): Listener {
  const [address, port] = hex.split(":") as [string, string];
  const words = address.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) => [6, 4, 2, 0].map((i) => Number.parseInt(word.slice(i, i + 2), 16)));
  let host: string;
  if (bytes.length === 4) {
    host = bytes.join(".");
  } else if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    host = bytes.slice(12).join("."); // IPv4-mapped
  } else {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    host = new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1); // canonical form
  }
  return { host, port: Number.parseInt(port, 16) };
}

const TCP_LISTEN = "0A";

/** The TCP sockets process `pid` listens on. */
export function listenersOf(pid: number, proc = "/proc"): Listener[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`${proc}/${pid}/fd`)) {
    try {
      const target = readlinkSync(`${proc}/${pid}/fd/${fd}`);
      const inode = target.match(/^socket:\[(\d+)\]$/)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  const listeners: Listener[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`${proc}/${pid}/net/${table}`, "utf8");
    } catch {
      continue; // no IPv6 in this namespace
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.length < 10 || fields[3] !== TCP_LISTEN || !inodes.has(fields[9]!)) continue;
      listeners.push(decodeProcAddress(fields[1]!));
    }
  }
  return listeners;
}

/** Where to connect to reach a listener: a wildcard address is reached on loopback. */
export function probeUrl({ host, port }: Listener, path: string): string {
  const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${target.includes(":") ? `[${target}]` : target}:${port}${path}`;
}

export async function healthcheck(argv: string[]): Promise<{ healthy: boolean; message: string }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pid: { type: "string" },
      path: { type: "string", default: "/livez" },
      "timeout-ms": { type: "string", default: "4000" },
    },
  });
  const pids = values.pid ? [Number(values.pid)] : findBrokerPids();
  if (pids.length !== 1) {
    return {
      healthy: false,
      message:
        pids.length === 0
          ? "no `cfy-broker serve` process is running"
          : `several \`cfy-broker serve\` processes (${pids.join(", ")}): pass --pid`,
    };
  }
  const pid = pids[0]!;
  let listeners: Listener[];
  try {
    listeners = listenersOf(pid);
  } catch (error) {
    return {
      healthy: false,
      message: `cannot read the sockets of process ${pid}: ${(error as Error).message}`,
    };
  }
  if (listeners.length === 0) return { healthy: false, message: `process ${pid} is not listening (yet)` };
  const answers: string[] = [];
  for (const listener of listeners) {
    const url = probeUrl(listener, values.path);
    try {
      const { status, body } = await get(url, Number(values["timeout-ms"]));
      if (status === 200) return { healthy: true, message: `${url}: 200` };
      answers.push(`${url}: ${status} ${body}`);
    } catch (error) {
      answers.push(`${url}: ${(error as Error).message}`);
    }
  }
  return { healthy: false, message: answers.join("; ") };
}

/** One GET on a fresh connection (node:http loads much faster than fetch: this runs every 30 s). */
function get(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < 300) body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: body.slice(0, 300) }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

// Run as a program (the HEALTHCHECK), not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  healthcheck(process.argv.slice(2)).then(
    ({ healthy, message }) => {
      process.stdout.write(`${healthy ? "healthy" : "unhealthy"}: ${message}\n`);
      process.exit(healthy ? 0 : 1);
    },
    (error: unknown) => {
      process.stdout.write(`unhealthy: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
