import { join } from "node:path";
import { expect } from "vitest";
import { BindingService } from "../../src/broker/bindings/binding-service.js";
import { BrokerFailure } from "../../src/broker/failures.js";
import { InstanceService } from "../../src/broker/instances/instance-service.js";
import {
  BINDINGS,
  type BindingRecord,
  INSTANCES,
  type InstanceRecord,
} from "../../src/broker/model/records.js";
import { Sealer } from "../../src/broker/model/sealing.js";
import { bindingMachines, bindingStatusAfter } from "../../src/broker/operations/binding-machines.js";
import {
  deprovisionMachine,
  instanceStatusAfter,
  provisionMachine,
  updateMachine,
} from "../../src/broker/operations/instance-machines.js";
import { KeyedMutex } from "../../src/broker/operations/keyed-mutex.js";
import { OperationEngine } from "../../src/broker/operations/operation-engine.js";
import type { CompiledCatalog } from "../../src/config/compile-catalog.js";
import { loadConfig } from "../../src/config/load.js";
import { keyringFromSpecs } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/log/logger.js";
import { MemoryStateStore } from "../../src/state/index.js";
import { packageRoot } from "../../src/util/package-root.js";
import { PG } from "./catalog-ids.js";
import { FakeCloudify } from "./fake-cloudify.js";

/**
 * The domain (instance and binding services, the operation engine and its step machines) wired
 * as the server wires it, but on the in-memory state store and the FakeCloudify port, with a
 * clock the test moves. Nothing here listens on a port or starts a process: the domain tests
 * (test/domain/) run in well under a second each.
 */

let example: Promise<CompiledCatalog> | undefined;

/** The catalog of the example broker.yaml, which the HTTP suites run against too. */
export function exampleCatalog(): Promise<CompiledCatalog> {
  example ??= loadConfig(join(packageRoot(), "broker.yaml"), {
    mode: "validate",
    env: { BROKER_USERNAME: "platform", BROKER_PASSWORD: "pw", BROKER_ENCRYPTION_KEY: KEY },
  }).then(({ loaded, issues }) => {
    if (!loaded) throw new Error(`the example broker.yaml does not load: ${JSON.stringify(issues)}`);
    return loaded.catalog;
  });
  return example;
}

const KEY = Buffer.alloc(32, 7).toString("base64");
const START = Date.parse("2026-01-01T00:00:00Z");

export interface DomainOptions {
  catalog?: CompiledCatalog;
  /** Default 7200 s, as in the example. */
  defaultTimeoutSeconds?: number;
  tombstoneSeconds?: number;
  /** How long a synchronous bind reuses what an earlier one read (default 0: never). */
  reuseDeploymentReadsMs?: number;
}

/** An engine whose kicks (including the services' own, after a commit) the test can wait for. */
class ObservedEngine extends OperationEngine {
  private readonly pending = new Set<Promise<void>>();

  override kick(collection: string, id: string): Promise<void> {
    const run = super.kick(collection, id);
    this.pending.add(run);
    void run.finally(() => this.pending.delete(run));
    return run;
  }

  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}

export class Domain {
  readonly mutex = new KeyedMutex();
  readonly engine: ObservedEngine;
  readonly instances: InstanceService;
  readonly bindings: BindingService;

  private constructor(
    readonly store: MemoryStateStore,
    readonly cloudify: FakeCloudify,
    readonly clock: Clock,
    readonly catalog: CompiledCatalog,
    private readonly options: DomainOptions,
  ) {
    const now = () => clock.now;
    const settings = () => ({
      defaultTimeoutSeconds: options.defaultTimeoutSeconds ?? 7200,
      tombstoneSeconds: options.tombstoneSeconds ?? 3600,
    });
    const sealer = new Sealer(keyringFromSpecs([KEY]));
    this.engine = new ObservedEngine({
      store,
      cloudify,
      mutex: this.mutex,
      log: silentLogger,
      settings: () => ({ pollIntervalMs: 1000, maxBackoffMs: 60_000, lookupWindowMs: 180_000 }),
      now,
    });
    this.engine.register<InstanceRecord>({
      collection: INSTANCES,
      logField: "instance_id",
      machine: (op) =>
        op.type === "provision"
          ? provisionMachine
          : op.type === "update"
            ? updateMachine
            : deprovisionMachine,
      lockKey: (record) => record.id,
      onFinished: instanceStatusAfter,
    });
    const machines = bindingMachines({ store, catalog: () => catalog, sealer });
    this.engine.register<BindingRecord>({
      collection: BINDINGS,
      logField: "binding_id",
      machine: (op) => (op.type === "bind" ? machines.bind : machines.unbind),
      lockKey: (record) => record.instanceId,
      onFinished: bindingStatusAfter,
    });
    const common = { store, engine: this.engine, mutex: this.mutex, log: silentLogger, now, settings };
    this.instances = new InstanceService({
      ...common,
      catalog: () => catalog,
      derived: () => undefined,
    });
    this.bindings = new BindingService({
      ...common,
      cloudify,
      sealer,
      catalog: () => catalog,
      reuseDeploymentReadsMs: () => options.reuseDeploymentReadsMs ?? 0,
    });
  }

