/**
 * Bindings under configurations other than the example: a plan that is not bindable,
 * credential templates reading outputs or secrets the deployment lacks (the bind must fail
 * cleanly, naming what is missing, and store nothing), and the encryption-key requirement for
 * bindable plans (allow_plaintext as the documented escape hatch). Each config is a copy of
 * broker.yaml edited in memory and written to a temporary file.
 */
import { rm } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { startEmulator } from "../emulator/index.js";
import { stateCommand } from "../src/cli/commands/state.js";
import { ConfigError } from "../src/config/issues.js";
import { silentLogger } from "../src/log/logger.js";
import { startBrokerServer } from "../src/server/broker-server.js";
import {
  ASYNC,
  bindBody,
  bindingPath,
  exampleConfig,
  expectError,
  lastBindingOperation,
  SYNC,
  unbindQuery,
  userExecutions,
  usernameOf,
  waitForBinding,
  writeConfig,
} from "./fixtures/bindings-helpers.js";
import { textSink } from "./fixtures/state-helpers.js";
import {
  brokerEnv,
  FAST_TIMINGS,
  newId,
  PG,
  provisionBody,
  provisionInstance,
  REDIS,
  type Stack,
  useStack,
  type ValidatingOsbClient,
  validatingClient,
} from "./support/stack.js";

/** Plans added to the example config for these tests. */
const NOBIND = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a35";
const BROKEN = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a36";
const NOSECRET = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a37";
const SMALL_BROKEN = "0b5e7b8e-6a0e-4f1f-8d2c-1c9e2f3a4b03";
const RAW = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a38";

// biome-ignore lint/suspicious/noExplicitAny: tests edit the YAML tree freely
type Plan = Record<string, any>;

function variantConfig() {
  const config = exampleConfig();
  const [pgService, redisService] = config.services;
  const cacheLarge: Plan = redisService.plans.find((p: Plan) => p.name === "cache-large");
  const small: Plan = pgService.plans.find((p: Plan) => p.name === "small");
  const copy = (plan: Plan, id: string, name: string): Plan => ({
    ...structuredClone(plan),
    id,
    name,
    description: `${name} (test)`,
  });
  const nobind = copy(cacheLarge, NOBIND, "cache-nobind");
  nobind.bindable = false;
  delete nobind.binding;
  const broken = copy(cacheLarge, BROKEN, "cache-broken");
  broken.binding.credentials.replica_host = "{{outputs.replica_host}}";
  const nosecret = copy(cacheLarge, NOSECRET, "cache-nosecret");
  nosecret.binding.credentials.ca_certificate = "{{secret 'redis_ca_cert'}}";
  const smallBroken = copy(small, SMALL_BROKEN, "small-broken");
  smallBroken.binding.credentials.replica_host = "{{outputs.replica_host}}";
  const raw = copy(cacheLarge, RAW, "cache-raw");
  raw.binding = { mode: "outputs" };
  redisService.plans.push(nobind, broken, nosecret, raw);
  pgService.plans.push(smallBroken);
  return config;
}

let stack: Stack;
let osb: ValidatingOsbClient;
let configFile: string;

useStack(
  (started) => ({ stack, osb } = started),
  async () => {
    configFile = await writeConfig(variantConfig());
    return { configFile };
  },
);

const redisBody = (planId: string) => ({ ...bindBody(REDIS.large), plan_id: planId });

async function provision(planId: string, service = REDIS.service): Promise<string> {
  const iid = newId();
  await provisionInstance(osb, iid, { ...provisionBody(REDIS.large), service_id: service, plan_id: planId });
  return iid;
}

/** No record of the binding anywhere: GETB 404, LOB 404, UNBIND 410, and none in the state. */
async function expectNothingStored(iid: string, bid: string, planId: string) {
  expectError(await osb.get(bindingPath(iid, bid)), 404, "NotFound");
  expectError(await lastBindingOperation(osb, iid, bid), 404, "NotFound");
  const out = textSink();
  const err = textSink();
  const code = await stateCommand(["export", "--state", stack.stateDir], {
    stdout: out.stream,
    stderr: err.stream,
    env: {},
  });
  expect(code, err.text()).toBe(0);
  const state = JSON.parse(out.text()) as Record<string, Record<string, unknown>>;
  expect(Object.keys(state.bindings ?? {})).not.toContain(bid);
  expectError(
    await osb.delete(bindingPath(iid, bid), {
      query: { ...unbindQuery(planId).query, service_id: REDIS.service },
    }),
    410,
    "Gone",
  );
}

