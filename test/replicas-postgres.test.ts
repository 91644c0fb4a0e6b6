/**
 * Several broker replicas (real `cfy-broker serve` processes) on one PostgreSQL database behave
 * as one broker: requests spread round robin, the same requests sent to all of them at once,
 * kill -9 of the replica driving an operation. The emulator runs in this process, so the test
 * counts exactly what Cloudify was asked to do.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { packageRoot } from "../src/util/package-root.js";
import { bindBody, bindingPath, unbindQuery, waitForBinding } from "./fixtures/bindings-helpers.js";
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

let db: TestDatabase;
let emulator: EmulatorHandle;
let work: string;
let env: Record<string, string>;
const children = new Set<ChildProcess>();
let replicas: Replica[] = [];

beforeAll(async () => {
  assertFreshBuild();
  db = await createTestDatabase();
  // Installs long enough to be caught running (1.5 s), as in the single-process crash tests.
  emulator = await startEmulator({
    blueprints: await slowInstallCatalogue(1500),
    timings: { ...FAST_TIMINGS, scale: 1 },
    logger: silentLogger,
  });
  work = await mkdtemp(join(tmpdir(), "osb-replicas-"));
  env = {
    ...brokerEnv(emulator.url, join(work, "unused-state-dir")),
    BROKER_STATE_BACKEND: "postgres",
    BROKER_STATE_URL: db.url,
    BROKER_STATE_SCHEMA: "cfy_broker",
    BROKER_LEASE_SECONDS: "2",
    BROKER_POLL_INTERVAL_MS: "50",
  };
  replicas = await Promise.all([0, 1, 2].map(() => startReplica(env, children)));
}, 180_000);

afterEach(() => {
  emulator.faults.clear();
  // A replica that died on its own (not killed by a test) is a failure, with its last words.
  for (const r of replicas) {
    if (children.has(r.proc)) expect(r.proc.exitCode, r.stderr().slice(-3000)).toBeNull();
  }
});

afterAll(async () => {
  for (const proc of [...children]) await kill9(proc, children);
  await emulator?.close();
  await db?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

const executions = (id: string, workflowId: string) =>
  emulator.state.executions(`osb-${id}`).filter((e) => e.workflow_id === workflowId);

describe("three replicas on one database", () => {
  it("round robin: each step of each instance's life on another replica, as with one broker", async () => {
    const ids = Array.from({ length: 9 }, () => newId());
    const on = (i: number) => replicas[i % replicas.length]!.osb;
    await Promise.all(
      ids.map(async (id, i) => {
        expect((await on(i).put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
        // The platform polls another replica than the one that accepted: it knows the operation.
        const last = await waitForInstanceOperation(on(i + 1), id, 30_000);
        expect(last.body.state).toBe("succeeded");
        expect((await on(i + 2).get(instancePath(id))).status).toBe(200);
        // Identical re-send on a third replica: 200, not a second provision.
        expect((await on(i + 2).put(instancePath(id), provisionBody(), ASYNC)).status).toBe(200);
        expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
        expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);

        const bid = newId();
        const bound = await on(i + 1).put(bindingPath(id, bid), bindBody(PG.small), ASYNC);
        expect([201, 202]).toContain(bound.status);
        if (bound.status === 202)
          expect((await waitForBinding(on(i + 2), id, bid)).body.state).toBe("succeeded");
        expect((await on(i).get(bindingPath(id, bid))).status).toBe(200);
        const unbound = await on(i + 2).delete(bindingPath(id, bid), unbindQuery(PG.small));
        expect([200, 202]).toContain(unbound.status);
        if (unbound.status === 202) await waitForBinding(on(i), id, bid);

        const gone = await on(i + 1).delete(instancePath(id), {
          query: { accepts_incomplete: "true", service_id: PG.service, plan_id: PG.small },
        });
        expect(gone.status).toBe(202);
        expect((await waitForInstanceOperation(on(i + 2), id, 30_000)).body.state).toBe("succeeded");
      }),
    );
    // Deprovisioned once each: the deployments are gone.
    for (const id of ids) expect(emulator.state.deployment(`osb-${id}`)).toBeUndefined();
  }, 180_000);

  it("all at once on the same ids: one operation and one deployment; different requests 409, busy 422", async () => {
    const ids = Array.from({ length: 6 }, () => newId());
    await Promise.all(
      ids.map(async (id) => {
        // The same provision, twice on each replica, at the same moment.
        const answers = await Promise.all(
          [...replicas, ...replicas].map((r) => r.osb.put(instancePath(id), provisionBody(), ASYNC)),
        );
        expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202, 202]);
        expect(new Set(answers.map((a) => a.body.operation)).size).toBe(1);
      }),
    );
    // Busy: an update sent to another replica while the provision runs (installs take 1.5 s).
    const busy = await replicas[2]!.osb.patch(
      instancePath(ids[0]!),
      { service_id: PG.service, plan_id: PG.large },
      ASYNC,
    );
    expect(busy.status).toBe(422);
    expect(busy.body.error).toBe("ConcurrencyError");

    // Different attributes for one new id, sent to each replica at once: exactly one wins.
    const contested = newId();
    const bodies = [0, 1, 2].map((i) => provisionBody(PG.small, { space_guid: `space-${i}` }));
    const raced = await Promise.all(
      replicas.map((r, i) => r.osb.put(instancePath(contested), bodies[i], ASYNC)),
    );
    const statuses = raced.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses).toEqual([202, 409, 409]);

    for (const id of [...ids, contested]) {
      expect((await waitForInstanceOperation(replicas[1]!.osb, id, 30_000)).body.state).toBe("succeeded");
      expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
      expect(executions(id, "create_deployment_environment")).toHaveLength(1);
      expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);
    }
  }, 180_000);

  it("kill -9 of the replica driving a provision: another takes it over after the lease expires; one install", async () => {
    const id = newId();
    const driver = replicas[0]!;
    expect((await driver.osb.put(instancePath(id), provisionBody(), ASYNC)).status).toBe(202);
    await until("the install runs", () => executions(id, "install")[0]?.status === "started");
    await kill9(driver.proc, children);
    const survivor = replicas[1]!;
    const last = await waitForInstanceOperation(survivor.osb, id, 60_000);
    expect(last.body.state).toBe("succeeded");
    expect(emulator.requests.count({ method: "PUT", path: deploymentPath(id) })).toBe(1);
    expect(executions(id, "create_deployment_environment")).toHaveLength(1);
    expect(executions(id, "install").map((e) => e.status)).toEqual(["terminated"]);
    // The replica that died is replaced; the new one serves the finished instance.
    replicas[0] = await startReplica(env, children);
    expect((await replicas[0].osb.get(instancePath(id))).status).toBe(200);
  }, 120_000);

  it("readiness names the database and reports replicas running a different broker.yaml", async () => {
    const health = async (r: Replica) =>
      (await (await fetch(`${r.url}/healthz`)).json()) as { checks: Record<string, string> };
    await until("every replica sees three live replicas on the same config", async () => {
      const all = await Promise.all(replicas.map(health));
      return all.every((h) => h.checks.replicas === "3 live, same config");
    });
    expect((await health(replicas[0]!)).checks.database).toBe("postgres reachable");

    const changed = join(work, "broker-changed.yaml");
    const text = await readFile(join(packageRoot(), "broker.yaml"), "utf8");
    await writeFile(changed, text.replace(/description: /, "description: Changed. "));
    const odd = await startReplica(env, children, changed);
    try {
      await until("drift is reported", async () =>
        /4 live, config fingerprints differ/.test((await health(replicas[0]!)).checks.replicas ?? ""),
      );
      // Each replica refreshes its view of the others on its own renewal timer: wait for this one's.
      await until("another replica's metrics show both fingerprints", async () => {
        const metrics = await (await fetch(`${replicas[1]!.url}/metrics`)).text();
        return metrics.match(/^osb_broker_replicas\{/gm)?.length === 2;
      });
    } finally {
      await kill9(odd.proc, children);
    }
  }, 120_000);
});
