/**
 * HTTP: `GET /v2/catalog` through the broker's full middleware chain (request identity, basic
 * auth with constant-time SHA-256 comparisons, API version, originating identity, body limit,
 * access log, handler) against baselines in the same child process answering the same bytes:
 *   - bare-node: node:http alone with the same Basic auth and version checks (issue 14's floor);
 *   - bare-hono-auth: a bare Hono app on the same @hono/node-server with the same checks;
 *   - bare-static: a bare Hono app answering a constant string, no checks (HTTP + Hono floor);
 * then the same with a 1,000-plan broker.yaml (about 1.5 MB of catalog), where a client that
 * accepts gzip (as Go's and Java's HTTP clients do by default) should get pre-compressed bytes.
 * Figures are throughput ratios broker / baseline (1 = as fast as the baseline), medians of
 * interleaved rounds. Load is closed-loop over keep-alive connections from this process while
 * the servers run in a child process.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeBigConfig } from "./lib/big-config.js";
import { type LoadResult, LoadTarget } from "./lib/load.js";
import {
  fixed,
  type Headline,
  line,
  median,
  quantile,
  ratios,
  ratioWithSpread,
  rotate,
} from "./lib/measure.js";
import { osbHeaders } from "./lib/osb-client.js";
import { type Servers, startServers } from "./lib/servers.js";

const CONNECTIONS = 16;
const PHASE_MS = 400;
const ROUNDS = 9;
const BIG_PLANS = 1000;
const BIG_PHASE_MS = 800;
const BIG_ROUNDS = 5;

function headersOf(servers: Servers, acceptEncoding?: string): Record<string, string> {
  return {
    ...osbHeaders(servers),
    ...(acceptEncoding ? { "Accept-Encoding": acceptEncoding } : {}),
  };
}

function loader(headers: Record<string, string>) {
  return (target: LoadTarget, durationMs: number, latencies = false): Promise<LoadResult> =>
    target.run({
      concurrency: CONNECTIONS,
      durationMs,
      expectStatus: 200,
      latencies,
      request: () => ({ method: "GET", path: "/v2/catalog", headers }),
    });
}

export async function benchCatalog(): Promise<Headline[]> {
  return [...(await exampleCatalog()), ...(await bigCatalog())];
}

async function exampleCatalog(): Promise<Headline[]> {
  line("## HTTP: GET /v2/catalog (example broker.yaml), broker vs bare servers with the same checks");
  const stateDir = await mkdtemp(join(tmpdir(), "bench-catalog-"));
  const servers = await startServers({ stateDir, pollIntervalMs: 2000 });
  const targets = {
    broker: new LoadTarget(servers.brokerUrl, CONNECTIONS),
    bareNode: new LoadTarget(servers.bareNodeAuthUrl, CONNECTIONS),
    bareHono: new LoadTarget(servers.bareHonoAuthUrl, CONNECTIONS),
    bareStatic: new LoadTarget(servers.bareStaticUrl, CONNECTIONS),
  };
  const load = loader(headersOf(servers));
  try {
    line(
      `catalog body ${fixed(Buffer.byteLength(servers.catalog))} bytes, no Accept-Encoding, ${CONNECTIONS} keep-alive connections, ${ROUNDS} rounds × ${PHASE_MS} ms per side`,
    );
    for (const target of Object.values(targets)) await load(target, 400); // warm-up: JIT, connections
    const p99: Record<"broker" | "bareNode", number[]> = { broker: [], bareNode: [] };
    const measure = (name: "broker" | "bareNode") => async () => {
      const result = await load(targets[name], PHASE_MS, true);
      p99[name].push(quantile(result.latencies!, 0.99));
      return result.opsPerSecond;
    };
    const rps = await rotate(ROUNDS, {
      broker: measure("broker"),
      bareNode: measure("bareNode"),
      bareHono: async () => (await load(targets.bareHono, PHASE_MS)).opsPerSecond,
      bareStatic: async () => (await load(targets.bareStatic, PHASE_MS)).opsPerSecond,
    });
    const vsNode = ratios(rps.broker, rps.bareNode);
    const vsHono = ratios(rps.broker, rps.bareHono);
    const vsStatic = ratios(rps.broker, rps.bareStatic);
    const p99Ratio = ratios(p99.broker, p99.bareNode);
    line(
      `median req/s (informative only): broker ${fixed(median(rps.broker))}, bare-node ${fixed(median(rps.bareNode))}, bare-hono-auth ${fixed(median(rps.bareHono))}, bare-static ${fixed(median(rps.bareStatic))}`,
    );
    line(`throughput, broker / bare node:http + auth:   ${ratioWithSpread(vsNode)}`);
    line(`throughput, broker / bare Hono + auth:        ${ratioWithSpread(vsHono)}`);
    line(`throughput, broker / bare Hono static:        ${ratioWithSpread(vsStatic)}`);
    line(`p99 latency, broker / bare node:http + auth:  ${ratioWithSpread(p99Ratio)}`);
    line();
    return [
      {
        suite: "http",
        what: "GET /v2/catalog req/s, broker / bare node:http + auth",
        ratio: median(vsNode),
        note: `bar >= 0.5×; p99 ${fixed(median(p99Ratio), 2)}× the baseline's`,
      },
      {
        suite: "http",
        what: "GET /v2/catalog req/s, broker / bare Hono + auth",
        ratio: median(vsHono),
        note: "bar >= 0.8×",
      },
    ];
  } finally {
    for (const target of Object.values(targets)) await target.close();
    await servers.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function bigCatalog(): Promise<Headline[]> {
  line(`## HTTP: GET /v2/catalog with ${fixed(BIG_PLANS)} plans`);
  const dir = await mkdtemp(join(tmpdir(), "bench-catalog-big-"));
  const stateDir = join(dir, "state");
  const servers = await startServers({
    stateDir,
    pollIntervalMs: 2000,
    configFile: await writeBigConfig(dir, BIG_PLANS),
  });
  const targets = {
    broker: new LoadTarget(servers.brokerUrl, CONNECTIONS),
    bareNode: new LoadTarget(servers.bareNodeAuthUrl, CONNECTIONS),
  };
  const gzip = loader(headersOf(servers, "gzip, deflate, br"));
  const identity = loader(headersOf(servers));
  try {
    line(
      `catalog body ${fixed(Buffer.byteLength(servers.catalog))} bytes, ${CONNECTIONS} keep-alive connections, ${BIG_ROUNDS} rounds × ${BIG_PHASE_MS} ms per side`,
    );
    line(
      `broker startup with ${fixed(BIG_PLANS)} plans (startBrokerServer, one sample): ${fixed(servers.brokerStartMs)} ms, ${fixed(servers.brokerStartCpuMs)} ms of CPU`,
    );
    await gzip(targets.broker, 400);
    await identity(targets.bareNode, 400);
    const rps = await rotate(BIG_ROUNDS, {
      brokerGzip: async () => (await gzip(targets.broker, BIG_PHASE_MS)).opsPerSecond,
      brokerIdentity: async () => (await identity(targets.broker, BIG_PHASE_MS)).opsPerSecond,
      bareNodeIdentity: async () => (await identity(targets.bareNode, BIG_PHASE_MS)).opsPerSecond,
      bareNodeGzip: async () => (await gzip(targets.bareNode, BIG_PHASE_MS)).opsPerSecond,
    });
    const gzipVsIdentityFloor = ratios(rps.brokerGzip, rps.bareNodeIdentity);
    const gzipVsGzipFloor = ratios(rps.brokerGzip, rps.bareNodeGzip);
    const identityVsFloor = ratios(rps.brokerIdentity, rps.bareNodeIdentity);
    line(
      `median req/s (informative only): broker gzip-accepting ${fixed(median(rps.brokerGzip))}, broker identity ${fixed(median(rps.brokerIdentity))}, bare-node identity ${fixed(median(rps.bareNodeIdentity))}, bare-node gzip ${fixed(median(rps.bareNodeGzip))}`,
    );
    line(
      `gzip-accepting client, broker / bare node:http sending the uncompressed bytes: ${ratioWithSpread(gzipVsIdentityFloor)}`,
    );
    line(
      `gzip-accepting client, broker / bare node:http sending gzip bytes:            ${ratioWithSpread(gzipVsGzipFloor)}`,
    );
    line(
      `identity client,       broker / bare node:http sending the same bytes:        ${ratioWithSpread(identityVsFloor)}`,
    );
    line();
    return [
      {
        suite: "http",
        what: `GET /v2/catalog (${BIG_PLANS} plans, gzip accepted) req/s / bare node:http uncompressed`,
        ratio: median(gzipVsIdentityFloor),
        note: "bar: >= 5× the value before issue 14",
      },
      {
        suite: "http",
        what: `GET /v2/catalog (${BIG_PLANS} plans, gzip accepted) req/s / bare node:http gzip`,
        ratio: median(gzipVsGzipFloor),
        note: "",
      },
    ];
  } finally {
    for (const target of Object.values(targets)) await target.close();
    await servers.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
