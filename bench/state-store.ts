/**
 * State store (FileStateStore, the real file backend with fdatasync):
 *   1. cost of one commit with 100,000 existing records / with 100 (issue 14): the journal design promises
 *      that a write costs O(size of the change), not O(state); expected ≈1. Both stores are
 *      preloaded and compacted (snapshot + short journal, like a broker that has run a while),
 *      then take single-record commits (an instance-sized record, ~1.7 KB), alternating one
 *      commit on each store, and the median latencies are compared. No compaction falls inside this part (it would, amortised, after
 *      about 2× the state size in journal bytes; it runs in the background without blocking
 *      commits);
 *   2. group commit: throughput of 64 concurrent committers / one sequential committer on the
 *      same store, with the commits-per-fdatasync the store reports.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Change, FileStateStore } from "../src/state/index.js";
import { runLoops } from "./lib/load.js";
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

const SMALL = 100;
const LARGE = 100_000;
const PRELOAD_CHUNK = 500;
const PAIRS = 1200;
const PHASE_MS = 300;
const ROUNDS = 9;
const CONCURRENCY = 64;

/** A record shaped and sized like an InstanceRecord in the middle of a provision. */
export function instanceLike(i: number, revision: number): Record<string, unknown> {
  const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
  return {
    id,
    status: "provisioning",
    serviceId: "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11",
    planId: "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01",
    blueprintId: "postgresql",
    deploymentId: `osb-${id}`,
    organizationGuid: "org-guid-1",
    spaceGuid: "space-guid-1",
    context: { platform: "cloudfoundry", organization_guid: "org-guid-1", space_guid: "space-guid-1" },
    parameters: { db_name: "orders", backup_retention_days: 14 },
    inputs: {
      instance_name: `orders-${i}`,
      db_name: "orders",
      pg_version: "16",
      cpu: 1,
      memory_gb: 2,
      storage_gb: 10,
      backup_retention_days: 14,
      extensions: [],
      owner_labels: { "managed-by": "osb" },
    },
    labels: [
      { "osb-broker": "cloudify-osb-broker" },
      { "osb-instance-id": id },
      { "osb-service-id": "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11" },
      { "osb-plan-id": "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01" },
      { "osb-platform": "cloudfoundry" },
    ],
    maintenanceVersion: "1.0.0",
    dashboardUrl: `https://dashboard.example.com/postgresql/${id}`,
    provisionFingerprint: "9f2c0a4b7e1d3c5a8b6f0e2d4c6a8b0f1e3d5c7a9b1f3e5d7c9a1b3f5e7d9c1a",
    executionIds: ["3a1f0c2e-5b7d-4e9f-8a6c-1d3e5f7a9b0c"],
    operation: {
      id: `provision-${id}`,
      type: "provision",
      state: "in progress",
      step: "wait_environment",
      executionId: "3a1f0c2e-5b7d-4e9f-8a6c-1d3e5f7a9b0c",
      attempts: 0,
      startedAt: "2026-11-23T10:00:00.000Z",
      updatedAt: new Date(1_790_000_000_000 + revision).toISOString(),
      deadline: "2026-11-23T11:00:00.000Z",
      description: "Creating the deployment environment.",
    },
    createdAt: "2026-11-23T10:00:00.000Z",
  };
}

const put = (i: number, revision: number): Change => ({
  type: "put",
  collection: "instances",
  id: `instance-${i}`,
  value: instanceLike(i, revision),
});

async function preloaded(dir: string, records: number): Promise<FileStateStore> {
  const store = new FileStateStore({ dir });
  await store.open();
  for (let start = 0; start < records; start += PRELOAD_CHUNK) {
    const changes: Change[] = [];
    for (let i = start; i < Math.min(records, start + PRELOAD_CHUNK); i++) changes.push(put(i, 0));
    await store.commit(changes);
  }
  await store.compact();
  return store;
}

export async function benchStateStore(): Promise<Headline[]> {
  line(`## State store: commit cost with ${fixed(LARGE)} vs ${fixed(SMALL)} records; group commit`);
  const root = await mkdtemp(join(tmpdir(), "bench-state-"));
  const stores: FileStateStore[] = [];
  try {
    const small = await preloaded(join(root, "small"), SMALL);
    stores.push(small);
    const large = await preloaded(join(root, "large"), LARGE);
    stores.push(large);
    line(
      `snapshots: ${fixed(small.stats().snapshotBytes)} bytes (${SMALL} records), ${fixed(large.stats().snapshotBytes)} bytes (${fixed(LARGE)} records)`,
    );

    let revision = 0;
    const commitLoop = (store: FileStateStore, records: number, concurrency: number) =>
      runLoops({
        concurrency,
        durationMs: PHASE_MS,
        op: () => {
          revision++;
          return store.commit([put(revision % records, revision)]);
        },
      });
    // Warm-up: JIT and page cache for both.
    await commitLoop(small, SMALL, 1);
    await commitLoop(large, LARGE, 1);

    const compactionsBefore = small.stats().compactions + large.stats().compactions;
    const growth = await paired(
      PAIRS,
      () => small.commit([put(++revision % SMALL, revision)]),
      () => large.commit([put(++revision % LARGE, revision)]),
    );
    const compactionsDuring = small.stats().compactions + large.stats().compactions - compactionsBefore;
    line(
      `median ms per commit (informative only): ${fixed(median(growth.baseline), 3)} with ${SMALL} records, ${fixed(median(growth.subject), 3)} with ${fixed(LARGE)}; ${PAIRS} alternated pairs, ${compactionsDuring} compaction(s) meanwhile`,
    );
    line(`commit latency, ${fixed(LARGE)} records / ${SMALL} records: ${pairedSummary(growth)}`);

    line(`group commit: ${ROUNDS} rounds × ${PHASE_MS} ms per phase on the ${fixed(LARGE)}-record store`);
    const before = large.stats();
    const group = await rotate(ROUNDS, {
      sequential: async () => (await commitLoop(large, LARGE, 1)).opsPerSecond,
      concurrent: async () => (await commitLoop(large, LARGE, CONCURRENCY)).opsPerSecond,
    });
    const after = large.stats();
    const gain = ratios(group.concurrent, group.sequential);
    line(
      `median commits/s (informative only): ${fixed(median(group.sequential))} sequential, ${fixed(median(group.concurrent))} with ${CONCURRENCY} concurrent committers`,
    );
    line(`throughput, ${CONCURRENCY} concurrent / sequential: ${ratioWithSpread(gain)}`);
    line(
      `during those rounds: ${fixed(after.commits - before.commits)} commits in ${fixed(after.batches - before.batches)} fdatasynced batches, ${after.compactions - before.compactions} compaction(s) of the ${fixed(LARGE)}-record state in the background`,
    );
    line();
    return [
      {
        suite: "state",
        what: `commit cost, ${fixed(LARGE)} / ${SMALL} existing records`,
        ratio: growth.ratio,
        note: "≈1: a write does not grow with the state",
      },
      {
        suite: "state",
        what: `commit throughput, ${CONCURRENCY} concurrent / sequential`,
        ratio: median(gain),
        note: "group commit: one fdatasync serves many commits",
      },
    ];
  } finally {
    for (const store of stores) await store.close().catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}
