/**
 * Memory after work: the broker's server process after 10,000 provisions accepted (202, durable)
 * from 16 clients, against the same process idle (started, catalog served), both read in the
 * same run (issue 14: <= 2× idle, a bounded heap). The emulator answers the engine's
 * deployment creations 503 (a manager briefly unavailable: the operations stay in progress and
 * are retried with backoff), so the figure is the request path's and the state's, not the
 * emulator's, which shares the process: running 10,000 lifecycles to the end takes the engine
 * (16 resources per sweep) about 15 minutes on this machine, and a manager holding the calls
 * would leave 10,000 of them in flight (each request kicks its operation at once). Read: RSS as an operator sees it, then RSS and heap after a full GC
 * (what is retained: the state's records, kept in memory by design). Run twice: with node's
 * default heap limit and with the `--max-old-space-size` docs/OPERATIONS.md "Memory" gives for
 * up to 10,000 instances.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoadTarget } from "./lib/load.js";
import { fixed, type Headline, line, ratio } from "./lib/measure.js";
import { osbHeaders, POSTGRES_SERVICE, SMALL_PLAN } from "./lib/osb-client.js";
import { type Servers, startServers } from "./lib/servers.js";

const PROVISIONS = 10_000;
const CLIENTS = 16;
const MiB = 1024 * 1024;
/** docs/OPERATIONS.md "Memory": the setting for up to 10,000 instances. */
const DOCUMENTED_HEAP = "--max-old-space-size=256";

interface Reading {
  rss: number;
  rssAfterGc: number;
  heapAfterGc: number;
}

async function reading(servers: Servers): Promise<Reading> {
  const asIs = await servers.stats();
  const collected = await servers.stats({ gc: true });
  return { rss: asIs.rssBytes, rssAfterGc: collected.rssBytes, heapAfterGc: collected.heapUsedBytes };
}

const mib = (bytes: number) => `${fixed(bytes / MiB)} MiB`;

async function afterProvisions(root: string, nodeArgs: string[]): Promise<Reading[]> {
  const servers = await startServers({
    stateDir: join(root, `state-${nodeArgs.length}`),
    pollIntervalMs: 2000,
    emulatorFaults: [
      { type: "http_error", status: 503, method: "PUT", path: "/api/v3.1/deployments", times: 1_000_000 },
    ],
    nodeArgs,
  });
  const target = new LoadTarget(servers.brokerUrl, CLIENTS);
  try {
    const headers = osbHeaders(servers);
    await target.send({ method: "GET", path: "/v2/catalog", headers }, 200);
    const idle = await reading(servers);
    const body = JSON.stringify({
      service_id: POSTGRES_SERVICE,
      plan_id: SMALL_PLAN,
      organization_guid: "org-guid-1",
      space_guid: "space-guid-1",
      parameters: { db_name: "orders" },
    });
    let sent = 0;
    const started = performance.now();
    const accepted = await target.run({
      concurrency: CLIENTS,
      durationMs: 600_000,
      stop: () => sent >= PROVISIONS,
      expectStatus: 202,
      request: () => {
        sent++;
        return {
          method: "PUT",
          path: `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`,
          headers: { ...headers, "Content-Type": "application/json" },
          body,
        };
      },
    });
    const acceptedMs = performance.now() - started;
    const after = await reading(servers);
    line(
      `${nodeArgs.join(" ") || "default heap limit"}: ${fixed(accepted.ops)} provisions accepted in ${fixed(acceptedMs / 1000, 1)} s`,
    );
    line(
      `  idle: RSS ${mib(idle.rss)}, after GC ${mib(idle.rssAfterGc)} (heap ${mib(idle.heapAfterGc)}); after: RSS ${mib(after.rss)} (${ratio(after.rss / idle.rss)}), after GC ${mib(after.rssAfterGc)} (${ratio(after.rssAfterGc / idle.rssAfterGc)}; heap ${mib(after.heapAfterGc)})`,
    );
    return [idle, after];
  } finally {
    await target.close();
    await servers.stop();
  }
}

export async function benchMemory(): Promise<Headline[]> {
  line(`## Memory after ${fixed(PROVISIONS)} provisions vs idle (server process)`);
  const root = await mkdtemp(join(tmpdir(), "bench-memory-"));
  try {
    const [idle, after] = await afterProvisions(root, []);
    const [idleCapped, afterCapped] = await afterProvisions(root, [DOCUMENTED_HEAP]);
    line();
    return [
      {
        suite: "memory",
        what: `RSS after ${fixed(PROVISIONS)} provisions / idle`,
        ratio: after!.rss / idle!.rss,
        note: `${mib(after!.rss)} vs ${mib(idle!.rss)}; bar <= 2×`,
      },
      {
        suite: "memory",
        what: `RSS after ${fixed(PROVISIONS)} provisions / idle, ${DOCUMENTED_HEAP}`,
        ratio: afterCapped!.rss / idleCapped!.rss,
        note: `${mib(afterCapped!.rss)} vs ${mib(idleCapped!.rss)}; bar <= 2×`,
      },
    ];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
