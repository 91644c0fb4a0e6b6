import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type EmulatorHandle, type EmulatorOptions, startEmulator } from "../../emulator/index.js";
import { type Logger, silentLogger } from "../../src/log/logger.js";
import { type BrokerServer, startBrokerServer } from "../../src/server/broker-server.js";
import { packageRoot } from "../../src/util/package-root.js";
import { PG, REDIS } from "./catalog-ids.js";
import { OsbClient, type OsbResponse, type RequestOptions } from "./osb-client.js";
import { pathTemplateFor, validateResponse } from "./osb-openapi.js";
import { stateBackendEnv } from "./postgres.js";

export { PG, REDIS };

export const FAST_TIMINGS = {
  pendingMs: 5,
  createEnvMs: 20,
  deleteEnvMs: 20,
  workflowMs: 30,
  cancelMs: 5,
  scale: 0.01,
};

export interface StackOptions {
  emulator?: EmulatorOptions | false;
  /** Extra or overriding environment for the broker (the example broker.yaml reads it). */
  env?: Record<string, string>;
  configFile?: string;
  stateDir?: string;
  janitorIntervalMs?: number;
  /** The broker's logger (default silent), e.g. to assert on what the log keeps. */
  logger?: Logger;
}

export interface Stack {
  emulator?: EmulatorHandle;
  broker: BrokerServer;
  osb: OsbClient;
  stateDir: string;
  env: Record<string, string>;
  stop(options?: { keepState?: boolean }): Promise<void>;
}

/** The environment that runs the example broker.yaml against an emulator at `cloudifyUrl`. */
export function brokerEnv(
  cloudifyUrl: string,
  stateDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    BROKER_USERNAME: "platform",
    BROKER_PASSWORD: "s3cret-platform-password",
    BROKER_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    BROKER_HOST: "127.0.0.1",
    BROKER_PORT: "0",
    BROKER_STATE_DIR: stateDir,
    BROKER_POLL_INTERVAL_MS: "20",
    BROKER_RETRY_AFTER_SECONDS: "1",
    CLOUDIFY_URL: cloudifyUrl,
    // Long enough for the emulator's late-performed requests (gateway_timeout faults), short
    // enough that a request that was really lost is sent again within a test.
    CLOUDIFY_LOOKUP_WINDOW_MS: "1500",
    LOG_LEVEL: "silent",
    ...stateBackendEnv(stateDir),
    ...extra,
  };
}

/** The emulator and the broker (in this process), talking real HTTP on 127.0.0.1. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const emulator =
    options.emulator === false
      ? undefined
      : await startEmulator({ timings: FAST_TIMINGS, logger: silentLogger, ...options.emulator });
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), "osb-state-")));
  const env = brokerEnv(emulator?.url ?? "http://127.0.0.1:9", stateDir, options.env);
  const broker = await startBrokerServer({
    configFile: options.configFile ?? join(packageRoot(), "broker.yaml"),
    env,
    logger: options.logger ?? silentLogger,
    janitorIntervalMs: options.janitorIntervalMs,
  });
  const osb = new OsbClient(broker.url, env.BROKER_USERNAME!, env.BROKER_PASSWORD!);
  const stack: Stack = {
    emulator,
    broker,
    osb,
    stateDir,
    env,
    async stop({ keepState = false } = {}) {
      await broker.close();
      // The emulator in place now: a test may have stopped it and started another.
      await stack.emulator?.close();
      if (!keepState) await rm(stateDir, { recursive: true, force: true });
    },
  };
  return stack;
}

export function newId(): string {
  return randomUUID();
}

export function provisionBody(planId = PG.small, extra: Record<string, unknown> = {}) {
  return {
    service_id: planId === REDIS.small || planId === REDIS.large ? REDIS.service : PG.service,
    plan_id: planId,
    organization_guid: "org-guid-1",
    space_guid: "space-guid-1",
    context: {
      platform: "cloudfoundry",
      organization_guid: "org-guid-1",
      space_guid: "space-guid-1",
      instance_name: "orders-db",
    },
    maintenance_info: {},
    ...extra,
  };
}

/** Polls last_operation until it leaves `in progress` (bounded), returning the final answer. */
export async function waitForInstanceOperation(
  osb: OsbClient,
  instanceId: string,
  timeoutMs = 15_000,
): Promise<OsbResponse> {
  return waitFor(() => osb.get(`/v2/service_instances/${instanceId}/last_operation`), timeoutMs);
}

