/**
 * The state database goes away for 30 s (BROKER_TEST_DB_CUT_SECONDS overrides it) behind a real
 * TCP proxy between three replicas and PostgreSQL: every open connection is reset and new ones
 * are refused, then a second, shorter phase blackholes them (connections hang unanswered: a
 * partition). Meanwhile mutations get 503 + Retry-After with an OSB body that says what is wrong,
 * /readyz names the database, the catalog and cached fetches still answer; afterwards nothing
 * acknowledged is lost and the provisions that were running finish with one install each.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { bindBody, bindingPath, waitForBinding } from "./fixtures/bindings-helpers.js";
import type { OsbResponse } from "./support/osb-client.js";
import { createTestDatabase, type TestDatabase } from "./support/postgres.js";
import {
  assertFreshBuild,
  kill9,
  type Replica,
  slowInstallCatalogue,
  startReplica,
  until,
} from "./support/replicas.js";
import {
  ASYNC,
  brokerEnv,
  deploymentPath,
  FAST_TIMINGS,
  instancePath,
  newId,
  PG,
  provisionBody,
  waitForInstanceOperation,
} from "./support/stack.js";
import { TcpProxy } from "./support/tcp-proxy.js";

const CUT_SECONDS = Number(process.env.BROKER_TEST_DB_CUT_SECONDS ?? 30);
const BLACKHOLE_SECONDS = Math.min(CUT_SECONDS, 12);

let db: TestDatabase;
let proxy: TcpProxy;
let emulator: EmulatorHandle;
let work: string;
const children = new Set<ChildProcess>();
let replicas: Replica[] = [];

beforeAll(async () => {
  assertFreshBuild();
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  // Installs run 4 s, so provisions accepted just before the cut are still running in it.
  emulator = await startEmulator({
    blueprints: await slowInstallCatalogue(4000),
    timings: { ...FAST_TIMINGS, scale: 1 },
    logger: silentLogger,
  });
  work = await mkdtemp(join(tmpdir(), "osb-db-cut-"));
  const env = {
    ...brokerEnv(emulator.url, join(work, "unused-state-dir")),
    BROKER_STATE_BACKEND: "postgres",
    BROKER_STATE_URL: proxy.route(db.url),
    BROKER_STATE_SCHEMA: "cfy_broker",
    BROKER_LEASE_SECONDS: "2",
    BROKER_POLL_INTERVAL_MS: "50",
  };
  replicas = await Promise.all([0, 1, 2].map(() => startReplica(env, children)));
}, 180_000);

afterAll(async () => {
  for (const proc of [...children]) await kill9(proc, children);
  await proxy?.close();
  await emulator?.close();
  await db?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

const executions = (id: string, workflowId: string) =>
  emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === workflowId);

const probe = async (r: Replica, path: string) => {
  const response = await fetch(`${r.url}${path}`).catch(async (error) => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    throw new Error(
      `${path} failed (${error}); replica exit ${r.proc.exitCode ?? r.proc.signalCode}: ${r.stderr().slice(-3000)}`,
    );
  });
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
};

interface Tally {
  refused: number;
  slowestRefusalMs: number;
  reads: number;
}

/** One round of requests during an outage, on every replica: what must be refused, what must answer. */
async function duringOutage(tally: Tally, provisioned: string, running: string, bound: [string, string]) {
  await Promise.all(
    replicas.map(async (r) => {
      const refusals: Array<() => Promise<OsbResponse>> = [
        () => r.osb.put(instancePath(newId()), provisionBody(), ASYNC),
        () => r.osb.patch(instancePath(provisioned), { service_id: PG.service, plan_id: PG.large }, ASYNC),
        () => r.osb.put(bindingPath(provisioned, newId()), bindBody(PG.small), ASYNC),
        () =>
          r.osb.delete(instancePath(provisioned), {
            query: { accepts_incomplete: "true", service_id: PG.service, plan_id: PG.small },
          }),
      ];
      for (const send of refusals) {
        const started = Date.now();
        const answer = await send();
        tally.slowestRefusalMs = Math.max(tally.slowestRefusalMs, Date.now() - started);
        expect(answer.status, JSON.stringify(answer.body)).toBe(503);
        expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(answer.body.error).toBe("ServiceUnavailable");
        expect(answer.body.description).toMatch(/state database cannot be reached.*Retry later/);
        expect(answer.body.description).not.toMatch(/127\.0\.0\.1|ECONN|:\d{4,5}/);
        tally.refused++;
      }
      // Reads of what the replica holds: the catalog, a provisioned instance, a binding, and the
      // state of an operation in progress (from the cache).
      expect((await r.osb.get("/v2/catalog")).status).toBe(200);
      const fetched = await r.osb.get(instancePath(provisioned));
      expect(fetched.status).toBe(200);
      expect(fetched.body.plan_id).toBe(PG.small);
      expect((await r.osb.get(bindingPath(...bound))).status).toBe(200);
      const last = await r.osb.get(`${instancePath(running)}/last_operation`);
      expect(last.status).toBe(200);
      tally.reads += 4;

      const ready = await probe(r, "/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body.checks.state).toMatch(/state database unreachable/);
      expect(ready.body.checks.database).toMatch(/postgres not writable/);
      // Liveness stays up: restarting every replica cannot bring a database back.
      expect((await probe(r, "/livez")).status).toBe(200);
    }),
  );
}

describe(`the state database cut for ${CUT_SECONDS} s behind a TCP proxy`, () => {
  it("503 with Retry-After for mutations, cached reads, readiness names the database; nothing lost after", async () => {
    // Acknowledged before the cut: instances provisioned, a binding, and provisions in flight.
    const provisioned = [newId(), newId()];
    await Promise.all(
      provisioned.map(async (id, i) => {
        expect((await replicas[i]!.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
        expect((await waitForInstanceOperation(replicas[i]!.osb, id, 30_000)).body.state).toBe("succeeded");
      }),
    );
    const bound: [string, string] = [provisioned[0]!, newId()];
    const bind = await replicas[2]!.osb.put(bindingPath(...bound), bindBody(PG.small), ASYNC);
    expect([201, 202]).toContain(bind.status);
    if (bind.status === 202)
      expect((await waitForBinding(replicas[0]!.osb, ...bound)).body.state).toBe("succeeded");
    const running = [newId(), newId(), newId()];
    await Promise.all(
      running.map(async (id, i) =>
        expect((await replicas[i]!.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202),
      ),
    );
    await until("every install runs", () => running.every((id) => executions(id, "install").length === 1));

    const tally: Tally = { refused: 0, slowestRefusalMs: 0, reads: 0 };
    const outage = async (seconds: number) => {
      await until(
        "every replica reports the database unreachable",
        async () =>
          (await Promise.all(replicas.map((r) => probe(r, "/readyz")))).every((p) => p.status === 503),
        // A partition is noticed when a catch-up gets no answer within 10 s (the store's limit).
        30_000,
      );
      const end = Date.now() + seconds * 1000;
      while (Date.now() < end) {
        await duringOutage(tally, provisioned[1]!, running[0]!, bound);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };

    // Phase 1: connections reset, new ones refused.
    const cutAt = Date.now();
    await proxy.refuse();
    await outage(CUT_SECONDS - (Date.now() - cutAt) / 1000);
    // The installs finished on the manager while the broker could record nothing.
    expect(running.every((id) => executions(id, "install")[0]?.status === "terminated")).toBe(true);
    await proxy.restore();
    await until(
      "every replica is ready again",
      async () =>
        (await Promise.all(replicas.map((r) => probe(r, "/readyz")))).every((p) => p.status === 200),
      30_000,
    );

    // Phase 2: a partition (connections hang); refusals must still come fast, not after timeouts.
    const partitionedAt = Date.now();
    proxy.blackhole();
    await outage(BLACKHOLE_SECONDS - (Date.now() - partitionedAt) / 1000);
    await proxy.restore();
    await until(
      "every replica is ready again after the partition",
      async () =>
        (await Promise.all(replicas.map((r) => probe(r, "/readyz")))).every((p) => p.status === 200),
      30_000,
    );
    console.log(
      `db cut: ${CUT_SECONDS} s refused + ${BLACKHOLE_SECONDS} s blackholed; ${tally.refused} mutations refused with 503 (slowest ${tally.slowestRefusalMs} ms), ${tally.reads} cached reads answered, ${proxy.reset} connections reset`,
    );
    expect(tally.slowestRefusalMs).toBeLessThan(10_000);

    // Nothing acknowledged is lost; the provisions in flight finished with one install each.
    for (const id of running) {
      const last = await waitForInstanceOperation(replicas[1]!.osb, id, 60_000);
      expect(last.body.state, JSON.stringify(last.body)).toBe("succeeded");
      expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
      expect(executions(id, "install")).toHaveLength(1);
    }
    for (const r of replicas) {
      for (const id of [...provisioned, ...running])
        expect((await r.osb.get(instancePath(id))).status).toBe(200);
      expect((await r.osb.get(bindingPath(...bound))).status).toBe(200);
    }
    // None of the refused mutations left a trace: the refused update did not change the plan,
    // the refused deprovision did not start an uninstall.
    expect((await replicas[0]!.osb.get(instancePath(provisioned[1]!))).body.plan_id).toBe(PG.small);
    expect(executions(provisioned[1]!, "uninstall")).toHaveLength(0);
    // And the broker takes work again.
    const after = newId();
    expect((await replicas[2]!.osb.put(instancePath(after), provisionBody(), ASYNC)).status).toBe(202);
    expect((await waitForInstanceOperation(replicas[0]!.osb, after, 30_000)).body.state).toBe("succeeded");
    for (const r of replicas) expect(r.proc.exitCode, r.stderr().slice(-3000)).toBeNull();
  }, 240_000);
});
