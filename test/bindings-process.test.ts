/**
 * Bindings against the real broker process (`bin/cfy-broker.js serve`, built to dist/), with
 * LOG_LEVEL=debug: kill -9 while a workflow binding's create_user (or an unbind's
 * delete_user) runs, restart on the same state directory and check the operation completes
 * with exactly one Cloudify workflow; unbind while create_user runs cancels it; no credential
 * ever reaches the broker's output; the process refuses to start with a bindable plan and no
 * encryption key. The emulator runs in this process, with create_user and delete_user slowed
 * to a few seconds so the kills land while they run.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatorHandle, shippedBlueprintsPath, startEmulator } from "../emulator/index.js";
import { silentLogger } from "../src/log/logger.js";
import { packageRoot } from "../src/util/package-root.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  databaseUsers,
  exampleConfig,
  SYNC,
  unbindQuery,
  userExecutions,
  usernameOf,
  waitForBinding,
  writeConfig,
} from "./fixtures/bindings-helpers.js";
import { freePort } from "./support/ports.js";
import {
  brokerEnv,
  FAST_TIMINGS,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  ValidatingOsbClient,
} from "./support/stack.js";

const ROOT = packageRoot();
const BIN = join(ROOT, "bin", "cfy-broker.js");
/** create_user / delete_user take this long (blueprint ms, scaled by FAST_TIMINGS.scale = 0.01 → 2 s). */
const SLOW_WORKFLOW_MS = 200_000;
const RUNNING = new Set(["pending", "queued", "started"]);

/** Builds dist/ when it is missing or older than a source file (`npm test` has built it already). */
function ensureBuilt(): void {
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir).map((name) => {
        const path = join(dir, name);
        const stats = statSync(path);
        return stats.isDirectory() ? newest(path) : stats.mtimeMs;
      }),
    );
  const built = join(ROOT, "dist", "src", "cli", "main.js");
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(ROOT, "src"))) return;
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "pipe", timeout: 240_000 });
}

/** The shipped catalogue with create_user and delete_user slowed down. */
function slowCatalogue(): unknown {
  const doc = parse(readFileSync(shippedBlueprintsPath(), "utf8"), { merge: true });
  for (const blueprint of doc.blueprints) {
    for (const id of ["create_user", "delete_user"]) {
      if (blueprint.workflows?.[id])
        blueprint.workflows[id] = { ...blueprint.workflows[id], duration_ms: SLOW_WORKFLOW_MS };
    }
  }
  return doc;
}

