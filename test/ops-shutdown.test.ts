/**
 * Graceful shutdown of `cfy-broker serve` (a real child process) under load: SIGTERM while
 * clients hammer it. Every request of a client connected before the signal is answered as
 * expected, every accepted provision is in the state afterwards, the lock is released and the
 * process exits 0. Past the configured deadline it forces the rest and exits 1.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { startEmulator } from "../emulator/index.js";
import { INSTANCES } from "../src/broker/model/records.js";
import { silentLogger } from "../src/log/logger.js";
import { readStateDir } from "../src/state/index.js";
import { EXAMPLE_FILE } from "./fixtures/configs/helpers.js";
import { type BrokerProcess, startBrokerProcess } from "./support/broker-process.js";
import { runLoad } from "./support/load.js";
import { brokerEnv, FAST_TIMINGS } from "./support/stack.js";

let emulator: EmulatorHandle | undefined;
let broker: BrokerProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  broker?.kill();
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  broker = emulator = dir = undefined;
});

async function start(extraEnv: Record<string, string> = {}) {
  emulator = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger });
  dir = await mkdtemp(join(tmpdir(), "osb-shutdown-"));
  const env = brokerEnv(emulator.url, join(dir, "state"), { LOG_LEVEL: "info", ...extraEnv });
  broker = await startBrokerProcess(["serve", "--config", EXAMPLE_FILE], { env, cwd: dir });
  return env;
}

describe("graceful shutdown (SIGTERM)", () => {
  it("answers every request of connected clients, keeps every accepted provision, releases the lock, exits 0", async () => {
    const env = await start();
    const b = broker!;
    let signalled!: () => void;
    const signal = new Promise<void>((resolve) => {
      signalled = resolve;
    });
    const load = runLoad({
      url: b.url,
      username: env.BROKER_USERNAME!,
      password: env.BROKER_PASSWORD!,
      clients: 8,
      maxPerClient: 400,
      // The loops run on after the signal until the broker closes their connection.
      until: new Promise(() => {}),
    });
    // Send SIGTERM in the middle of the load.
    await b.waitForLog(() => b.logs().filter((l) => l.msg === "request").length >= 80, "load to build up");
    b.child.kill("SIGTERM");
    signalled();
    await signal;

    const result = await load;
    const exit = await b.exited;
    expect(result.failures).toEqual([]);
    expect(result.closedByServer).toBe(8); // each client was told to go, none was cut off
    expect(result.ok).toBeGreaterThan(80);
    expect(result.provisioned.length).toBeGreaterThan(15);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(b.logs().some((l) => l.msg === "shut down cleanly")).toBe(true);

    // Flushed: every provision the broker accepted is on disk; the lock is gone.
    const state = await readStateDir(join(dir!, "state"));
    for (const id of result.provisioned) expect(state[INSTANCES]?.[id], id).toBeDefined();
    expect(existsSync(join(dir!, "state", "lock"))).toBe(false);
  }, 180_000);

  it("past broker.shutdown_timeout_seconds it cuts what is left and exits 1", async () => {
    await start({ BROKER_SHUTDOWN_TIMEOUT_SECONDS: "1" });
    const b = broker!;
    // A client that never finishes its request holds a connection open.
    const socket = connect(Number(new URL(b.url).port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("GET /v2/catalog HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    socket.on("error", () => {});
    await new Promise((resolve) => setTimeout(resolve, 100));

    b.child.kill("SIGTERM");
    const exit = await b.exited;
    socket.destroy();
    expect(exit).toEqual({ code: 1, signal: null });
    expect(
      b.logs().some((l) => l.msg === "shutdown deadline passed; cutting the remaining connections"),
    ).toBe(true);
  }, 180_000);
});
