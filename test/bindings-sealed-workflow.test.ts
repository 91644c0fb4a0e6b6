/**
 * Values derived from a secret are sealed at rest (docs/CONTRACT.md K1), and a password is one
 * value per binding (issue 8.2, docs/TEMPLATES.md). The pg small plan here sends
 * `{{password 24}}` to its create_user workflow and puts `{{password 24}}` in its credentials:
 * - the app gets the password the workflow set (the emulator's user has it);
 * - neither the workflow parameters nor the credentials are anywhere in clear in the raw state:
 *   the journal and snapshot files of the file store, the rows of the PostgreSQL store (the same
 *   envelope in both), nor in `cfy-broker state export`;
 * - with allow_plaintext and no key they are in clear (the test sees them), and `state rekey`
 *   with a key seals them, after which a broker with the key serves the same credentials.
 * Real HTTP: test → broker → Cloudify emulator; the real local PostgreSQL server.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatorHandle, startEmulator } from "../emulator/index.js";
import { stateCommand } from "../src/cli/commands/state.js";
import { generateKey, isSealed } from "../src/crypto/index.js";
import { silentLogger } from "../src/log/logger.js";
import { type BrokerServer, startBrokerServer } from "../src/server/broker-server.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  databaseUsers,
  exampleConfig,
  filesContaining,
  filesUnder,
  userExecutions,
  usernameOf,
  waitForBinding,
  writeConfig,
} from "./fixtures/bindings-helpers.js";
import { textSink } from "./fixtures/state-helpers.js";
import { createTestDatabase, type TestDatabase, uniqueSchema } from "./support/postgres.js";
import {
  brokerEnv,
  FAST_TIMINGS,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  validatingClient,
} from "./support/stack.js";

let emulator: EmulatorHandle;
let database: TestDatabase;
let sealedConfig: string;
let plaintextConfig: string;
const brokers: BrokerServer[] = [];
const dirs: string[] = [];

/** The example with a password the create workflow sets and the credentials hand to the app. */
function passwordPlanConfig({ plaintext }: { plaintext: boolean }) {
  const config = exampleConfig();
  const small = config.services
    .flatMap((s: { plans: unknown[] }) => s.plans)
    .find((p: { id: string }) => p.id === PG.small);
  small.binding.workflow.create.parameters.password = "{{password 24}}";
  small.binding.credentials.password = "{{password 24}}";
  small.binding.credentials.uri =
    "postgres://u_{{binding.short_id}}:{{urlencode (password 24)}}@{{outputs.host}}:{{outputs.port}}/{{outputs.database}}";
  if (plaintext) config.broker.encryption = { allow_plaintext: true };
  return config;
}

