/**
 * Damaged state files through the real process (issue 10, the suite; defect 5). A real broker
 * (`cfy-broker serve`) provisions instances and binds them against the emulator, is killed with
 * SIGKILL, its files are damaged, and the process is started again on them:
 * - a torn journal tail (the last record cut in the middle): it starts, warns naming a quarantine
 *   file that holds exactly the cut bytes, keeps every record before the tear, and finishes the
 *   torn operation without doing any Cloudify work twice;
 * - a flipped byte inside a record in the middle of the journal, or in the snapshot: it refuses to
 *   start, with one line naming the file and the record's byte offset, exit code 2, and leaves the
 *   files as they were (docs/ARCHITECTURE.md "State format": damage followed by intact data
 *   refuses to open);
 * - a deleted journal (and snapshot) while the lock file and the state marker remain: it refuses
 *   with one line and exit code 2, and starts with `--allow-missing-state`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../../emulator/index.js";
import { deploymentIdFor } from "../../src/broker/model/ids.js";
import { silentLogger } from "../../src/log/logger.js";
import { readStateDir } from "../../src/state/index.js";
import { scanRecords } from "../../src/state/record.js";
import { bindBody, bindingPath, waitForBinding } from "../fixtures/bindings-helpers.js";
import { BIN, EXAMPLE_FILE, runCli } from "../fixtures/configs/helpers.js";
import { type BrokerProcess, startBrokerProcess } from "../support/broker-process.js";
import { resultRow } from "../support/lifecycles.js";
import { OsbClient } from "../support/osb-client.js";
import {
  brokerEnv,
  FAST_TIMINGS,
  instancePath,
  PG,
  provisionBody,
  provisionInstance,
} from "../support/stack.js";

let emulator: EmulatorHandle;
const running: BrokerProcess[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger });
});
afterEach(async () => {
  for (const broker of running.splice(0)) {
    broker.kill();
    await broker.exited;
  }
});
afterAll(async () => {
  await emulator?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Populated {
  dir: string;
  env: Record<string, string>;
  instances: string[];
  /** Binding id -> its instance and the credentials GETB answered before the kill. */
  bindings: Map<string, { instance: string; credentials: unknown }>;
}

const SERVE = ["serve", "--config", EXAMPLE_FILE];

async function serve(env: Record<string, string>, extra: string[] = []): Promise<BrokerProcess> {
  const broker = await startBrokerProcess([...SERVE, ...extra], { env: { ...env, LOG_LEVEL: "info" } });
  running.push(broker);
  return broker;
}

const clientOf = (broker: BrokerProcess, env: Record<string, string>) =>
  new OsbClient(broker.url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);

async function killNine(broker: BrokerProcess): Promise<void> {
  broker.kill();
  expect((await broker.exited).signal).toBe("SIGKILL");
  running.splice(running.indexOf(broker), 1);
}

/**
 * A state directory with real data: three instances (two PG small, one PG large), two workflow
 * bindings and one outputs binding, every operation finished; the broker then killed with SIGKILL
 * (so its lock file stays behind, as after a crash).
 */
async function populated(last?: (osb: OsbClient, data: Populated) => Promise<void>): Promise<Populated> {
  const dir = await mkdtemp(join(tmpdir(), "osb-damaged-"));
  dirs.push(dir);
  const env = brokerEnv(emulator.url, dir);
  const broker = await serve(env);
  const osb = clientOf(broker, env);
  const plans = [PG.small, PG.small, PG.large];
  const instances = plans.map(() => crypto.randomUUID());
  await Promise.all(instances.map((id, i) => provisionInstance(osb, id, provisionBody(plans[i]))));
  const bindings = new Map<string, { instance: string; credentials: unknown }>();
  for (const [instance, plan] of [
    [instances[0]!, PG.small],
    [instances[1]!, PG.small],
    [instances[2]!, PG.large],
  ] as const) {
    const id = crypto.randomUUID();
    const answer = await osb.put(bindingPath(instance, id), bindBody(plan), {
      query: { accepts_incomplete: "true" },
    });
    if (answer.status === 202) expect((await waitForBinding(osb, instance, id)).body.state).toBe("succeeded");
    else expect(answer.status).toBe(201);
    const fetched = await osb.get(bindingPath(instance, id));
    expect(fetched.status).toBe(200);
    bindings.set(id, { instance, credentials: fetched.body.credentials });
  }
  const data = { dir, env, instances, bindings };
  await last?.(osb, data);
  await killNine(broker);
  expect(existsSync(join(dir, "lock"))).toBe(true);
  return data;
}

