/**
 * HTTP reads platforms poll: `GET .../last_operation` of an instance and `GET` of a binding
 * (outputs mode: the credentials are opened from the sealed record on each fetch), through the
 * broker's whole chain, against a bare node:http server answering the same bytes for the same
 * path with no checks at all (the "bare static GET" of issue 14). The instance and binding are
 * made through the broker first, against the emulator with shortened timings. Throughput
 * ratios broker / baseline, medians of interleaved rounds.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoadTarget } from "./lib/load.js";
import { fixed, type Headline, line, median, ratios, ratioWithSpread, rotate } from "./lib/measure.js";
import {
  LARGE_PLAN,
  osbClient,
  osbHeaders,
  POSTGRES_SERVICE,
  QUICK_MANAGER,
  startProvision,
  waitProvisioned,
} from "./lib/osb-client.js";
import { startServers } from "./lib/servers.js";

const CONNECTIONS = 16;
const PHASE_MS = 400;
const ROUNDS = 9;

export async function benchReads(): Promise<Headline[]> {
  line("## HTTP: GET last_operation and GET binding, broker vs a bare static GET of the same bytes");
  const stateDir = await mkdtemp(join(tmpdir(), "bench-reads-"));
  const servers = await startServers({
    stateDir,
    pollIntervalMs: 100,
    emulatorTimings: QUICK_MANAGER,
  });
  const headers = osbHeaders(servers);
  const call = osbClient(servers);
  const instanceId = randomUUID();
  const bindingId = randomUUID();
  const instancePath = `/v2/service_instances/${instanceId}`;
  const lastOperationPath = `${instancePath}/last_operation`;
  const bindingPath = `${instancePath}/service_bindings/${bindingId}`;
  const broker = new LoadTarget(servers.brokerUrl, CONNECTIONS);
  const bare = new LoadTarget(servers.bareStaticNodeUrl, CONNECTIONS);
  try {
    await startProvision(call, instanceId, LARGE_PLAN, { db_name: "analytics" });
    await waitProvisioned(call, instanceId);
    const bind = await call("PUT", bindingPath, { service_id: POSTGRES_SERVICE, plan_id: LARGE_PLAN });
    if (bind.status !== 201) throw new Error(`bind answered ${bind.status}: ${bind.text}`);

    const paths = { lastOperation: lastOperationPath, binding: bindingPath };
    for (const path of Object.values(paths)) {
      const answer = await call("GET", path);
      if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${answer.text}`);
      await servers.serveStatic(path, answer.text, answer.type ?? "application/json");
    }
    const load = (target: LoadTarget, path: string, durationMs = PHASE_MS) =>
      target
        .run({
          concurrency: CONNECTIONS,
          durationMs,
          expectStatus: 200,
          request: () => ({ method: "GET", path, headers }),
        })
        .then((r) => r.opsPerSecond);
    const headlines: Headline[] = [];
    const bars = { lastOperation: 0.6, binding: 0.5 };
    for (const [name, path] of Object.entries(paths) as [keyof typeof paths, string][]) {
      await load(broker, path, 300);
      await load(bare, path, 300);
      const rps = await rotate(ROUNDS, { broker: () => load(broker, path), bare: () => load(bare, path) });
      const vsBare = ratios(rps.broker, rps.bare);
      line(
        `GET ${name === "binding" ? "binding" : "last_operation"}: median req/s (informative only) broker ${fixed(median(rps.broker))}, bare static ${fixed(median(rps.bare))}; broker / bare: ${ratioWithSpread(vsBare)}`,
      );
      headlines.push({
        suite: "reads",
        what: `GET ${name === "binding" ? "binding" : "last_operation"} req/s, broker / bare static GET`,
        ratio: median(vsBare),
        note: `bar >= ${bars[name]}×`,
      });
    }
    line();
    return headlines;
  } finally {
    await broker.close();
    await bare.close();
    await servers.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
