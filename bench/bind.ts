/**
 * Bind in outputs mode (`PUT .../service_bindings/:id`, answered 201 with credentials): the
 * broker decides under the instance's lock, reads the deployment's outputs, capabilities and
 * the plan's secret from Cloudify (the emulator, in the server process) outside it, renders the
 * credentials, seals them and answers once the binding record is fdatasynced. Baseline: a bare
 * node:http PUT that appends a body of the same size as the broker's binding journal record and
 * fdatasyncs it, one fdatasync per request, no checks (the "fsync-per-request PUT" of issue 14).
 *   - on 1 instance: 16 clients bind the same instance (binds on one instance are decided and
 *     committed one at a time, OSB A4);
 *   - on 16 instances: 16 clients, each bind on the next instance in turn.
 * Throughput ratios broker / baseline, medians of interleaved rounds. Also printed: how many
 * Cloudify requests one bind makes, counted on the emulator over sequential binds.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oneRecordBatch } from "./lib/journal.js";
import { type BenchRequest, LoadTarget } from "./lib/load.js";
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
import { cpuSeconds, startServers } from "./lib/servers.js";

const CONNECTIONS = 16;
const INSTANCES = 16;
const PHASE_MS = 500;
const ROUNDS = 7;
const COUNTED_BINDS = 32;

export async function benchBind(): Promise<Headline[]> {
  line("## Bind (outputs mode, 201) vs a bare fsync-per-request PUT of the same record size");
  const root = await mkdtemp(join(tmpdir(), "bench-bind-"));
  const stateDir = join(root, "state");
  const servers = await startServers({
    stateDir,
    // The presence check (CFY-GONE) reuses an answer for two poll intervals; 2 s is the default.
    pollIntervalMs: 2000,
    emulatorTimings: QUICK_MANAGER,
    barePutFile: join(root, "bare-put.log"),
  });
  const call = osbClient(servers);
  const headers = { ...osbHeaders(servers), "Content-Type": "application/json" };
  const broker = new LoadTarget(servers.brokerUrl, CONNECTIONS);
  const bare = new LoadTarget(servers.barePutUrl!, CONNECTIONS);
  try {
    const instances = Array.from({ length: INSTANCES }, () => randomUUID());
    for (const [i, id] of instances.entries())
      await startProvision(call, id, LARGE_PLAN, { db_name: `bench${i}` });
    for (const id of instances) await waitProvisioned(call, id);

    const bindBody = JSON.stringify({ service_id: POSTGRES_SERVICE, plan_id: LARGE_PLAN });
    let next = 0;
    const bindRequest = (instanceId: string): BenchRequest => ({
      method: "PUT",
      path: `/v2/service_instances/${instanceId}/service_bindings/${randomUUID()}`,
      headers,
      body: bindBody,
    });
    const onOne = () => bindRequest(instances[0]!);
    const onMany = () => bindRequest(instances[next++ % INSTANCES]!);

    // Warm-up (JIT, connections, the presence answers), then the Cloudify requests of one bind.
    await broker.run({ concurrency: CONNECTIONS, durationMs: 500, expectStatus: 201, request: onMany });
    await servers.stats({ clearRequests: true });
    for (let i = 0; i < COUNTED_BINDS; i++) await broker.send(onMany(), 201);
    const cloudifyPerBind = (await servers.stats()).cloudifyRequests / COUNTED_BINDS;
    line(
      `Cloudify requests per bind of an instance already bound in its revision: ${cloudifyPerBind.toFixed(2)} (${COUNTED_BINDS} sequential binds after the warm-up)`,
    );

    const record = (await oneRecordBatch(stateDir, "bindings")).toString("latin1");
    const bareRequest = (): BenchRequest => ({ method: "PUT", path: "/", headers: {}, body: record });
    line(
      `binding journal record ${fixed(record.length)} bytes; ${CONNECTIONS} clients, ${ROUNDS} rounds × ${PHASE_MS} ms per phase`,
    );
    await bare.run({ concurrency: CONNECTIONS, durationMs: 300, expectStatus: 201, request: bareRequest });

    const cpuPerBind: number[] = [];
    const binds = (request: () => BenchRequest) => async () => {
      const cpuBefore = await cpuSeconds(servers.pid);
      const result = await broker.run({
        concurrency: CONNECTIONS,
        durationMs: PHASE_MS,
        expectStatus: 201,
        request,
      });
      const cpuAfter = await cpuSeconds(servers.pid);
      if (cpuBefore !== undefined && cpuAfter !== undefined)
        cpuPerBind.push(((cpuAfter - cpuBefore) * 1000) / result.ops);
      return result.opsPerSecond;
    };
    const rps = await rotate(ROUNDS, {
      one: binds(onOne),
      many: binds(onMany),
      bare: async () =>
        (
          await bare.run({
            concurrency: CONNECTIONS,
            durationMs: PHASE_MS,
            expectStatus: 201,
            request: bareRequest,
          })
        ).opsPerSecond,
    });
    const oneVsBare = ratios(rps.one, rps.bare);
    const manyVsBare = ratios(rps.many, rps.bare);
    line(
      `median req/s (informative only): bind on 1 instance ${fixed(median(rps.one))}, on ${INSTANCES} instances ${fixed(median(rps.many))}, bare PUT + fdatasync ${fixed(median(rps.bare))}`,
    );
    line(`bind on 1 instance / bare durable PUT:           ${ratioWithSpread(oneVsBare)}`);
    line(`bind on ${INSTANCES} instances / bare durable PUT:          ${ratioWithSpread(manyVsBare)}`);
    if (cpuPerBind.length)
      line(
        `broker process CPU per bind (informative only, emulator included): ${fixed(median(cpuPerBind), 2)} ms`,
      );
    line();
    return [
      {
        suite: "bind",
        what: "bind (outputs) req/s on 1 instance / bare fsync-per-request PUT",
        ratio: median(oneVsBare),
        note: "binds on one instance commit one at a time",
      },
      {
        suite: "bind",
        what: `bind (outputs) req/s on ${INSTANCES} instances / bare fsync-per-request PUT`,
        ratio: median(manyVsBare),
        note: `bar >= 0.25×; ${cloudifyPerBind.toFixed(2)} Cloudify requests per bind`,
      },
    ];
  } finally {
    await broker.close();
    await bare.close();
    await servers.stop();
    await rm(root, { recursive: true, force: true });
  }
}
