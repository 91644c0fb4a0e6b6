/**
 * kill -9 of the broker at random moments during concurrent lifecycles (issue 10, the suite):
 * the broker runs as a real child process (`cfy-broker serve` on the example broker.yaml, the
 * compiled CLI: `npm run test:reliability` builds it first) and is killed with SIGKILL again and
 * again, each time restarted at once on the same state directory, port and emulator. Platforms
 * keep going through it as OSB platforms do: the same PUT/PATCH/DELETE again after a dropped
 * connection, last_operation polled until the end. Afterwards nothing acknowledged is lost,
 * no Cloudify work ran twice (ARCHITECTURE "Operations": steps are idempotent across crashes;
 * CONTRACT M16), nothing is stuck, and the broker never answered 5xx.
 *
 * RELIABILITY_KILL_LIFECYCLES (default 100) and RELIABILITY_KILLS (default 20, a minimum) scale it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../../emulator/index.js";
import { silentLogger } from "../../src/log/logger.js";
import { EXAMPLE_FILE } from "../fixtures/configs/helpers.js";
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.js";
import {
  type Lifecycle,
  type LifecycleKind,
  Platform,
  resultRow,
  runLifecycle,
  verifyLifecycles,
} from "../support/lifecycles.js";
import { OsbClient } from "../support/osb-client.js";
import { freePort } from "../support/ports.js";
import { brokerEnv } from "../support/stack.js";

const LIFECYCLES = Number(process.env.RELIABILITY_KILL_LIFECYCLES ?? 100);
const MIN_KILLS = Number(process.env.RELIABILITY_KILLS ?? 20);
const CLIENTS = 6;

let emulator: EmulatorHandle | undefined;
let broker: BrokerProcess | undefined;
let dir: string | undefined;
afterAll(async () => {
  broker?.kill();
  await broker?.exited;
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ten lifecycles in every ten: 5 workflow-mode (one kept), 3 synchronous (one kept), 2 halting. */
function plan(n: number): { kind: LifecycleKind; keep: boolean } {
  const slot = n % 10;
  const kind: LifecycleKind = slot < 5 ? "workflow" : slot < 8 ? "sync" : "halting";
  return { kind, keep: slot === 2 || slot === 6 };
}

describe("kill -9 of the broker during concurrent lifecycles", () => {
  it(`${LIFECYCLES} lifecycles, at least ${MIN_KILLS} kills: nothing lost, duplicated or stuck, no 5xx`, async () => {
    // Cloudify work long enough that kills land in the middle of it (install 300 ms, update
    // 200 ms, uninstall 150 ms, create_user/delete_user 50 ms).
    emulator = await startEmulator({
      timings: { pendingMs: 10, createEnvMs: 60, deleteEnvMs: 60, workflowMs: 50, cancelMs: 20, scale: 0.1 },
      logger: silentLogger,
    });
    dir = await mkdtemp(join(tmpdir(), "osb-kill-"));
    const port = await freePort();
    // One environment (one encryption key, one port) for every run of the broker.
    const env = brokerEnv(emulator.url, join(dir, "state"), {
      BROKER_PORT: String(port),
      LOG_LEVEL: "info",
    });
    const start = async () => {
      broker = await startBrokerProcess(["serve", "--config", EXAMPLE_FILE], { env, cwd: dir });
    };
    await start();
    const platform = new Platform(
      new OsbClient(`http://127.0.0.1:${port}`, env.BROKER_USERNAME!, env.BROKER_PASSWORD!),
    );

    let kills = 0;
    let started = 0;
    let done = false;
    const lifecycles: Lifecycle[] = [];
    const client = async () => {
      while (started < LIFECYCLES || kills < MIN_KILLS) {
        const { kind, keep } = plan(started++);
        lifecycles.push(await runLifecycle(platform, kind, keep));
      }
    };
    const killer = async () => {
      while (!done) {
        // A random moment of the broker's life: 0.3 to 1.5 s after it came up.
        await sleep(300 + Math.random() * 1200);
        if (done) break;
        broker!.kill();
        await broker!.exited;
        kills++;
        await start();
      }
    };
    const killing = killer();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    done = true;
    await killing;

    const verdict = await verifyLifecycles(platform, emulator, lifecycles);
    const fiveXx = platform.counts.fiveXx;
    const row = resultRow(
      "kill -9",
      `${kills} kills of the broker process, ${lifecycles.length} lifecycles`,
      verdict,
      fiveXx,
    );
    console.log(`RESULT ${row}`);
    console.log(
      `kill -9: ${platform.counts.requests} requests, ${platform.counts.noAnswer} without an answer (sent again), stuck ${verdict.stuck}`,
    );
    expect(verdict.problems, verdict.problems.slice(0, 20).join("\n")).toEqual([]);
    expect(platform.counts.fiveXxSamples).toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(lifecycles.length).toBeGreaterThanOrEqual(LIFECYCLES);
    expect(verdict.acknowledged).toBeGreaterThan(0);
    expect(verdict.completed).toBe(verdict.acknowledged);
    expect(verdict.lost).toBe(0);
    expect(verdict.duplicated).toBe(0);
    expect(verdict.stuck).toBe(0);
    expect(fiveXx).toBe(0);
  }, 300_000);
});
