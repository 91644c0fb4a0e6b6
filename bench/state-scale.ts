/**
 * State at scale (file store): the broker started on a state directory of 100,000 provisioned
 * instances against the same broker on 100, side by side in two server processes:
 *   - startup: startBrokerServer's time (config, state load, listen), median of a few starts;
 *   - RSS of each server process after a catalog load (the process also hosts the emulator and
 *     the bare servers, the same in both; their share is the 100-instance figure's bulk), and of
 *     `cfy-broker serve` alone on each state, as an operator runs it (the bar's figure);
 *   - GET /v2/catalog p99 latency with 100,000 instances / with 100, in interleaved rounds:
 *     nothing per request or per engine sweep may walk every instance (the sweep runs every
 *     poll interval, 500 ms here, so several fall inside each phase).
 * Records are instance-sized (~1.7 KB), like a broker that has run a long while; the state is
 * compacted into a snapshot first, as it would be.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { FileStateStore } from "../src/state/index.js";
import { LoadTarget } from "./lib/load.js";
import {
  fixed,
  type Headline,
  line,
  median,
  quantile,
  ratio,
  ratios,
  ratioWithSpread,
  rotate,
} from "./lib/measure.js";
import { osbHeaders } from "./lib/osb-client.js";
import { rssOf, startServeProcess } from "./lib/serve-process.js";
import { type Servers, startServers } from "./lib/servers.js";
import { instanceLike } from "./state-store.js";

const SMALL = 100;
const LARGE = 100_000;
const CHUNK = 2000;
const STARTS = 3;
const CONNECTIONS = 16;
const PHASE_MS = 1000;
const ROUNDS = 7;
const POLL_MS = 500;
const MiB = 1024 * 1024;

/** A provisioned instance whose last operation finished, as most of a large state is. */
function provisioned(i: number): Record<string, unknown> {
  const record = instanceLike(i, 0);
  const operation = record.operation as Record<string, unknown>;
  return {
    ...record,
    status: "provisioned",
    operation: { ...operation, state: "succeeded", step: "succeeded", description: "Provisioned." },
  };
}

/**
 * RSS of `cfy-broker serve` alone on `dir` after a catalog load, with the emulator in this
 * process as its manager; and how long the process took to answer /readyz.
 */
async function servedAlone(dir: string, managerUrl: string): Promise<{ rss: number; readyMs: number }> {
  const children: ChildProcess[] = [];
  const started = performance.now();
  try {
    const { url, child } = await startServeProcess(
      {
        PATH: process.env.PATH ?? "",
        BROKER_USERNAME: "bench",
        BROKER_PASSWORD: "bench-password",
        BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
        BROKER_HOST: "127.0.0.1",
        BROKER_STATE_DIR: dir,
        BROKER_POLL_INTERVAL_MS: String(POLL_MS),
        CLOUDIFY_URL: managerUrl,
        LOG_LEVEL: "silent",
      },
      children,
    );
    const readyMs = performance.now() - started;
    const target = new LoadTarget(url, CONNECTIONS);
    try {
      await target.run({
        concurrency: CONNECTIONS,
        durationMs: PHASE_MS,
        expectStatus: 200,
        request: () => ({
          method: "GET",
          path: "/v2/catalog",
          headers: osbHeaders({ username: "bench", password: "bench-password" }),
        }),
      });
    } finally {
      await target.close();
    }
    const rss = await rssOf(child.pid!);
    if (rss === undefined) throw new Error("no /proc: cannot read the broker's RSS");
    return { rss, readyMs };
  } finally {
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    }
  }
}

async function seed(dir: string, count: number): Promise<void> {
  const store = new FileStateStore({ dir });
  await store.open();
  for (let start = 0; start < count; start += CHUNK) {
    const changes = [];
    for (let i = start; i < Math.min(count, start + CHUNK); i++) {
      const value = provisioned(i);
      changes.push({ type: "put" as const, collection: "instances", id: value.id as string, value });
    }
    await store.commit(changes);
  }
  await store.compact();
  await store.close();
}

