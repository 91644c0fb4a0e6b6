/**
 * Defect 1 (issue 10): a full disk. On a real, small tmpfs: a commit that cannot be written is
 * refused with StateUnavailableError, no half record stays in the journal, health reports it, the
 * store recovers by itself when space returns, and nothing acknowledged is lost. Through the
 * broker: mutating requests answer 503 with Retry-After, /readyz fails while /livez stays ok (a
 * restart would not free the disk), and an operation in flight resumes once space is back.
 */
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileStateStore, StateUnavailableError } from "../../src/state/index.js";
import { scanRecords } from "../../src/state/record.js";
import { capturingLogger } from "../fixtures/state-helpers.js";
import { resultRow } from "../support/lifecycles.js";
import {
  ASYNC,
  instancePath,
  newId,
  provisionBody,
  provisionInstance,
  type Stack,
  startStack,
  waitForInstanceOperation,
} from "../support/stack.js";
import { mountTmpfs, type Tmpfs } from "../support/tmpfs.js";

let volume: Tmpfs | undefined;
let stack: Stack | undefined;
afterEach(async () => {
  await stack?.stop({ keepState: true }).catch(() => {});
  stack = undefined;
  volume?.unmount();
  volume = undefined;
});

async function until(
  test: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function journals(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith("journal-") && n.endsWith(".log"))
    .map((n) => join(dir, n));
}

/** Every journal scans clean to its end: no half-written record kept. */
function expectNoDamage(dir: string): void {
  for (const path of journals(dir)) {
    const buf = readFileSync(path);
    const scan = scanRecords(buf);
    expect(scan.damage, `${path} damaged`).toBeUndefined();
    expect(scan.end).toBe(buf.length);
  }
}

describe("state store on a full disk", () => {
  it("refuses, cuts partial writes, reports health, recovers by itself, loses nothing acknowledged", async () => {
    volume = mountTmpfs(2 * 1024 * 1024);
    const dir = join(volume.dir, "state");
    const { logger, lines } = capturingLogger();
    const store = new FileStateStore({ dir, logger, probeIntervalMs: 25 });
    await store.open();
    const pad = "p".repeat(2000);
    for (let i = 0; i < 20; i++)
      await store.commit([{ type: "put", collection: "acked", id: `a${i}`, value: { i, pad } }]);
    expect(store.health()).toEqual({ writable: true });

    // Leave 16 KiB free, then commit 100 KiB: the write gets partway before ENOSPC.
    const spacer = join(volume.dir, "spacer");
    writeFileSync(spacer, Buffer.alloc(16 * 1024));
    volume.fill();
    unlinkSync(spacer);
    const sizeBefore = journals(dir).map((p) => statSync(p).size);
    const big = { blob: "x".repeat(100 * 1024) };
    const refused = await store
      .commit([{ type: "put", collection: "lost", id: "big", value: big }])
      .catch((e) => e);
    expect(refused).toBeInstanceOf(StateUnavailableError);
    expect((refused as Error).message).toMatch(/no space left/);
    expect(store.health().writable).toBe(false);
    expect(store.health().reason).toMatch(/no space left/);
    // The half-written record is gone again.
    expect(journals(dir).map((p) => statSync(p).size)).toEqual(sizeBefore);
    expectNoDamage(dir);

    // Concurrent commits while full: all refused, none visible.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        store.commit([{ type: "put", collection: "lost", id: `c${i}`, value: big }]),
      ),
    );
    expect(results.every((r) => r.status === "rejected" && r.reason instanceof StateUnavailableError)).toBe(
      true,
    );
    expect(store.list("lost")).toEqual([]);
    expectNoDamage(dir);

    // Space comes back: the probe notices without any commit arriving.
    volume.free();
    await until(() => store.health().writable, "the store to become writable again");
    await store.commit([{ type: "put", collection: "acked", id: "after", value: { ok: true } }]);
    expect(lines().some((l) => String(l.msg).includes("writable again"))).toBe(true);
    await store.close();

    const reopened = new FileStateStore({ dir, logger });
    await reopened.open();
    try {
      const kept = reopened.list("acked").length;
      const row = resultRow(
        "full disk (store)",
        `ENOSPC on a 2 MiB tmpfs: 11 commits refused while full`,
        { acknowledged: 21, completed: kept, lost: 21 - kept, duplicated: 0 },
        "n/a (no HTTP)",
      );
      console.log(`RESULT ${row}`);
      expect(reopened.list("acked")).toHaveLength(21);
      expect(reopened.get("acked", "after")).toEqual({ ok: true });
      expect(reopened.list("lost")).toEqual([]);
    } finally {
      await reopened.close();
    }
    expect(lines().some((l) => String(l.msg).includes("torn"))).toBe(false);
  });
});

