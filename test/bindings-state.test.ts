/**
 * Binding secrets at rest: after binds in both modes, no file of the state directory holds a
 * credential (or a binding parameter) in plain text; `cfy-broker state export` shows them only
 * with --decrypt and the key; `state rekey` re-encrypts everything under a new key, after
 * which the broker serves the same credentials with only the new key.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorHandle } from "../emulator/index.js";
import { stateCommand } from "../src/cli/commands/state.js";
import { generateKey, isSealed } from "../src/crypto/index.js";
import { silentLogger } from "../src/log/logger.js";
import { type BrokerServer, startBrokerServer } from "../src/server/broker-server.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  filesContaining,
  filesUnder,
  SYNC,
  unbindQuery,
  waitForBinding,
} from "./fixtures/bindings-helpers.js";
import { textSink } from "./fixtures/state-helpers.js";
import {
  brokerEnv,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  startStack,
  type ValidatingOsbClient,
  validatingClient,
} from "./support/stack.js";

const PARAMETER_SECRET = "parameter-value-nobody-may-read-8d1f";

let stack: Stack;
let emulator: EmulatorHandle;
let osb: ValidatingOsbClient;
let restarted: BrokerServer | undefined;
const OLD_KEY = generateKey();
const NEW_KEY = generateKey();

/** Binding id → [instance id, plan id, credentials as the platform got them]. */
const bindings = new Map<string, { iid: string; planId: string; credentials: Record<string, unknown> }>();
/** Every secret string the platform received: passwords and URIs. */
const secrets: string[] = [];

beforeAll(async () => {
  stack = await startStack({ env: { BROKER_ENCRYPTION_KEY: OLD_KEY } });
  emulator = stack.emulator!;
  osb = validatingClient(stack);
  const [small, large, redis] = [newId(), newId(), newId()];
  await Promise.all([
    provisionInstance(osb, small, provisionBody(PG.small)),
    provisionInstance(osb, large, provisionBody(PG.large)),
    provisionInstance(osb, redis, provisionBody(REDIS.small)),
  ]);
  // Workflow mode: async, credentials from GETB.
  const workflowBid = newId();
  expect((await osb.put(bindingPath(small, workflowBid), bindBody(PG.small), ASYNC)).status).toBe(202);
  expect((await waitForBinding(osb, small, workflowBid)).body.state).toBe("succeeded");
  const fetched = await osb.get(bindingPath(small, workflowBid));
  bindings.set(workflowBid, { iid: small, planId: PG.small, credentials: fetched.body.credentials });
  // Outputs mode, with a parameter a user might put a secret in.
  for (const [iid, planId, extra] of [
    [large, PG.large, { parameters: { token: PARAMETER_SECRET } }],
    [redis, REDIS.small, {}],
  ] as const) {
    const bid = newId();
    const created = await osb.put(bindingPath(iid, bid), bindBody(planId, extra), SYNC);
    expect(created.status).toBe(201);
    bindings.set(bid, { iid, planId, credentials: created.body.credentials });
  }
  for (const { credentials } of bindings.values()) {
    secrets.push(String(credentials.password), String(credentials.uri));
  }
  expect(secrets.every((s) => s.length >= 16)).toBe(true);
});
afterAll(async () => {
  await restarted?.close();
  await stack?.broker.close().catch(() => undefined);
  await emulator?.close();
  if (stack) await rm(stack.stateDir, { recursive: true, force: true });
});