export async function benchStateScale(): Promise<Headline[]> {
  line(`## State at scale: broker on ${fixed(LARGE)} instances vs on ${fixed(SMALL)} (file store)`);
  const root = await mkdtemp(join(tmpdir(), "bench-scale-"));
  const dirs = { small: join(root, "small"), large: join(root, "large") };
  const seedStart = performance.now();
  await seed(dirs.small, SMALL);
  await seed(dirs.large, LARGE);
  line(`seeded in ${fixed((performance.now() - seedStart) / 1000, 1)} s`);
  const start = (dir: string) => startServers({ stateDir: dir, pollIntervalMs: POLL_MS });
  const startMs = { small: [] as number[], large: [] as number[] };
  const startCpuMs = { small: [] as number[], large: [] as number[] };
  let servers: { small: Servers; large: Servers } | undefined;
  let headlines: Headline[] = [];
  try {
    for (let i = 0; i < STARTS; i++) {
      const small = await start(dirs.small);
      const large = await start(dirs.large);
      startMs.small.push(small.brokerStartMs);
      startMs.large.push(large.brokerStartMs);
      startCpuMs.small.push(small.brokerStartCpuMs);
      startCpuMs.large.push(large.brokerStartCpuMs);
      if (i < STARTS - 1) {
        await small.stop();
        await large.stop();
      } else servers = { small, large };
    }
    const { small, large } = servers!;
    line(
      `startup (startBrokerServer), median of ${STARTS}: ${fixed(median(startMs.large))} ms with ${fixed(LARGE)} instances, ${fixed(median(startMs.small))} ms with ${fixed(SMALL)}; CPU ${fixed(median(startCpuMs.large))} ms and ${fixed(median(startCpuMs.small))} ms`,
    );
    const targets = {
      small: new LoadTarget(small.brokerUrl, CONNECTIONS),
      large: new LoadTarget(large.brokerUrl, CONNECTIONS),
    };
    const load = async (name: "small" | "large") => {
      const result = await targets[name].run({
        concurrency: CONNECTIONS,
        durationMs: PHASE_MS,
        expectStatus: 200,
        latencies: true,
        request: () => ({ method: "GET", path: "/v2/catalog", headers: osbHeaders(servers![name]) }),
      });
      return quantile(result.latencies!, 0.99);
    };
    try {
      await load("small");
      await load("large");
      const p99 = await rotate(ROUNDS, { small: () => load("small"), large: () => load("large") });
      const p99Ratio = ratios(p99.large, p99.small);
      const rss = { small: (await small.stats()).rssBytes, large: (await large.stats()).rssBytes };
      line(
        `catalog p99 (informative only): ${fixed(median(p99.large), 1)} ms with ${fixed(LARGE)} instances, ${fixed(median(p99.small), 1)} ms with ${fixed(SMALL)}; engine sweep every ${POLL_MS} ms`,
      );
      line(`catalog p99, ${fixed(LARGE)} / ${fixed(SMALL)} instances: ${ratioWithSpread(p99Ratio)}`);
      line(
        `RSS of the server process after the catalog load: ${fixed(rss.large / MiB)} MiB with ${fixed(LARGE)} instances, ${fixed(rss.small / MiB)} MiB with ${fixed(SMALL)} (${ratio(rss.large / rss.small)})`,
      );
      line();
      headlines = [
        {
          suite: "scale",
          what: `startup with ${fixed(LARGE)} instances / with ${fixed(SMALL)}`,
          ratio: median(startMs.large) / median(startMs.small),
          note: `${fixed(median(startMs.large))} ms (${fixed(median(startCpuMs.large))} ms of CPU); bar <= 1 s`,
        },
        {
          suite: "scale",
          what: `RSS with ${fixed(LARGE)} instances / with ${fixed(SMALL)}`,
          ratio: rss.large / rss.small,
          note: `${fixed(rss.large / MiB)} MiB; bar <= 250 MiB`,
        },
        {
          suite: "scale",
          what: `GET /v2/catalog p99 with ${fixed(LARGE)} instances / with ${fixed(SMALL)}`,
          ratio: median(p99Ratio),
          note: "bar <= 1.5×",
        },
      ];
    } finally {
      for (const target of Object.values(targets)) await target.close();
    }
    // The server processes lock the state directories: the broker alone runs after they stop.
    await servers!.small.stop();
    await servers!.large.stop();
    servers = undefined;
    const emulator = await startEmulator({ logger: silentLogger });
    try {
      const small = await servedAlone(dirs.small, emulator.url);
      const large = await servedAlone(dirs.large, emulator.url);
      line(
        `cfy-broker serve alone, RSS after the catalog load: ${fixed(large.rss / MiB)} MiB with ${fixed(LARGE)} instances, ${fixed(small.rss / MiB)} MiB with ${fixed(SMALL)}; ready ${fixed(large.readyMs)} and ${fixed(small.readyMs)} ms after spawn (module loading included)`,
      );
      line();
      headlines.splice(2, 0, {
        suite: "scale",
        what: `RSS of cfy-broker serve alone, ${fixed(LARGE)} instances / ${fixed(SMALL)}`,
        ratio: large.rss / small.rss,
        note: `${fixed(large.rss / MiB)} MiB; bar <= 250 MiB`,
      });
    } finally {
      await emulator.close();
    }
    return headlines;
  } finally {
    await servers?.small.stop();
    await servers?.large.stop();
    await rm(root, { recursive: true, force: true });
  }
}