describe("broker on a full disk", () => {
  it("answers 503 + Retry-After to changes, fails readiness (not liveness), and resumes in-flight operations", async () => {
    volume = mountTmpfs(8 * 1024 * 1024);
    // Slow installs so the provision below is still in flight when the disk fills.
    stack = await startStack({
      stateDir: join(volume.dir, "state"),
      emulator: {
        timings: {
          pendingMs: 5,
          createEnvMs: 300,
          deleteEnvMs: 20,
          workflowMs: 600,
          cancelMs: 5,
          scale: 0.2,
        },
      },
    });
    const { osb, broker } = stack;
    const ready = newId();
    await provisionInstance(osb, ready);
    const inflight = newId();
    expect((await osb.put(instancePath(inflight), provisionBody(), ASYNC)).status).toBe(202);

    volume.fill();
    // The journal's last page may still have room for a record or two (tmpfs allocates pages):
    // what was acknowledged then must complete later like any other.
    const accepted: string[] = [];
    let refused: Awaited<ReturnType<typeof osb.put>> | undefined;
    for (let i = 0; (refused === undefined || refused.status === 202) && i < 20; i++) {
      const id = newId();
      refused = await osb.put(instancePath(id), provisionBody(), ASYNC);
      if (refused.status === 202) accepted.push(id);
    }
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(refused?.body.description).toMatch(/no space left.*Retry later/);
    expect(refused?.body.description).not.toContain(volume.dir);
    const readiness = await fetch(`${broker.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(await readiness.json()).toMatchObject({
      status: "failing",
      checks: { state: expect.stringMatching(/cannot write: no space left/) },
    });
    // Not a liveness failure: the store recovers by itself, a restart would not free the disk.
    for (const path of ["/livez", "/healthz"]) expect((await fetch(`${broker.url}${path}`)).status).toBe(200);
    // Reads still work, and the operation in flight is still reported as such.
    expect((await osb.get("/v2/catalog")).status).toBe(200);
    expect((await osb.get(`${instancePath(inflight)}/last_operation`)).body.state).toBe("in progress");
    // Let the emulator finish its part while the broker cannot record it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await osb.get(`${instancePath(inflight)}/last_operation`)).body.state).toBe("in progress");

    volume.free();
    await until(async () => (await fetch(`${broker.url}/readyz`)).status === 200, "readyz ok");
    let completed = 1; // `ready`, provisioned before the disk filled
    let duplicated = 0;
    for (const id of [inflight, ...accepted]) {
      const finished = await waitForInstanceOperation(osb, id, 20_000);
      expect(finished.body.state, `instance ${id}`).toBe("succeeded");
      completed++;
      const runs = stack.emulator!.state.executions(`osb-${id}`).filter((e) => e.workflow_id === "install");
      duplicated += Math.max(0, runs.length - 1);
    }
    const acknowledged = 2 + accepted.length;
    console.log(
      `RESULT ${resultRow(
        "full disk (broker)",
        "8 MiB tmpfs filled during a provision; 1 × 503 Retry-After while full (expected)",
        { acknowledged, completed, lost: acknowledged - completed, duplicated },
        0,
      )}`,
    );
    // Exactly one deployment, installed once.
    const deployment = stack.emulator!.state.deployment(`osb-${inflight}`);
    expect(deployment).toBeDefined();
    const installs = stack
      .emulator!.state.executions(`osb-${inflight}`)
      .filter((e) => e.workflow_id === "install");
    expect(installs).toHaveLength(1);
    expect((await osb.put(instancePath(newId()), provisionBody(), ASYNC)).status).toBe(202);
  });
});