export async function waitFor(poll: () => Promise<OsbResponse>, timeoutMs = 15_000): Promise<OsbResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await poll();
    if (response.status !== 200 || response.body?.state !== "in progress") return response;
    if (Date.now() > deadline)
      throw new Error(`still in progress after ${timeoutMs} ms: ${JSON.stringify(response.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Provisions and waits; fails the test unless it succeeded. */
export async function provisionInstance(
  osb: OsbClient,
  instanceId: string,
  body = provisionBody(),
): Promise<void> {
  const response = await osb.put(`/v2/service_instances/${instanceId}`, body, {
    query: { accepts_incomplete: "true" },
  });
  if (response.status !== 202)
    throw new Error(`provision answered ${response.status}: ${JSON.stringify(response.body)}`);
  const last = await waitForInstanceOperation(osb, instanceId);
  if (last.body?.state !== "succeeded") throw new Error(`provision ended ${JSON.stringify(last.body)}`);
}

/**
 * An OSB client that checks every answer against schema/osb-openapi.yaml: each 2xx must be
 * `application/json` with a body valid for its operation and status (X9), and every error
 * status must be one the document declares, with a valid error body. A violation throws, so
 * the test making the request fails on it.
 */
export class ValidatingOsbClient extends OsbClient {
  override async request(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<OsbResponse> {
    const response = await super.request(method, path, body, options);
    const template = pathTemplateFor(path);
    if (!template) throw new Error(`no OpenAPI path template for ${path}`);
    const problems: string[] = [];
    if (response.status >= 200 && response.status < 300) {
      const type = response.headers.get("content-type") ?? "";
      if (!type.startsWith("application/json")) problems.push(`2xx with Content-Type ${type || "(none)"}`);
    }
    problems.push(...validateResponse(method, template, response.status, response.body));
    if (problems.length) {
      throw new Error(
        `${method} ${path} answered ${response.status} ${JSON.stringify(response.body)}, which does not match the OSB OpenAPI document: ${problems.join("; ")}`,
      );
    }
    return response;
  }
}

/** The stack's broker through a validating client. */
export function validatingClient(stack: Pick<Stack, "broker" | "env">): ValidatingOsbClient {
  return new ValidatingOsbClient(stack.broker.url, stack.env.BROKER_USERNAME!, stack.env.BROKER_PASSWORD!);
}

/** Query of async requests (`accepts_incomplete=true`). */
export const ASYNC = { query: { accepts_incomplete: "true" } };
export const instancePath = (id: string) => `/v2/service_instances/${id}`;
/** The emulator path of an instance's deployment (the broker names it `osb-<instance id>`). */
export const deploymentPath = (id: string) => `/api/v3.1/deployments/osb-${id}`;

/**
 * Keeps Cloudify from accepting requests matching `method path*` (503, as a proxy would send)
 * until the returned function is called: whatever the broker is doing waits there, in flight,
 * deterministically and without timing assumptions.
 */
export function hold(emulator: EmulatorHandle, method: string, path: string): () => void {
  const id = emulator.faults.add({ type: "http_error", status: 503, method, path, times: 1_000_000 });
  return () => {
    emulator.faults.remove(id);
  };
}

/** The stack with a client that checks every answer against schema/osb-openapi.yaml. */
export async function startValidatingStack(options: StackOptions = {}): Promise<StartedStack> {
  const stack = await startStack(options);
  return { stack, osb: validatingClient(stack), emulator: stack.emulator! };
}

export interface StartedStack {
  stack: Stack;
  /** A client that checks every answer against schema/osb-openapi.yaml. */
  osb: ValidatingOsbClient;
  /** Absent (undefined) when the stack was started with `emulator: false`. */
  emulator: EmulatorHandle;
}

/**
 * The stack of a test file (or of the describe block it is called in): started before its
 * tests with `options` (or what `options()` resolves to, when something must be prepared
 * first, such as a config file), handed to `use` (which assigns it to the file's variables
 * and may do shared setup, such as provisioning), and stopped after the tests.
 */
export function useStack(
  use: (started: StartedStack) => unknown,
  options: StackOptions | (() => Promise<StackOptions>) = {},
): void {
  let stack: Stack | undefined;
  beforeAll(async () => {
    const started = await startValidatingStack(typeof options === "function" ? await options() : options);
    stack = started.stack;
    await use(started);
  });
  afterAll(async () => {
    await stack?.stop();
  });
}
