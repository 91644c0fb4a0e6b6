/**
 * PostgreSQL state store (several replicas), against baselines measured in the same run:
 *   1. provision accepts per second (202, durable) with 16 and 64 clients: one replica and three
 *      replicas on one database (clients spread evenly), each / the file store's single broker
 *      (baseline), in interleaved rounds. The emulator holds every PUT /deployments (a latency
 *      fault longer than the suite), so background engine work adds neither CPU nor commits.
 *   2. the cost of one commit at 100,000 instances / at 100 (paired, alternated), and one
 *      PostgreSQL commit / one file-store commit at 100,000 (paired);
 *   3. store open (startup) at 100,000 instances: the paged load (the store as shipped) / the
 *      same snapshot read with one query (how the store loaded before), and / the file store's
 *      open of the same records (snapshot + journal).
 * Needs PostgreSQL at 127.0.0.1:5432 with trust auth (TEST_PG_ADMIN_URL overrides); creates and
 * drops its own database.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { type Change, FileStateStore, PostgresStateStore } from "../src/state/index.js";
import { LoadTarget } from "./lib/load.js";
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
import { startServeProcess } from "./lib/serve-process.js";

const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const LARGE = Number(process.env.BENCH_PG_INSTANCES ?? 100_000);
const SMALL = 100;
const PRELOAD_CHUNK = 2000;
const COMMIT_PAIRS = 300;
const ROUNDS = 5;
const PHASE_MS = 1000;
const OPEN_ROUNDS = 3;
const USERNAME = "bench";
const PASSWORD = "bench-password";

const SERVICE_ID = "6f1d2a3c-2b7e-4c9a-9d41-5a0f3e8b7c11";
const SMALL_PLAN = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b01";

/** Shaped and sized like an InstanceRecord once provisioned (~1.4 KB of JSON). */
function instanceLike(i: number, revision: number): Record<string, unknown> {
  const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
  return {
    id,
    status: "provisioned",
    serviceId: SERVICE_ID,
    planId: SMALL_PLAN,
    blueprintId: "postgresql",
    deploymentId: `osbh-${id}`,
    context: { platform: "cloudfoundry", organization_guid: "org-guid-1", space_guid: "space-guid-1" },
    parameters: { db_name: "orders", backup_retention_days: 14 },
    inputs: { instance_name: `orders-${i}`, db_name: "orders", pg_version: "16", cpu: 1, memory_gb: 2 },
    labels: [{ "osb-instance-id": id }, { "osb-service-id": SERVICE_ID }, { "osb-plan-id": SMALL_PLAN }],
    dashboardUrl: `https://dashboard.example.com/postgresql/${id}`,
    provisionFingerprint: "9f2c0a4b7e1d3c5a8b6f0e2d4c6a8b0f1e3d5c7a9b1f3e5d7c9a1b3f5e7d9c1a",
    executionIds: ["3a1f0c2e-5b7d-4e9f-8a6c-1d3e5f7a9b0c", "4b2f0c2e-5b7d-4e9f-8a6c-1d3e5f7a9b0d"],
    operation: {
      id: `provision-${id}`,
      type: "provision",
      state: "succeeded",
      step: "succeeded",
      attempts: 0,
      startedAt: "2026-11-23T10:00:00.000Z",
      updatedAt: new Date(1_790_000_000_000 + revision).toISOString(),
      description: "The deployment is installed.",
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

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function preload(store: { commit(changes: Change[]): Promise<void> }, records: number): Promise<void> {
  for (let start = 0; start < records; start += PRELOAD_CHUNK) {
    const changes: Change[] = [];
    for (let i = start; i < Math.min(records, start + PRELOAD_CHUNK); i++) changes.push(put(i, 0));
    await store.commit(changes);
  }
}

/** How the store loaded before it paged: the whole snapshot in one query (the baseline of part 3). */
async function loadInOneQuery(url: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { rows } = await client.query(
      `SELECT collection, id, value, seq::float8 AS seq FROM "${schema}".records WHERE value IS NOT NULL`,
    );
    await client.query("COMMIT");
    // Apply as the store does: frozen values in a map (the store's deepFreeze is recursive).
    const memory = new Map<string, unknown>();
    const freeze = (v: unknown): unknown => {
      if (v && typeof v === "object") {
        for (const child of Object.values(v)) freeze(child);
        Object.freeze(v);
      }
      return v;
    };
    for (const row of rows) memory.set(`${row.collection}\u0000${row.id}`, freeze(row.value));
    return memory.size;
  } finally {
    await client.end();
  }
}

/** Closed-loop provisions spread evenly over `targets`; accepts per second of all of them. */
async function accepts(targets: LoadTarget[], clients: number): Promise<number> {
  const headers = {
    ...osbHeaders({ username: USERNAME, password: PASSWORD }),
    "Content-Type": "application/json",
  };
  const body = provisionBody();
  const results = await Promise.all(
    targets.map((target, i) =>
      target.run({
        concurrency: Math.floor(clients / targets.length) + (i < clients % targets.length ? 1 : 0),
        durationMs: PHASE_MS,
        expectStatus: 202,
        request: () => ({
          method: "PUT",
          path: `/v2/service_instances/${randomUUID()}?accepts_incomplete=true`,
          headers,
          body,
        }),
      }),
    ),
  );
  const elapsed = Math.max(...results.map((r) => r.elapsedMs));
  return (results.reduce((sum, r) => sum + r.ops, 0) * 1000) / elapsed;
}

async function benchAccepts(url: string, root: string): Promise<Headline[]> {
  line("accepts: provision 202s per second, file store (one broker) vs PostgreSQL (1 and 3 replicas)");
  const children: ChildProcess[] = [];
  let emulator: EmulatorHandle | undefined;
  const targets: LoadTarget[] = [];
  try {
    emulator = await startEmulator({
      faults: [{ type: "latency", ms: 600_000, method: "PUT", path: "/api/v3.1/deployments" }],
      logger: silentLogger,
    });
    const base = {
      PATH: process.env.PATH ?? "",
      BROKER_USERNAME: USERNAME,
      BROKER_PASSWORD: PASSWORD,
      BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      BROKER_HOST: "127.0.0.1",
      BROKER_POLL_INTERVAL_MS: "60000",
      CLOUDIFY_URL: emulator.url,
      LOG_LEVEL: "silent",
    };
    const pgEnv = (schema: string) => ({
      ...base,
      BROKER_STATE_DIR: join(root, "unused"),
      BROKER_STATE_BACKEND: "postgres",
      BROKER_STATE_URL: url,
      BROKER_STATE_SCHEMA: schema,
    });
    const fileUrl = (
      await startServeProcess({ ...base, BROKER_STATE_DIR: join(root, "file-state") }, children)
    ).url;
    const oneUrl = (await startServeProcess(pgEnv("one"), children)).url;
    const threeUrls = await Promise.all(
      [0, 1, 2].map(async () => (await startServeProcess(pgEnv("three"), children)).url),
    );
    const target = (u: string) => {
      const t = new LoadTarget(u, 64);
      targets.push(t);
      return t;
    };
    const file = [target(fileUrl)];
    const one = [target(oneUrl)];
    const three = threeUrls.map(target);
    const headlines: Headline[] = [];
    for (const clients of [16, 64]) {
      for (const set of [file, one, three]) await accepts(set, clients); // warm-up
      const r = await rotate(ROUNDS, {
        file: () => accepts(file, clients),
        one: () => accepts(one, clients),
        three: () => accepts(three, clients),
      });
      line(
        `  ${clients} clients, ${ROUNDS} rounds × ${PHASE_MS} ms: median accepts/s (informative only) file ${fixed(median(r.file))}, postgres 1 replica ${fixed(median(r.one))}, 3 replicas ${fixed(median(r.three))}`,
      );
      const oneRatio = ratios(r.one, r.file);
      const threeRatio = ratios(r.three, r.file);
      line(`    postgres 1 replica / file: ${ratioWithSpread(oneRatio)}`);
      line(`    postgres 3 replicas / file: ${ratioWithSpread(threeRatio)}`);
      headlines.push(
        {
          suite: "postgres",
          what: `accepts/s, postgres 1 replica / file store (${clients} clients)`,
          ratio: median(oneRatio),
          note: "one transaction per commit vs fdatasync",
        },
        {
          suite: "postgres",
          what: `accepts/s, postgres 3 replicas / file store (${clients} clients)`,
          ratio: median(threeRatio),
          note: "three processes, one database (2 cores here)",
        },
      );
    }
    return headlines;
  } finally {
    for (const t of targets) await t.close().catch(() => {});
    for (const child of children) child.kill("SIGKILL");
    await emulator?.close();
  }
}

export async function benchPostgres(): Promise<Headline[]> {
  line(`## PostgreSQL state store (${fixed(LARGE)} instances for the large cases)`);
  const name = `cfy_bench_${process.pid}_${randomBytes(3).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();
  const root = await mkdtemp(join(tmpdir(), "bench-postgres-"));
  const stores: Array<{ close(): Promise<void> }> = [];
  try {
    const headlines: Headline[] = [];
    headlines.push(...(await benchAccepts(dbUrl, root)));

    // Part 2: commit cost.
    const small = new PostgresStateStore({ url: dbUrl, schema: "small" });
    const large = new PostgresStateStore({ url: dbUrl, schema: "large" });
    const file = new FileStateStore({ dir: join(root, "file-large") });
    for (const s of [small, large, file]) {
      await s.open();
      stores.push(s);
    }
    const preloadStart = performance.now();
    await preload(small, SMALL);
    await preload(large, LARGE);
    await preload(file, LARGE);
    await file.compact();
    line(
      `preloaded ${fixed(LARGE)} instances into PostgreSQL and the file store in ${fixed((performance.now() - preloadStart) / 1000, 1)} s`,
    );
    let revision = 0;
    for (let i = 0; i < 50; i++) {
      await small.commit([put(++revision % SMALL, revision)]);
      await large.commit([put(++revision % LARGE, revision)]);
      await file.commit([put(++revision % LARGE, revision)]);
    }
    const growth = await paired(
      COMMIT_PAIRS,
      () => small.commit([put(++revision % SMALL, revision)]),
      () => large.commit([put(++revision % LARGE, revision)]),
    );
    line(
      `commit: median ms (informative only) ${fixed(median(growth.baseline), 2)} at ${SMALL} instances, ${fixed(median(growth.subject), 2)} at ${fixed(LARGE)}`,
    );
    line(`  commit latency, ${fixed(LARGE)} / ${SMALL} instances: ${pairedSummary(growth)}`);
    const versusFile = await paired(
      COMMIT_PAIRS,
      () => file.commit([put(++revision % LARGE, revision)]),
      () => large.commit([put(++revision % LARGE, revision)]),
    );
    line(
      `  commit latency at ${fixed(LARGE)}, postgres / file (fdatasync) (median ms ${fixed(median(versusFile.subject), 2)} / ${fixed(median(versusFile.baseline), 2)}): ${pairedSummary(versusFile)}`,
    );
    headlines.push(
      {
        suite: "postgres",
        what: `commit cost, ${fixed(LARGE)} / ${SMALL} instances (postgres)`,
        ratio: growth.ratio,
        note: "≈1: a commit does not grow with the state",
      },
      {
        suite: "postgres",
        what: `commit cost at ${fixed(LARGE)}, postgres / file store`,
        ratio: versusFile.ratio,
        note: "one round trip + WAL flush vs append + fdatasync",
      },
    );
    for (const s of stores.splice(0)) await s.close();

    // Part 3: open at LARGE instances.
    const opened = await rotate(OPEN_ROUNDS, {
      paged: async () => {
        const start = performance.now();
        const store = new PostgresStateStore({ url: dbUrl, schema: "large" });
        await store.open();
        const ms = performance.now() - start;
        if (store.list("instances").length !== LARGE) throw new Error("the paged load lost records");
        await store.close();
        return ms;
      },
      oneQuery: async () => {
        const start = performance.now();
        const count = await loadInOneQuery(dbUrl, "large");
        if (count !== LARGE) throw new Error("the one-query load lost records");
        return performance.now() - start;
      },
      file: async () => {
        const start = performance.now();
        const store = new FileStateStore({ dir: join(root, "file-large") });
        await store.open();
        const ms = performance.now() - start;
        await store.close();
        return ms;
      },
    });
    line(
      `open at ${fixed(LARGE)} instances, ${OPEN_ROUNDS} rounds: median s (informative only) postgres paged ${fixed(median(opened.paged) / 1000, 2)}, one query ${fixed(median(opened.oneQuery) / 1000, 2)}, file store ${fixed(median(opened.file) / 1000, 2)}`,
    );
    const pagedVsOne = ratios(opened.paged, opened.oneQuery);
    const pgVsFile = ratios(opened.paged, opened.file);
    line(`  open time, paged / one query: ${ratioWithSpread(pagedVsOne)}`);
    line(`  open time, postgres (paged) / file store: ${ratioWithSpread(pgVsFile)}`);
    line();
    headlines.push(
      {
        suite: "postgres",
        what: `open at ${fixed(LARGE)} instances, paged / one query`,
        ratio: median(pagedVsOne),
        note: "pages of 2,000 rows, the next read while the last is applied",
      },
      {
        suite: "postgres",
        what: `open at ${fixed(LARGE)} instances, postgres / file store`,
        ratio: median(pgVsFile),
        note: "transfer of every record dominates",
      },
    );
    return headlines;
  } finally {
    for (const s of stores) await s.close().catch(() => {});
    await rm(root, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}