  static async create(options: DomainOptions = {}): Promise<Domain> {
    const store = new MemoryStateStore();
    await store.open();
    const catalog = options.catalog ?? (await exampleCatalog());
    return new Domain(store, new FakeCloudify(), { now: START }, catalog, options);
  }

  /**
   * A broker restarted on the same state and the same manager: new engine, services and locks,
   * nothing remembered in memory. Waits for this one's engine first.
   */
  async restart(): Promise<Domain> {
    await this.engine.idle();
    return new Domain(this.store, this.cloudify, this.clock, this.catalog, this.options);
  }

  /** Runs the engine on a resource until it waits for Cloudify or its operation ends. */
  async advance(collection: typeof INSTANCES | typeof BINDINGS, id: string): Promise<void> {
    await this.engine.idle();
    await this.engine.kick(collection, id);
    await this.engine.idle();
  }

  instance(id: string): InstanceRecord {
    const record = this.store.get<InstanceRecord>(INSTANCES, id);
    if (!record) throw new Error(`no instance record ${id}`);
    return record;
  }

  binding(id: string): BindingRecord {
    const record = this.store.get<BindingRecord>(BINDINGS, id);
    if (!record) throw new Error(`no binding record ${id}`);
    return record;
  }

  /**
   * What the example blueprint's create_user and delete_user do to the deployment: a database
   * user named by the workflow's `username`, with the password `pw-of-<username>`; and its removal.
   */
  withUserWorkflows(): this {
    this.cloudify.effects.set("create_user", (deployment, parameters) => {
      const users = deployment.capabilities.users as Record<string, unknown>;
      users[parameters.username as string] = { password: `pw-of-${parameters.username}` };
    });
    this.cloudify.effects.set("delete_user", (deployment, parameters) => {
      delete (deployment.capabilities.users as Record<string, unknown>)[parameters.username as string];
    });
    return this;
  }

  /** Provisions (pg small unless given) and runs it to the end; the instance must be provisioned. */
  async provisioned(id: string, request: Partial<ProvisionArgs> = {}): Promise<InstanceRecord> {
    await this.instances.provision(provisionRequest(id, request));
    await this.advance(INSTANCES, id);
    const record = this.instance(id);
    if (record.status !== "provisioned")
      throw new Error(`provision ended ${JSON.stringify(record.operation)}`);
    return record;
  }
}

export interface Clock {
  now: number;
}

type ProvisionArgs = Parameters<InstanceService["provision"]>[0];

/** A provision request of the example's pg small plan, as a platform sends it. */
export function provisionRequest(instanceId: string, overrides: Partial<ProvisionArgs> = {}): ProvisionArgs {
  return {
    instanceId,
    serviceId: PG.service,
    planId: PG.small,
    organizationGuid: "org-1",
    spaceGuid: "space-1",
    context: {
      platform: "cloudfoundry",
      organization_guid: "org-1",
      space_guid: "space-1",
      instance_name: "db",
    },
    parameters: {},
    acceptsIncomplete: true,
    ...overrides,
  };
}

/**
 * The domain refused the request: the failure's code (the OSB error the protocol layer will
 * answer with). Every domain test asserts failures through here, so when the domain's failure
 * type changes only this function does.
 */
export async function failureOf(
  call: Promise<unknown> | (() => unknown),
): Promise<{ code: string; description: string }> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (error) {
    if (error instanceof BrokerFailure) return { code: error.kind, description: error.description };
    throw error;
  }
  throw new Error("expected the domain to refuse the request, but it succeeded");
}

/** Asserts the domain refuses with `code`; returns the description for further checks. */
export async function expectFailure(call: Promise<unknown> | (() => unknown), code: string): Promise<string> {
  const failure = await failureOf(call);
  expect(failure.code, failure.description).toBe(code);
  return failure.description;
}