beforeAll(async () => {
  emulator = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger });
  database = await createTestDatabase("cfy_sealed");
  sealedConfig = await writeConfig(passwordPlanConfig({ plaintext: false }));
  plaintextConfig = await writeConfig(passwordPlanConfig({ plaintext: true }));
});
afterAll(async () => {
  for (const broker of brokers) await broker.close().catch(() => undefined);
  await emulator?.close();
  await database?.drop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

type Backend = "file" | "postgres";

/** Where one broker keeps its state, and how to read it raw. */
async function stateOf(backend: Backend) {
  const dir = await mkdtemp(join(tmpdir(), "sealed-state-"));
  dirs.push(dir);
  const schema = uniqueSchema("sealed");
  const env: Record<string, string> =
    backend === "postgres"
      ? { BROKER_STATE_BACKEND: "postgres", BROKER_STATE_URL: database.url, BROKER_STATE_SCHEMA: schema }
      : { BROKER_STATE_BACKEND: "file" };
  const cli = backend === "postgres" ? ["--state", database.url, "--schema", schema] : ["--state", dir];
  /** Every byte the store holds, as text: the files, or the table's rows. */
  const raw = async (): Promise<string> => {
    if (backend === "file")
      return filesUnder(dir)
        .map(({ bytes }) => bytes.toString("utf8"))
        .join("\n");
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const rows = await client.query(`SELECT value::text AS v FROM ${schema}.records`);
      return rows.rows.map((r: { v: string }) => r.v).join("\n");
    } finally {
      await client.end();
    }
  };
  return { dir, env, cli, raw };
}

async function startBroker(configFile: string, stateDir: string, env: Record<string, string>) {
  const fullEnv = brokerEnv(emulator.url, stateDir, env);
  const broker = await startBrokerServer({ configFile, env: fullEnv, logger: silentLogger });
  brokers.push(broker);
  return { broker, osb: validatingClient({ broker, env: fullEnv }) };
}

async function runState(args: string[], env: Record<string, string | undefined> = {}) {
  const out = textSink();
  const err = textSink();
  const code = await stateCommand(args, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** Provisions, binds in workflow mode, and returns what the workflow and the app got. */
async function bindWithPassword(osb: ReturnType<typeof validatingClient>) {
  const iid = newId();
  const bid = newId();
  await provisionInstance(osb, iid, provisionBody(PG.small));
  expect((await osb.put(bindingPath(iid, bid), bindBody(PG.small), ASYNC)).status).toBe(202);
  const last = await waitForBinding(osb, iid, bid);
  expect(last.body.state, JSON.stringify(last.body)).toBe("succeeded");
  const [execution] = userExecutions(emulator, iid, "create_user", usernameOf(bid));
  const sent = String(execution!.parameters.password);
  const fetched = await osb.get(bindingPath(iid, bid));
  expect(fetched.status).toBe(200);
  return { iid, bid, sent, credentials: fetched.body.credentials };
}

describe.each<Backend>(["file", "postgres"])("K1 secrets derived in a workflow bind, %s store", (backend) => {
  it("K3 the password the workflow set is the one the app gets; K1 neither the workflow parameters nor the credentials are in clear in the raw state or in state export", async () => {
    const state = await stateOf(backend);
    const key = generateKey();
    const { broker, osb } = await startBroker(sealedConfig, state.dir, {
      ...state.env,
      BROKER_ENCRYPTION_KEY: key,
    });
    const { iid, bid, sent, credentials } = await bindWithPassword(osb);
    expect(sent).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(credentials.password).toBe(sent);
    expect(databaseUsers(emulator, iid)[usernameOf(bid)]!.password).toBe(sent);
    expect(credentials.uri).toContain(`:${sent}@`);

    const raw = await state.raw();
    expect(raw).toContain(bid);
    expect(raw).not.toContain(sent);
    expect(raw).not.toContain(Buffer.from(sent).toString("base64"));
    if (backend === "file") expect(filesContaining(state.dir, sent)).toEqual([]);

    const exported = await runState(["export", ...state.cli]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).not.toContain(sent);
    const record = JSON.parse(exported.stdout).bindings[bid];
    for (const field of ["workflowParameters", "result", "parameters", "seed"])
      expect(isSealed(record[field]), field).toBe(true);
    // The key opens them: the workflow parameters hold the very password.
    const decrypted = await runState(["export", ...state.cli, "--decrypt"], { BROKER_ENCRYPTION_KEY: key });
    expect(JSON.parse(decrypted.stdout).bindings[bid].workflowParameters.password).toBe(sent);
    await broker.close();
  });

  it("K2 values stored in clear under allow_plaintext are sealed by state rekey once a key exists; the broker then serves the same credentials", async () => {
    const state = await stateOf(backend);
    const first = await startBroker(plaintextConfig, state.dir, state.env);
    const { iid, bid, sent, credentials } = await bindWithPassword(first.osb);
    expect(credentials.password).toBe(sent);
    await first.broker.close();
    // Without a key the password is on disk in clear: this test can see what it looks for.
    expect(await state.raw()).toContain(sent);

    const key = generateKey();
    const rekey = await runState(["rekey", ...state.cli], { BROKER_ENCRYPTION_KEY: key });
    expect(rekey.code, rekey.stderr).toBe(0);
    expect(rekey.stdout).toMatch(/re-sealed [1-9]\d* value/);
    const raw = await state.raw();
    expect(raw).toContain(bid);
    expect(raw).not.toContain(sent);
    const exported = JSON.parse((await runState(["export", ...state.cli])).stdout);
    for (const field of ["workflowParameters", "result", "parameters", "seed"])
      expect(isSealed(exported.bindings[bid][field]), field).toBe(true);
    // Idempotent: nothing left to seal.
    expect((await runState(["rekey", ...state.cli], { BROKER_ENCRYPTION_KEY: key })).stdout).toMatch(
      /re-sealed 0 value/,
    );

    const second = await startBroker(sealedConfig, state.dir, { ...state.env, BROKER_ENCRYPTION_KEY: key });
    const fetched = await second.osb.get(bindingPath(iid, bid));
    expect(fetched.status).toBe(200);
    expect(fetched.body.credentials).toEqual(credentials);
    await second.broker.close();
  });
});
