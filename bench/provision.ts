/**
 * Provision acceptance: `PUT /v2/service_instances/:id?accepts_incomplete=true` answered 202.
 * The broker authenticates, validates the body and parameters (JSON Schema), renders the plan's
 * inputs, and answers only after the new instance record is appended to the journal and
 * fdatasynced. Baseline: the bare durable write, a FileHandle append + fdatasync of a record of
 * the same size in the same directory (same filesystem and disk), no HTTP, no logic.
 *   - sequential: one provision and one append+fdatasync alternated, many pairs; the latency
 *     ratio says how many bare durable writes one provision costs end to end;
 *   - 16 concurrent clients against 16 concurrent appenders (time phases, interleaved rounds).
 *     Concurrent fdatasyncs on one file are coalesced by the kernel, so the baseline's
 *     throughput is what the disk can absorb; the broker's ratio to it says whether fsync or
 *     CPU per request bounds it. The broker's own grouping shows as provisions per fdatasync.
 * This measures acceptance: what the platform waits for. After the 202 the operation engine
 * starts the deployment in Cloudify in the background; here the emulator holds those calls
 * (a latency fault on PUT /deployments longer than the suite) so that the background steps,
 * whose cost belongs to the emulated manager as much as to the broker, neither add CPU nor
 * commits to the rounds. Every fdatasynced batch in the journal is then a provision's.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lastBatchSeq, oneRecordBatch } from "./lib/journal.js";
import { LoadTarget, runLoops } from "./lib/load.js";
import {
  fixed,
  type Headline,
  line,
  median,
  paired,
  pairedSummary,
  ratios,
  ratioWithSpread,
  rotate,
} from "./lib/measure.js";
import { osbHeaders, provisionBody } from "./lib/osb-client.js";
import { cpuSeconds, startServers } from "./lib/servers.js";

const CONCURRENCY = 16;
const PAIRS = 400;
const PHASE_MS = 500;
const ROUNDS = 7;

export async function benchProvision(): Promise<Headline[]> {
  line("## Provision acceptance (202, durable) vs append + fdatasync of the same record size");
  const root = await mkdtemp(join(tmpdir(), "bench-provision-"));
  const stateDir = join(root, "state");
  const servers = await startServers({
    stateDir,
    pollIntervalMs: 60_000,
    // Client timeout in broker.yaml is 30 s; the suite takes about 20 s.
    emulatorFaults: [{ type: "latency", ms: 600_000, method: "PUT", path: "/api/v3.1/deployments" }],
  });
  const target = new LoadTarget(servers.brokerUrl, CONCURRENCY);
  const headers = { ...osbHeaders(servers), "Content-Type": "application/json" };
  const body = provisionBody();
  const provision = (concurrency: number, durationMs = PHASE_MS) =>
    target.run({
      concurrency,
      durationMs,
      expectStatus: 202,
      request: () => ({
        method: "PUT",
        path: `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`,
        headers,
        body,
      }),
    });

  const baselineFile = await open(join(root, "baseline.log"), "a", 0o600);
  try {
    // Warm-up (JIT, connections), then the exact size of the journal record one provision appends.
    const warm = (await provision(CONCURRENCY, 1500)).ops + (await provision(1, 500)).ops;
    const record = await oneRecordBatch(stateDir, "instances");
    line(`provision journal record ${fixed(record.length)} bytes (after ${warm} warm-up provisions)`);
    const appendOnce = async () => {
      await baselineFile.appendFile(record);
      await baselineFile.datasync();
    };
    const provisionOnce = () =>
      target.send(
        {
          method: "PUT",
          path: `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`,
          headers,
          body,
        },
        202,
      );
    const appendConcurrent = () =>
      runLoops({ concurrency: CONCURRENCY, durationMs: PHASE_MS, op: appendOnce });

    const before = await lastBatchSeq(stateDir);
    const sequential = await paired(PAIRS, appendOnce, provisionOnce);
    const afterSequential = await lastBatchSeq(stateDir);
    line(
      `sequential, ${PAIRS} alternated pairs: median ms (informative only) append+fdatasync ${fixed(median(sequential.baseline), 2)}, provision ${fixed(median(sequential.subject), 2)}`,
    );
    line(`  provision latency / append+fdatasync: ${pairedSummary(sequential)}`);

    line(`concurrent, ${CONCURRENCY} clients, ${ROUNDS} rounds × ${PHASE_MS} ms per phase:`);
    let provisioned = 0;
    const brokerCpu: number[] = [];
    const cpuPerProvision: number[] = [];
    const concurrent = await rotate(ROUNDS, {
      baseline: async () => (await appendConcurrent()).opsPerSecond,
      broker: async () => {
        const cpuBefore = await cpuSeconds(servers.pid);
        const result = await provision(CONCURRENCY);
        const cpuAfter = await cpuSeconds(servers.pid);
        if (cpuBefore !== undefined && cpuAfter !== undefined) {
          brokerCpu.push((cpuAfter - cpuBefore) / (result.elapsedMs / 1000));
          cpuPerProvision.push(((cpuAfter - cpuBefore) * 1000) / result.ops);
        }
        provisioned += result.ops;
        return result.opsPerSecond;
      },
    });
    const after = await lastBatchSeq(stateDir);
    const concThroughput = ratios(concurrent.broker, concurrent.baseline);
    line(
      `  median ops/s (informative only): append+fdatasync ${fixed(median(concurrent.baseline))}, provision ${fixed(median(concurrent.broker))}`,
    );
    line(`  provision throughput / append+fdatasync: ${ratioWithSpread(concThroughput)}`);
    if (brokerCpu.length)
      line(
        `  broker process CPU while provisioning (informative only): ${Math.round(median(brokerCpu) * 100)}% of one core, ${fixed(median(cpuPerProvision), 2)} ms per provision (emulator included, idle here)`,
      );
    const commitsPerSync = provisioned / (after - afterSequential);
    line(
      `  broker journal: ${fixed(provisioned)} provisions in ${fixed(after - afterSequential)} fdatasynced batches, ${commitsPerSync.toFixed(1)} per fsync (sequential: ${fixed(PAIRS)} in ${fixed(afterSequential - before)})`,
    );
    line();
    return [
      {
        suite: "provision",
        what: "provision 202 latency / append+fdatasync (sequential)",
        ratio: sequential.ratio,
        note: "HTTP + validation + render + durable commit, in fsyncs",
      },
      {
        suite: "provision",
        what: `provision throughput / append+fdatasync (${CONCURRENCY} concurrent)`,
        ratio: median(concThroughput),
        note: "<1: per-request CPU, not the disk, is the limit",
      },
      {
        suite: "provision",
        what: `provisions per fdatasync (${CONCURRENCY} concurrent)`,
        ratio: commitsPerSync,
        note: "group commit (1 when sequential)",
      },
    ];
  } finally {
    await baselineFile.close();
    await target.close();
    await servers.stop();
    await rm(root, { recursive: true, force: true });
  }
}
