/**
 * HTTP: `GET /v2/catalog` through the broker's full middleware chain (request identity, basic
 * auth with constant-time SHA-256 comparisons, API version, originating identity, body limit,
 * handler serialising the catalog) against two bare Hono apps on the same @hono/node-server
 * returning a body of the same bytes:
 *   - bare-static: a constant string (floor: HTTP parsing + Hono routing + node-server);
 *   - bare-json:   c.json(catalog) (the same serialisation as our handler, no middleware).
 * broker/bare-static is the whole cost of our layer; broker/bare-json isolates the middleware.
 * The catalog is the one request platforms repeat on a timer, and the cheapest path through the
 * stack, so it shows the fixed per-request overhead best. Throughput is measured closed-loop with
 * keep-alive connections from this process while the servers run in a child process.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LoadResult, LoadTarget } from "./lib/load.js";
import { fixed, type Headline, line, median, ratios, ratioWithSpread, rotate } from "./lib/measure.js";
import { startServers } from "./lib/servers.js";

const CONNECTIONS = 16;
const PHASE_MS = 400;
const ROUNDS = 13;

export async function benchCatalog(): Promise<Headline[]> {
  line("## HTTP: GET /v2/catalog, broker vs bare Hono on the same node-server");
  const stateDir = await mkdtemp(join(tmpdir(), "bench-catalog-"));
  const servers = await startServers({ stateDir, pollIntervalMs: 2000 });
  const headers = {
    Authorization: `Basic ${Buffer.from(`${servers.username}:${servers.password}`).toString("base64")}`,
    "X-Broker-API-Version": "2.17",
  };
  const targets = {
    broker: new LoadTarget(servers.brokerUrl, CONNECTIONS),
    bareStatic: new LoadTarget(servers.bareStaticUrl, CONNECTIONS),
    bareJson: new LoadTarget(servers.bareJsonUrl, CONNECTIONS),
  };
  const load = (target: LoadTarget, durationMs = PHASE_MS): Promise<LoadResult> =>
    target.run({
      concurrency: CONNECTIONS,
      durationMs,
      expectStatus: 200,
      request: () => ({ method: "GET", path: "/v2/catalog", headers }),
    });
  try {
    line(
      `catalog body ${fixed(servers.catalogBytes)} bytes, ${CONNECTIONS} keep-alive connections, ${ROUNDS} rounds × ${PHASE_MS} ms per side`,
    );
    for (const target of Object.values(targets)) await load(target, 400); // warm-up: JIT, connections
    const rps = await rotate(ROUNDS, {
      broker: async () => (await load(targets.broker)).opsPerSecond,
      bareStatic: async () => (await load(targets.bareStatic)).opsPerSecond,
      bareJson: async () => (await load(targets.bareJson)).opsPerSecond,
    });
    // Cost ratio: time per request of the broker over the baseline's = inverse throughput ratio.
    const vsStatic = ratios(rps.bareStatic, rps.broker);
    const vsJson = ratios(rps.bareJson, rps.broker);
    line(
      `median req/s (informative only): broker ${fixed(median(rps.broker))}, bare-static ${fixed(median(rps.bareStatic))}, bare-json ${fixed(median(rps.bareJson))}`,
    );
    line(`per-request cost, broker / bare-static: ${ratioWithSpread(vsStatic)}`);
    line(`per-request cost, broker / bare-json:   ${ratioWithSpread(vsJson)}`);
    line();
    return [
      {
        suite: "http",
        what: "GET /v2/catalog cost, broker / bare Hono (static body)",
        ratio: median(vsStatic),
        note: "our middleware + handler + serialisation",
      },
      {
        suite: "http",
        what: "GET /v2/catalog cost, broker / bare Hono (c.json)",
        ratio: median(vsJson),
        note: "middleware chain alone",
      },
    ];
  } finally {
    for (const target of Object.values(targets)) await target.close();
    await servers.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