const journalsOf = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^journal-\d+\.log$/.test(n))
    .sort()
    .map((n) => join(dir, n));

/** Every instance answers GETI 200 and every binding GETB 200 with the credentials it had. */
async function expectAllThere(osb: OsbClient, data: Populated): Promise<void> {
  for (const id of data.instances)
    expect((await osb.get(instancePath(id))).status, `instance ${id}`).toBe(200);
  for (const [id, { instance, credentials }] of data.bindings) {
    const fetched = await osb.get(bindingPath(instance, id));
    expect(fetched.status, `binding ${id}`).toBe(200);
    expect(fetched.body.credentials).toEqual(credentials);
  }
}

/** Cloudify did each piece of work once: one deployment and one install per instance, one create_user per workflow binding. */
function expectNothingDoneTwice(data: Populated): void {
  for (const id of data.instances) {
    const deployment = deploymentIdFor(id);
    expect(emulator.state.deployment(deployment), `deployment of ${id}`).toBeDefined();
    const executions = emulator.state.executions(deployment);
    expect(executions.filter((e) => e.workflow_id === "install")).toHaveLength(1);
    const users = executions
      .filter((e) => e.workflow_id === "create_user")
      .map((e) => JSON.stringify(e.parameters));
    expect(new Set(users).size, `create_user executions on ${id}`).toBe(users.length);
  }
}