describe("BIND on a plan that is not bindable", () => {
  it("CAT C6 the catalog marks the plan not bindable", async () => {
    const catalog = await osb.get("/v2/catalog");
    const plan = catalog.body.services
      .find((s: { id: string }) => s.id === REDIS.service)
      .plans.find((p: { id: string }) => p.id === NOBIND);
    expect(plan.bindable).toBe(false);
  });

  it("BIND on a non-bindable plan is refused with a description saying so; nothing stored", async () => {
    const iid = await provision(NOBIND);
    const bid = newId();
    for (const options of [SYNC, ASYNC]) {
      const response = await osb.put(bindingPath(iid, bid), redisBody(NOBIND), options);
      expect(response.status).toBe(422);
      expect(response.body.description).toMatch(/not bindable/);
      expect(response.body.description).toContain("cache-nobind");
    }
    await expectNothingStored(iid, bid, NOBIND);
  });
});

describe("BIND without a credentials template", () => {
  it("BIND 201 the credentials are the deployment's outputs overlaid with its capabilities", async () => {
    const iid = await provision(RAW);
    const created = await osb.put(bindingPath(iid, newId()), redisBody(RAW), SYNC);
    expect(created.status).toBe(201);
    const cache = stack.emulator!.state.nodeInstances(`osb-${iid}`).find((n) => n.nodeId === "cache")!
      .runtimeProperties as Record<string, unknown>;
    expect(created.body.credentials).toEqual({
      host: cache.host,
      port: 6379,
      tls: true,
      password: cache.password,
      uri: `rediss://:${cache.password}@${cache.host}:6379`,
    });
    expect(created.body).not.toHaveProperty("syslog_drain_url");
  });
});

describe("BIND when Cloudify lacks what the credentials read", () => {
  it("BIND outputs mode: an output the blueprint lacks fails the bind, naming the output and the plan; nothing stored", async () => {
    const iid = await provision(BROKEN);
    const bid = newId();
    const response = await osb.put(bindingPath(iid, bid), redisBody(BROKEN), SYNC);
    expect(response.status).toBe(500);
    expect(response.body.error).toBe("InternalError");
    expect(response.body.description).toContain('"replica_host"');
    expect(response.body.description).toContain("output");
    expect(response.body.description).toContain("cache-broken");
    await expectNothingStored(iid, bid, BROKEN);
    // Not a transient failure: the same bind fails the same way again.
    expect((await osb.put(bindingPath(iid, bid), redisBody(BROKEN), SYNC)).status).toBe(response.status);
  });

  it("BIND outputs mode: a Cloudify secret that does not exist fails the bind, naming the secret and the plan; nothing stored", async () => {
    const iid = await provision(NOSECRET);
    const bid = newId();
    const response = await osb.put(bindingPath(iid, bid), redisBody(NOSECRET), SYNC);
    expect(response.status).toBe(500);
    expect(response.body.description).toContain('"redis_ca_cert"');
    expect(response.body.description).toContain("cache-nosecret");
    await expectNothingStored(iid, bid, NOSECRET);
    // Once the secret exists, the bind works and carries it.
    stack.emulator!.state.putSecret(
      "redis_ca_cert",
      "-----BEGIN CERTIFICATE-----\nredis\n-----END CERTIFICATE-----",
    );
    const created = await osb.put(bindingPath(iid, bid), redisBody(NOSECRET), SYNC);
    expect(created.status).toBe(201);
    expect(created.body.credentials.ca_certificate).toContain("redis");
  });

  it("BIND workflow mode: an output the blueprint lacks fails the bind (LOB failed naming the output and plan), GETB 404, unbind revokes the user", async () => {
    const iid = newId();
    await provisionInstance(osb, iid, provisionBody(PG.small, { plan_id: SMALL_BROKEN }));
    const bid = newId();
    const body = { ...bindBody(PG.small), plan_id: SMALL_BROKEN };
    expect((await osb.put(bindingPath(iid, bid), body, ASYNC)).status).toBe(202);
    const last = await waitForBinding(osb, iid, bid);
    expect(last.body.state).toBe("failed");
    expect(last.body.description).toContain('"replica_host"');
    expect(last.body.description).toContain("small-broken");
    expectError(await osb.get(bindingPath(iid, bid)), 404, "NotFound");
    // create_user did run; the platform's orphan-mitigating unbind removes the user again.
    const emulator = stack.emulator!;
    expect(userExecutions(emulator, iid, "create_user", usernameOf(bid))).toHaveLength(1);
    const unbind = await osb.delete(bindingPath(iid, bid), {
      query: { service_id: PG.service, plan_id: SMALL_BROKEN, accepts_incomplete: "true" },
    });
    expect(unbind.status).toBe(202);
    expect((await waitForBinding(osb, iid, bid)).body.state).toBe("succeeded");
    expect(userExecutions(emulator, iid, "delete_user", usernameOf(bid))).toHaveLength(1);
  });
});