/** One `cfy-broker serve` process; its output is kept for the log assertions. */
class BrokerProcess {
  readonly proc: ChildProcess;
  output = "";
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(env: Record<string, string>, config = join(ROOT, "broker.yaml")) {
    this.proc = spawn(process.execPath, [BIN, "serve", "--config", config], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout!.on("data", (d) => {
      this.output += String(d);
    });
    this.proc.stderr!.on("data", (d) => {
      this.output += String(d);
    });
    this.closed = new Promise((resolve) =>
      this.proc.on("close", (code, signal) => resolve({ code, signal })),
    );
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits (bounded) until /healthz answers. */
  async healthy(url: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.running) throw new Error(`broker exited before it was healthy:\n${this.output}`);
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`broker not healthy after 30 s:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async kill9(): Promise<void> {
    if (this.running) this.proc.kill("SIGKILL");
    const { signal } = await this.closed;
    expect(signal).toBe("SIGKILL");
  }

  async stop(): Promise<void> {
    if (this.running) this.proc.kill("SIGTERM");
    await this.closed;
  }
}

let emulator: EmulatorHandle;
let stateDir: string;
let env: Record<string, string>;
let url: string;
let osb: ValidatingOsbClient;
let broker: BrokerProcess;
/** Every run of the broker, for the log assertions. */
const runs: BrokerProcess[] = [];
/** Every secret the platform was handed. */
const secrets: string[] = [];
let iid: string;

async function startBroker(): Promise<void> {
  broker = new BrokerProcess(env);
  runs.push(broker);
  await broker.healthy(url);
}

/** Waits (bounded) until the user's workflow runs at Cloudify. */
async function untilRunning(workflowId: string, username: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const running = userExecutions(emulator, iid, workflowId, username).find((e) => RUNNING.has(e.status));
    if (running) return running;
    if (Date.now() > deadline) throw new Error(`${workflowId} for ${username} never ran`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function keep(credentials: Record<string, unknown>) {
  secrets.push(String(credentials.password), String(credentials.uri));
}

beforeAll(async () => {
  ensureBuilt();
  emulator = await startEmulator({
    timings: FAST_TIMINGS,
    blueprints: slowCatalogue(),
    logger: silentLogger,
  });
  stateDir = await mkdtemp(join(tmpdir(), "osb-state-"));
  const port = await freePort();
  env = brokerEnv(emulator.url, stateDir, { BROKER_PORT: String(port), LOG_LEVEL: "debug" });
  url = `http://127.0.0.1:${port}`;
  osb = new ValidatingOsbClient(url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
  await startBroker();
  iid = newId();
  await provisionInstance(osb, iid, provisionBody(PG.small));
}, 300_000);

afterAll(async () => {
  for (const run of runs) if (run.running) await run.kill9();
  await emulator?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe("workflow bindings across broker crashes (kill -9)", () => {
  it("BIND restart during a workflow binding: killed while create_user runs, the restarted broker completes it with exactly one create_user", async () => {
    const bid = newId();
    const username = usernameOf(bid);
    expect((await osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC)).status).toBe(202);
    const execution = await untilRunning("create_user", username);
    await broker.kill9();
    // The kill landed while the workflow ran.
    const atKill = userExecutions(emulator, iid, "create_user", username);
    expect(atKill.map((e) => e.id)).toEqual([execution.id]);
    expect(RUNNING.has(atKill[0]!.status)).toBe(true);

    await startBroker();
    const last = await waitForBinding(osb, iid, bid, 30_000);
    expect(last.body.state, JSON.stringify(last.body)).toBe("succeeded");
    const creates = userExecutions(emulator, iid, "create_user", username);
    expect(creates).toHaveLength(1);
    expect(creates[0]!.status).toBe("terminated");
    const fetched = await osb.get(bindingPath(iid, bid));
    expect(fetched.status).toBe(200);
    expect(fetched.body.credentials.username).toBe(username);
    expect(fetched.body.credentials.password).toBe(databaseUsers(emulator, iid)[username]!.password);
    keep(fetched.body.credentials);
  });

  it("UNBIND restart during the delete_user workflow: the restarted broker completes the unbind with exactly one delete_user", async () => {
    const bid = newId();
    const username = usernameOf(bid);
    expect((await osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC)).status).toBe(202);
    expect((await waitForBinding(osb, iid, bid, 30_000)).body.state).toBe("succeeded");
    keep((await osb.get(bindingPath(iid, bid))).body.credentials);
    expect((await osb.delete(bindingPath(iid, bid), unbindQuery(PG.small))).status).toBe(202);
    await untilRunning("delete_user", username);
    await broker.kill9();
    expect(RUNNING.has(userExecutions(emulator, iid, "delete_user", username)[0]!.status)).toBe(true);

    await startBroker();
    const last = await waitForBinding(osb, iid, bid, 30_000);
    expect(last.body.state, JSON.stringify(last.body)).toBe("succeeded");
    const deletes = userExecutions(emulator, iid, "delete_user", username);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.status).toBe("terminated");
    expect(databaseUsers(emulator, iid)[username]).toBeUndefined();
    expect((await osb.get(bindingPath(iid, bid))).status).toBe(404);
  });

  it("UNBIND while create_user runs cancels it, then revokes: no user is left, GETB 404, LOB succeeded", async () => {
    const bid = newId();
    const username = usernameOf(bid);
    expect((await osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC)).status).toBe(202);
    await untilRunning("create_user", username);
    const response = await osb.delete(bindingPath(iid, bid), unbindQuery(PG.small));
    expect(response.status).toBe(202);
    expect((await waitForBinding(osb, iid, bid, 30_000)).body.state).toBe("succeeded");
    const creates = userExecutions(emulator, iid, "create_user", username);
    expect(creates).toHaveLength(1);
    expect(creates[0]!.status).toBe("cancelled");
    expect(userExecutions(emulator, iid, "delete_user", username)).toHaveLength(1);
    expect(databaseUsers(emulator, iid)[username]).toBeUndefined();
    expect((await osb.get(bindingPath(iid, bid))).status).toBe(404);
  });
});

describe("the broker process", () => {
  it("no credential ever appears in the broker's output at LOG_LEVEL=debug (workflow and outputs mode)", async () => {
    const redis = newId();
    await provisionInstance(osb, redis, provisionBody(REDIS.small));
    const bid = newId();
    const created = await osb.put(bindingPath(redis, bid), bindBody(REDIS.small), SYNC);
    expect(created.status).toBe(201);
    keep(created.body.credentials);
    expect((await osb.put(bindingPath(redis, bid), bindBody(REDIS.small), SYNC)).status).toBe(200);
    expect((await osb.get(bindingPath(redis, bid))).status).toBe(200);
    await broker.stop();

    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const output = runs.map((run) => run.output).join("\n");
    // The runs really logged at debug level (Cloudify calls are debug records).
    expect(output).toContain('"level":"debug"');
    expect(output).toContain("Cloudify call");
    for (const secret of secrets) {
      expect(output.includes(secret), `the output holds a credential (${secret.slice(0, 4)}…)`).toBe(false);
      expect(output.includes(encodeURIComponent(secret))).toBe(false);
    }
  });

  it("refuses to start with a bindable plan and no encryption key: exit code 1, the reason on stderr", async () => {
    const config = exampleConfig();
    config.broker.encryption = { allow_plaintext: false };
    const file = await writeConfig(config);
    const child = new BrokerProcess({ ...env, BROKER_STATE_DIR: `${stateDir}-refused` }, file);
    const { code } = await child.closed;
    expect(code, child.output).toBe(1);
    expect(child.output).toMatch(/bindable but no encryption key/);
    expect(existsSync(`${stateDir}-refused`)).toBe(false);
  });
});
