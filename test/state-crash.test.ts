/**
 * Crash and exclusivity tests with real processes: children are killed with SIGKILL, which leaves
 * the directory exactly as a crashed broker would (page cache intact; power loss is out of reach).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stateCommand } from "../src/cli/commands/state.js";
import { type CompactionStep, FileStateStore, StateLockedError } from "../src/state/index.js";
import { processStartTime } from "../src/state/lock.js";
import { Child, capturingLogger, tempDir, textSink } from "./fixtures/state-helpers.js";

let dir: string;
let cleanup: () => void;
const children: Child[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) await child.kill9();
  }
  cleanup();
});

function start(...args: string[]): Child {
  const child = new Child(args);
  children.push(child);
  return child;
}

/** Opens the directory, checks every acknowledged id and pairwise atomicity, closes. */
async function verify(acks: readonly number[]): Promise<number> {
  const store = new FileStateStore({ dir });
  await store.open();
  try {
    for (const n of acks) {
      expect(store.get("items", String(n)), `acknowledged item ${n}`).toMatchObject({ n });
      expect(store.get("index", String(n))).toBe(n);
    }
    // Each commit wrote both records: a crash must never leave one without the other.
    const items = store.list("items").map((r) => r.id);
    expect(store.list("index").map((r) => r.id)).toEqual(items);
    return items.length;
  } finally {
    await store.close();
  }
}

describe("crash safety (SIGKILL)", () => {
  it("keeps every acknowledged commit when killed at random moments", async () => {
    const acked: number[] = [];
    let before = 0;
    for (let round = 0; round < 4; round++) {
      const child = start("commit", dir);
      // Random moment: after a random number of acknowledgements (compaction runs every ~60).
      const target = 1 + Math.floor(Math.random() * 300);
      await child.until(() => child.acks.length >= target, `${target} acks`);
      await child.kill9();
      acked.push(...child.acks);
      const count = await verify(acked);
      expect(count).toBeGreaterThanOrEqual(before + child.acks.length);
      before = count;
    }
  });

  const steps: CompactionStep[] = [
    "journal-rotated",
    "snapshot-written",
    "snapshot-installed",
    "journals-removed",
  ];
  it.each(steps)("recovers from a crash during compaction, after step %s", async (step) => {
    const child = start("commit", dir, step);
    const { signal, code } = await child.closed;
    expect(signal, `exit code ${code}; stderr: ${child.stderr}`).toBe("SIGKILL");
    const files = readdirSync(dir);
    // The directory really is in the in-between state of that step.
    const journals = files.filter((f) => f.startsWith("journal-") && f.endsWith(".log"));
    if (step === "journal-rotated") expect(journals.length).toBeGreaterThanOrEqual(2);
    if (step === "snapshot-written") expect(files).toContain("snapshot.tmp");
    if (step === "snapshot-installed") {
      expect(files).toContain("snapshot");
      expect(journals.length).toBeGreaterThanOrEqual(2);
    }
    expect(child.acks.length).toBeGreaterThan(0);
    const count = await verify(child.acks);
    // Open cleaned up temp files, and journals the installed snapshot covers (before the snapshot
    // was installed, both journals are still needed).
    const after = readdirSync(dir);
    expect(after.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const installed = step === "snapshot-installed" || step === "journals-removed";
    expect(after.filter((f) => f.startsWith("journal-")).length === 1).toBe(installed);
    // And the store keeps working across another compaction and reopen.
    const store = new FileStateStore({ dir });
    await store.open();
    await store.commit([{ type: "put", collection: "items", id: "extra", value: { n: -1 } }]);
    await store.compact();
    await store.close();
    const reopened = new FileStateStore({ dir });
    await reopened.open();
    expect(reopened.list("items")).toHaveLength(count + 1);
    expect(readdirSync(dir).filter((f) => f.startsWith("journal-"))).toHaveLength(1);
    await reopened.close();
  });
});

describe("exclusive lock", () => {
  it("refuses a second broker while the holder lives, then takes over after kill -9", async () => {
    const holder = start("hold", dir);
    await holder.ready();
    const second = new FileStateStore({ dir });
    const error = await second.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StateLockedError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain(`pid ${holder.pid}`);

    await holder.kill9();
    const { logger, lines } = capturingLogger();
    const restarted = new FileStateStore({ dir, logger });
    await restarted.open();
    expect(restarted.get("held", "by-child")).toEqual({ pid: holder.pid });
    expect(lines().some((l) => l.level === "warn" && l.stale_pid === holder.pid)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "lock"), "utf8")).pid).toBe(process.pid);
    await restarted.close();
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });

  it("refuses a second store in the same process", async () => {
    const first = new FileStateStore({ dir });
    await first.open();
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(`pid ${process.pid}`);
    await first.close();
  });

  it("treats a lock whose pid now belongs to another process as stale (pid reuse)", async () => {
    const startTime = processStartTime(process.pid);
    expect(startTime, "this test needs Linux /proc").toBeDefined();
    const lock = { pid: process.pid, hostname: hostname(), startTime: `${startTime}1`, acquiredAt: "then" };
    writeFileSync(join(dir, "lock"), JSON.stringify(lock));
    const store = new FileStateStore({ dir });
    await store.open();
    await store.close();
  });

  it("refuses an unreadable lock file rather than guessing", async () => {
    writeFileSync(join(dir, "lock"), JSON.stringify({ pid: -1, hostname: hostname() }));
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(/lock file .*unreadable; delete it/);
  });

  it("does not take over a lock from another host, and says how to clear it", async () => {
    writeFileSync(join(dir, "lock"), JSON.stringify({ pid: 1, hostname: "elsewhere", acquiredAt: "then" }));
    await expect(new FileStateStore({ dir }).open()).rejects.toThrow(/host elsewhere.*delete .*lock/);
  });
});

describe("state export while the broker runs", () => {
  it("reads snapshot and journal without the lock", async () => {
    const holder = start("hold", dir);
    await holder.ready();
    const out = textSink();
    const err = textSink();
    const code = await stateCommand(["export", "--state", dir], {
      stdout: out.stream,
      stderr: err.stream,
      env: {},
    });
    expect(code, err.text()).toBe(0);
    expect(JSON.parse(out.text())).toEqual({ held: { "by-child": { pid: holder.pid } } });
    // The holder still owns the lock: export did not touch it.
    expect(JSON.parse(readFileSync(join(dir, "lock"), "utf8")).pid).toBe(holder.pid);
  });

  it("gives a consistent view while commits and compactions run", async () => {
    const writer = start("commit", dir);
    await writer.until(() => writer.acks.length >= 50, "50 acks");
    for (let i = 0; i < 5; i++) {
      const seen = writer.acks.length;
      const out = textSink();
      const err = textSink();
      const code = await stateCommand(["export", "--state", dir], {
        stdout: out.stream,
        stderr: err.stream,
        env: {},
      });
      expect(code, err.text()).toBe(0);
      const state = JSON.parse(out.text()) as {
        items: Record<string, unknown>;
        index: Record<string, unknown>;
      };
      expect(Object.keys(state.items).length).toBeGreaterThanOrEqual(seen);
      expect(Object.keys(state.index).sort()).toEqual(Object.keys(state.items).sort());
    }
  });
});