describe("encryption key for bindable plans", () => {
  async function tryStart(config: string, env: Record<string, string | undefined>) {
    const emulator = await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger });
    const stateDir = `${stack.stateDir}-${newId()}`;
    const full: Record<string, string | undefined> = brokerEnv(emulator.url, stateDir);
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete full[key];
      else full[key] = value;
    }
    try {
      const broker = await startBrokerServer({ configFile: config, env: full, logger: silentLogger });
      return { broker, emulator, env: full as Record<string, string>, stateDir };
    } catch (error) {
      await emulator.close();
      await rm(stateDir, { recursive: true, force: true });
      throw error;
    }
  }

  const startError = (config: string, env: Record<string, string | undefined>) =>
    tryStart(config, env).then(
      async (started) => {
        await started.broker.close();
        await started.emulator.close();
        return undefined;
      },
      (e: unknown) => e,
    );
  const messages = (error: unknown) =>
    (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`).join("\n");

  it("the broker refuses to start with a bindable plan and no encryption key, naming broker.encryption", async () => {
    const config = variantConfig();
    config.broker.encryption = { allow_plaintext: false };
    const error = await startError(await writeConfig(config), {});
    expect(error).toBeInstanceOf(ConfigError);
    expect(messages(error)).toMatch(/bindable.*no encryption key/);
    expect(messages(error)).toContain("broker.encryption");
  });

  it("the example broker.yaml refuses to start when BROKER_ENCRYPTION_KEY is unset or empty", async () => {
    for (const key of [undefined, ""]) {
      const error = await startError(configFile, { BROKER_ENCRYPTION_KEY: key });
      expect(error, `BROKER_ENCRYPTION_KEY=${JSON.stringify(key)}`).toBeInstanceOf(ConfigError);
      expect(messages(error)).toContain("BROKER_ENCRYPTION_KEY");
    }
  });

  it("allow_plaintext: true lets it start without a key, and binds work", async () => {
    const config = variantConfig();
    config.broker.encryption = { allow_plaintext: true };
    const file = await writeConfig(config);
    const started = await tryStart(file, {});
    try {
      const client = validatingClient({ broker: started.broker, env: started.env });
      const iid = newId();
      await provisionInstance(client, iid, provisionBody(REDIS.large));
      const response = await client.put(bindingPath(iid, newId()), bindBody(REDIS.large), SYNC);
      expect(response.status).toBe(201);
      expect(typeof response.body.credentials.password).toBe("string");
    } finally {
      await started.broker.close();
      await started.emulator.close();
      await rm(started.stateDir, { recursive: true, force: true });
    }
  });

  it("a broker without bindable plans starts without a key", async () => {
    const config = variantConfig();
    for (const service of config.services) {
      service.bindable = false;
      for (const plan of service.plans) {
        plan.bindable = false;
        delete plan.binding;
        delete plan.binding_rotatable;
        if (plan.schemas) delete plan.schemas.service_binding;
      }
    }
    config.broker.encryption = { allow_plaintext: false };
    const file = await writeConfig(config);
    const started = await tryStart(file, {});
    await started.broker.close();
    await started.emulator.close();
    await rm(started.stateDir, { recursive: true, force: true });
  });
});