async function runState(args: string[], env: Record<string, string | undefined>) {
  const out = textSink();
  const err = textSink();
  const code = await stateCommand(args, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

function expectNoPlaintext(dir: string) {
  expect(filesUnder(dir).length).toBeGreaterThan(0);
  for (const secret of [...secrets, PARAMETER_SECRET]) {
    expect(filesContaining(dir, secret), `state files holding ${secret.slice(0, 4)}…`).toEqual([]);
  }
}

describe("binding secrets at rest", () => {
  it("no file of the state directory holds a credential or binding parameter in plain text", () => {
    expectNoPlaintext(stack.stateDir);
  });

  it("state export shows bindings' credentials, parameters and seeds only as sealed envelopes", async () => {
    const { code, stdout, stderr } = await runState(["export", "--state", stack.stateDir], {});
    expect(code, stderr).toBe(0);
    for (const secret of [...secrets, PARAMETER_SECRET]) expect(stdout).not.toContain(secret);
    const state = JSON.parse(stdout);
    for (const bid of bindings.keys()) {
      const record = state.bindings[bid];
      expect(record.status).toBe("bound");
      expect(isSealed(record.result)).toBe(true);
      expect(isSealed(record.parameters)).toBe(true);
      expect(isSealed(record.seed)).toBe(true);
    }
  });

  it("state export --decrypt with the key shows the credentials the platform got", async () => {
    const { code, stdout, stderr } = await runState(["export", "--state", stack.stateDir, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: OLD_KEY,
    });
    expect(code, stderr).toBe(0);
    const state = JSON.parse(stdout);
    for (const [bid, { credentials }] of bindings) {
      expect(state.bindings[bid].result.credentials).toEqual(credentials);
    }
    expect(stdout).toContain(PARAMETER_SECRET);
  });

  it("state export --decrypt with a wrong key fails without printing state", async () => {
    const { code, stdout } = await runState(["export", "--state", stack.stateDir, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: NEW_KEY,
    });
    expect(code).not.toBe(0);
    for (const secret of secrets) expect(stdout).not.toContain(secret);
  });

  it("state rekey re-encrypts under the new key: the old key no longer opens the state, the broker serves the same credentials with only the new key", async () => {
    await stack.broker.close();
    const keyFile = join(stack.stateDir, "..", `old-${newId()}.key`);
    writeFileSync(keyFile, `${OLD_KEY}\n`);
    chmodSync(keyFile, 0o600);
    try {
      const rekey = await runState(["rekey", "--state", stack.stateDir, "--key-file", keyFile], {
        BROKER_ENCRYPTION_KEY: NEW_KEY,
      });
      expect(rekey.code, rekey.stderr).toBe(0);
      expect(rekey.stdout).toMatch(/re-sealed \d+ value/);
    } finally {
      await rm(keyFile, { force: true });
    }
    expectNoPlaintext(stack.stateDir);
    const withOld = await runState(["export", "--state", stack.stateDir, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: OLD_KEY,
    });
    expect(withOld.code).not.toBe(0);
    const withNew = await runState(["export", "--state", stack.stateDir, "--decrypt"], {
      BROKER_ENCRYPTION_KEY: NEW_KEY,
    });
    expect(withNew.code, withNew.stderr).toBe(0);
    for (const secret of secrets) expect(withNew.stdout).toContain(secret);

    const env = brokerEnv(emulator.url, stack.stateDir, { BROKER_ENCRYPTION_KEY: NEW_KEY });
    restarted = await startBrokerServer({ configFile: stack.broker.config.file, env, logger: silentLogger });
    const client = validatingClient({ broker: restarted, env });
    for (const [bid, { iid, planId, credentials }] of bindings) {
      const fetched = await client.get(bindingPath(iid, bid));
      expect(fetched.status).toBe(200);
      expect(fetched.body.credentials).toEqual(credentials);
      // An identical re-send answers 200 with the credentials, opened with the new key.
      const extra = planId === PG.large ? { parameters: { token: PARAMETER_SECRET } } : {};
      const again = await client.put(bindingPath(iid, bid), bindBody(planId, extra), ASYNC);
      expect(again.status).toBe(200);
      expect(again.body.credentials).toEqual(credentials);
    }
    // The workflow binding's unbind renders its delete_user from sealed data: it still works.
    const [workflowBid, workflow] = [...bindings].find(([, b]) => b.planId === PG.small)!;
    const unbind = await client.delete(bindingPath(workflow.iid, workflowBid), unbindQuery(PG.small));
    expect(unbind.status).toBe(202);
    expect((await waitForBinding(client, workflow.iid, workflowBid)).body.state).toBe("succeeded");
  });
});