interface Refusal {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `cfy-broker serve` on damaged state expecting a refusal. A broker that starts anyway is
 * killed and reported as a failure instead of leaving the test waiting.
 */
function serveRefused(env: Record<string, string>): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [BIN, ...SERVE], {
      env: { PATH: process.env.PATH ?? "", ...env, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('"msg":"broker listening"')) {
        child.kill("SIGKILL");
        reject(new Error(`the broker started on damaged state:\n${stdout}`));
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** One JSON line on stderr, exit code 2, no stack trace; returns its message. */
function expectOneLineRefusal(refusal: Refusal): string {
  expect(refusal.code, refusal.stderr).toBe(2);
  const lines = refusal.stderr.trimEnd().split("\n");
  expect(lines, refusal.stderr).toHaveLength(1);
  const line = JSON.parse(lines[0]!) as { level: string; msg: string };
  expect(line.level).toBe("error");
  expect(line.msg).not.toMatch(/\n\s+at /);
  return line.msg;
}

/**
 * Bytes of every data file in `dir`, to show a refusal changed nothing. The lock is left out: a
 * refusing broker takes over the dead broker's lock and releases it again.
 */
function filesOf(dir: string): Record<string, Buffer> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((n) => n !== "lock")
      .map((n) => [n, readFileSync(join(dir, n))]),
  );
}

/**
 * Compacts the state into a snapshot (`state rekey` compacts), then runs the broker on it again
 * for one more acknowledged provision (the journal that follows the snapshot) and kills it.
 */
async function withSnapshot(data: Populated): Promise<string> {
  const rekey = await runCli(["state", "rekey", "--state", data.dir], { env: data.env });
  expect(rekey.code, rekey.stderr).toBe(0);
  const snapshot = join(data.dir, "snapshot");
  expect(existsSync(snapshot)).toBe(true);
  const broker = await serve(data.env);
  const extra = crypto.randomUUID();
  await provisionInstance(clientOf(broker, data.env), extra);
  data.instances.push(extra);
  await killNine(broker);
  return snapshot;
}

/** Flips one bit of a payload byte in the middle of the record at `index` of `file`; returns that record's offset. */
function flipByteInRecord(file: string, index: number): number {
  const bytes = readFileSync(file);
  const records = scanRecords(bytes).records;
  const record = records[index]!;
  const at = record.offset + 9 + Math.floor(record.payload.length / 2);
  // XOR 1 keeps an ASCII byte ASCII, so the damage is a checksum mismatch, not a new record mark.
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(file, bytes);
  return record.offset;
}

describe("damaged state files, through the real broker process", () => {
  it("a torn journal tail: starts, quarantines the cut bytes, keeps every record before the tear", async () => {
    // The last write before the crash: a synchronous bind, one journal record of its own.
    const lastBind = { id: crypto.randomUUID(), instance: "", body: bindBody(PG.large) };
    const data = await populated(async (osb, populatedData) => {
      lastBind.instance = populatedData.instances[2]!;
      expect((await osb.put(bindingPath(lastBind.instance, lastBind.id), lastBind.body)).status).toBe(201);
    });
    const before = await readStateDir(data.dir);
    const [journal] = journalsOf(data.dir);
    const bytes = readFileSync(journal!);
    const records = scanRecords(bytes).records;
    expect(records.length).toBeGreaterThan(10);
    const last = records.at(-1)!;
    const tornIds = (JSON.parse(last.payload.toString("utf8")) as { changes: { id: string }[] }).changes.map(
      (c) => c.id,
    );
    expect(tornIds).toEqual([lastBind.id]);
    const cut = last.offset + 9 + Math.floor(last.payload.length / 2);
    truncateSync(journal!, cut);

    const broker = await serve(data.env);
    const warning = broker
      .logs()
      .find((l) => l.level === "warn" && String(l.msg).includes("torn") && typeof l.quarantine === "string");
    expect(warning, broker.output().stdout).toBeDefined();
    const quarantine = String(warning!.quarantine);
    expect(String(warning!.msg)).toContain(quarantine);
    expect(warning!.file).toBe(journal);
    expect(warning!.offset).toBe(last.offset);
    expect(readFileSync(quarantine)).toEqual(bytes.subarray(last.offset, cut));

    // Every record before the tear, exactly as it was; the torn bind is not there.
    const after = await readStateDir(data.dir);
    const { [lastBind.id]: torn, ...keptBindings } = before.bindings ?? {};
    expect(torn).toBeDefined();
    expect(after.instances).toEqual(before.instances);
    expect(after.bindings).toEqual(keptBindings);
    const osb = clientOf(broker, data.env);
    await expectAllThere(osb, data);
    expect((await osb.get(bindingPath(lastBind.instance, lastBind.id))).status).toBe(404);
    // The platform sends the bind again (it never got a usable answer for it): it is made anew.
    expect((await osb.put(bindingPath(lastBind.instance, lastBind.id), lastBind.body)).status).toBe(201);
    expectNothingDoneTwice(data);
    console.log(
      `damaged-state: torn tail: ${data.instances.length} instances and ${data.bindings.size + 1} bindings acknowledged; the last record cut after ${cut - last.offset} of ${last.payload.length + 9} bytes, quarantined; ${data.instances.length} instances and ${data.bindings.size} bindings kept unchanged, 0 lost before the tear, nothing done twice in Cloudify`,
    );
    console.log(
      `RESULT ${resultRow(
        "damaged state: torn journal tail",
        `kill -9, last record cut after ${cut - last.offset} bytes (quarantined)`,
        {
          acknowledged: data.instances.length + data.bindings.size + 1,
          completed: data.instances.length + data.bindings.size + 1,
          lost: 0,
          duplicated: 0,
        },
        0,
      )}`,
    );
  });

  it("a flipped byte in a record in the middle of the journal: refuses, naming file and offset, exit 2", async () => {
    const data = await populated();
    const [journal] = journalsOf(data.dir);
    const records = scanRecords(readFileSync(journal!)).records;
    const offset = flipByteInRecord(journal!, Math.floor(records.length / 2));
    const files = filesOf(data.dir);

    const message = expectOneLineRefusal(await serveRefused(data.env));
    expect(message).toContain(`state file ${journal} is corrupt at byte offset ${offset}: checksum mismatch`);
    expect(message).toMatch(/Refusing to open/);
    // Nothing was cut, moved or rewritten: the operator still has every byte.
    expect(filesOf(data.dir)).toEqual(files);
    console.log(
      `damaged-state: flipped byte in journal record ${Math.floor(records.length / 2)} of ${records.length} (offset ${offset}): refused, exit 2, files unchanged`,
    );
    console.log(
      `RESULT ${resultRow("damaged state: flipped byte in the journal", "1 byte of a middle record", { acknowledged: data.instances.length + data.bindings.size, completed: "refused to start (exit 2), files untouched", lost: 0, duplicated: 0 }, "n/a")}`,
    );
  });

  it("a flipped byte in the snapshot: refuses, naming the snapshot and offset, exit 2", async () => {
    const data = await populated();
    const snapshot = await withSnapshot(data);

    const records = scanRecords(readFileSync(snapshot)).records;
    expect(records.length).toBeGreaterThan(4);
    const offset = flipByteInRecord(snapshot, Math.floor(records.length / 2));
    const files = filesOf(data.dir);
    const message = expectOneLineRefusal(await serveRefused(data.env));
    expect(message).toContain(
      `state file ${snapshot} is corrupt at byte offset ${offset}: checksum mismatch`,
    );
    expect(filesOf(data.dir)).toEqual(files);
    console.log(
      `damaged-state: flipped byte in snapshot record ${Math.floor(records.length / 2)} of ${records.length} (offset ${offset}): refused, exit 2, files unchanged`,
    );
    console.log(
      `RESULT ${resultRow("damaged state: flipped byte in the snapshot", "1 byte of a middle record", { acknowledged: data.instances.length + data.bindings.size, completed: "refused to start (exit 2), files untouched", lost: 0, duplicated: 0 }, "n/a")}`,
    );
  });

  it.each([
    ["the journal", ["journal"], /its journal and snapshot are gone/],
    ["the journal and the snapshot", ["journal", "snapshot"], /its journal and snapshot are gone/],
    ["the journal after a snapshot", ["journal-after-snapshot"], /snapshot is there without the journal/],
  ])(
    "deleted %s with the lock file and marker left: refuses, exit 2; starts with --allow-missing-state",
    async (what, deleted, reason) => {
      const data = await populated();
      if (deleted.includes("snapshot") || deleted.includes("journal-after-snapshot"))
        await withSnapshot(data);
      for (const journal of journalsOf(data.dir)) rmSync(journal);
      if (deleted.includes("snapshot")) rmSync(join(data.dir, "snapshot"));
      expect(existsSync(join(data.dir, "lock"))).toBe(true);
      expect(existsSync(join(data.dir, "state-marker"))).toBe(true);

      const message = expectOneLineRefusal(await serveRefused(data.env));
      expect(message).toContain(`state directory ${data.dir} held broker state`);
      expect(message).toMatch(reason);
      expect(message).toMatch(/--allow-missing-state/);
      // Refusing is not a repair: the next plain start refuses again.
      expectOneLineRefusal(await serveRefused(data.env));

      const broker = await serve(data.env, ["--allow-missing-state"]);
      expect(
        broker.logs().some((l) => l.level === "warn" && String(l.msg).includes("--allow-missing-state")),
        broker.output().stdout,
      ).toBe(true);
      const osb = clientOf(broker, data.env);
      // What was deleted is gone (the operator chose so), what the snapshot holds is kept, and
      // the broker works.
      const snapshotKept = deleted.includes("journal-after-snapshot");
      for (const [n, id] of data.instances.entries()) {
        const inSnapshot = snapshotKept && n < data.instances.length - 1;
        expect((await osb.get(instancePath(id))).status, `instance ${id}`).toBe(inSnapshot ? 200 : 404);
      }
      await provisionInstance(osb, crypto.randomUUID());
      await killNine(broker);
      // Once started on purpose, later starts need no flag.
      const again = await serve(data.env);
      expect((await clientOf(again, data.env).get("/v2/catalog")).status).toBe(200);
      console.log(
        `damaged-state: deleted ${deleted.join(" and ")} (lock and marker left): refused twice, exit 2; started with --allow-missing-state`,
      );
      console.log(
        `RESULT ${resultRow(`damaged state: deleted ${what}`, "lock and marker left", { acknowledged: data.instances.length + data.bindings.size, completed: "refused to start (exit 2) until --allow-missing-state", lost: 0, duplicated: 0 }, "n/a")}`,
      );
    },
  );
});
