import { randomBytes } from "node:crypto";
import type { CompiledCatalog, CompiledPlan } from "../../config/compile-catalog.js";
import type { Logger } from "../../log/logger.js";
import type { StateStore } from "../../state/index.js";
import { checkParameters, mergeParameters, type Parameters } from "../catalog/parameters.js";
import type { CloudifyPort } from "../cloudify-port/port.js";
import { asyncRequired, BrokerFailure } from "../failures.js";
import { type OperationStatus, operationStatus } from "../instances/instance-service.js";
import type { OriginatingIdentity } from "../model/identity.js";
import { fingerprint } from "../model/ids.js";
import {
  BINDINGS,
  type BindingRecord,
  type BindingResult,
  INSTANCES,
  type InstanceRecord,
} from "../model/records.js";
import { type Sealer, sealContext } from "../model/sealing.js";
import { refuseIfBusy } from "../operations/busy.js";
import type { KeyedMutex } from "../operations/keyed-mutex.js";
import { Operations, saveAndRun } from "../operations/operation.js";
import type { OperationEngine } from "../operations/operation-engine.js";
import { DeploymentReads } from "./deployment-reads.js";
import {
  bindingContextOf,
  CredentialsError,
  type DeploymentData,
  renderBindingResult,
} from "./render-binding.js";

export interface BindingServiceDeps {
  store: StateStore;
  engine: OperationEngine;
  mutex: KeyedMutex;
  cloudify: CloudifyPort;
  sealer: Sealer;
  log: Logger;
  catalog: () => CompiledCatalog;
  settings: () => { defaultTimeoutSeconds: number; tombstoneSeconds: number };
  /**
   * How long a synchronous bind may reuse the deployment data an earlier bind of the same
   * instance revision read (DeploymentReads); default 0: every bind reads.
   */
  reuseDeploymentReadsMs?: () => number;
  now?: () => number;
}

export interface BindRequest {
  instanceId: string;
  bindingId: string;
  /** Absent on a rotation request, which names only its predecessor (OSB 2.17). */
  serviceId?: string;
  planId?: string;
  appGuid?: string;
  bindResource?: Record<string, unknown>;
  context?: Record<string, unknown>;
  parameters?: Parameters;
  predecessorBindingId?: string;
  acceptsIncomplete: boolean;
  originatingIdentity?: OriginatingIdentity;
}

export interface UnbindRequest {
  instanceId: string;
  bindingId: string;
  serviceId: string;
  planId: string;
  acceptsIncomplete: boolean;
}

/** What a bind or fetch-binding delivers (OSB sections 9 and 10). */
export interface BindingDetails {
  result: BindingResult;
  expiresAt?: string;
  renewBefore?: string;
  /** Only on fetch: the parameters the binding was made with. */
  parameters?: Parameters;
}

export type BindOutcome =
  | { kind: "created"; binding: BindingDetails }
  | { kind: "exists"; binding: BindingDetails }
  | { kind: "accepted"; operation: string };

export type UnbindOutcome = { kind: "done" } | { kind: "accepted"; operation: string };

/** A synchronous bind reads the deployment at most this often before it gives up on a busy instance. */
const MAX_BIND_READS = 3;

/** The bind request as it applies to its instance (rotation and X5 resolved). */
interface EffectiveBindRequest {
  serviceId: string;
  plan: CompiledPlan;
  parameters: Parameters | undefined;
  bindResource: Record<string, unknown> | undefined;
  appGuid: string | undefined;
  context: Record<string, unknown> | undefined;
  print: string;
}

/** A binding about to be made: its first record and what rendering it needs. */
interface BindingDraft {
  record: BindingRecord;
  instance: InstanceRecord;
  plan: CompiledPlan;
  merged: Parameters;
  seed: string;
}

type BindDecision = { kind: "answer"; outcome: BindOutcome } | { kind: "new"; draft: BindingDraft };

/**
 * Service bindings. Bind requests on one instance are decided one at a time (OSB A4 allows
 * it), and the workflows of workflow bindings queue on the instance's deployment. Credentials,
 * parameters and the password seed are sealed before they reach the state.
 */
export class BindingService {
  private readonly operations: Operations<BindingRecord>;
  private readonly reads: DeploymentReads;

  constructor(private readonly deps: BindingServiceDeps) {
    this.operations = new Operations(deps.store, BINDINGS, deps.now ?? Date.now, deps.settings);
    this.reads = new DeploymentReads({
      cloudify: deps.cloudify,
      reuseMs: deps.reuseDeploymentReadsMs ?? (() => 0),
      now: deps.now ?? Date.now,
    });
  }

  /**
   * BIND (OSB section 9). Decided under the instance's lock; a workflow bind is committed there
   * and handed to the engine. A synchronous bind reads the deployment (outputs, capabilities,
   * secrets, with retries) *outside* the lock, so a slow manager never holds the instance's other
   * requests, then decides again under the lock and commits only if nothing changed meanwhile.
   */
  async bind(req: BindRequest): Promise<BindOutcome> {
    const decided = await this.deps.mutex.run(req.instanceId, async () => {
      const decision = this.decideBind(req);
      return decision.kind === "new" && decision.draft.plan.binding.mode === "workflow"
        ? this.startWorkflowBind(decision.draft)
        : decision;
    });
    if (decided.kind === "answer") return decided.outcome;
    let draft = decided.draft;
    for (let read = 1; ; read++) {
      const data = await this.readDeployment(draft);
      const committed = await this.deps.mutex.run(req.instanceId, async (): Promise<BindDecision> => {
        // Re-decided: meanwhile the instance may have become busy (A12) or an identical bind
        // may have created the binding (section 12).
        const again = this.decideBind(req);
        if (again.kind === "answer") return again;
        // An operation ran on the instance since the read: the data may be stale; read again.
        if (again.draft.instance.operation.id !== draft.instance.operation.id) return again;
        const outcome = await this.commitSynchronousBind(again.draft, data);
        this.reads.keep(draft.plan, draft.instance, data);
        return { kind: "answer", outcome } as const;
      });
      if (committed.kind === "answer") return committed.outcome;
      if (read >= MAX_BIND_READS) {
        throw new BrokerFailure(
          "ConcurrencyError",
          `Service instance ${req.instanceId} kept changing while its deployment was read; try again.`,
        );
      }
      draft = committed.draft;
    }
  }

  /** Every decision of a bind that needs no Cloudify call, in order; commits nothing. */
  private decideBind(req: BindRequest): BindDecision {
    const instance = this.instance(req.instanceId);
    const existing = this.live(req.bindingId);
    const request = this.effectiveRequest(req, instance, existing);
    const { plan, print } = request;
    if (existing) {
      const answer = this.answerExisting(req, existing, instance, print);
      if (answer) return { kind: "answer", outcome: answer };
      // bind_failed: an identical request tries again.
    }
    // A provision, update or deprovision running on the instance: try again later (A12).
    refuseIfBusy(this.deps.store, instance, "bind");
    if (plan.binding.mode === "workflow" && !req.acceptsIncomplete) throw asyncRequired();
    return { kind: "new", draft: this.draftBinding(req, instance, request) };
  }

  /**
   * The request as it applies: a rotation inherits its predecessor's request (OSB 2.17), an empty
   * bind_resource counts as none (X5), the plan must be the instance's and bindable, and the
   * parameters valid. Its fingerprint says what "identical" means (section 12).
   */
  private effectiveRequest(
    req: BindRequest,
    instance: InstanceRecord,
    existing: BindingRecord | undefined,
  ): EffectiveBindRequest {
    // A re-sent rotation may name a predecessor that is gone by now (unbound once rotated):
    // the binding the rotation made carries the same inherited request, so it answers instead.
    const rotationResend =
      req.predecessorBindingId !== undefined &&
      existing?.instanceId === instance.id &&
      existing.predecessorBindingId === req.predecessorBindingId;
    const predecessor = !req.predecessorBindingId
      ? undefined
      : rotationResend
        ? existing
        : this.predecessor(req, instance);
    const serviceId = req.serviceId ?? instance.serviceId;
    const planId = req.planId ?? instance.planId;
    if (serviceId !== instance.serviceId || planId !== instance.planId) {
      throw new BrokerFailure(
        "BadRequest",
        `service_id and plan_id must be those of instance ${instance.id} (${instance.serviceId}, ${instance.planId}).`,
      );
    }
    const plan = this.plan(planId);
    if (!plan.bindable) throw new BrokerFailure("UnprocessableEntity", `Plan ${plan.name} is not bindable.`);

    // A rotation is a new binding with the predecessor's request and fresh credentials.
    const inherited = predecessor ? this.openParameters(predecessor) : undefined;
    const parameters = req.parameters ?? inherited;
    // osb-checker always sends `"bind_resource": {}`: an empty one is no bind_resource (X5).
    const requestedResource =
      req.bindResource && Object.keys(req.bindResource).length > 0 ? req.bindResource : undefined;
    const bindResource = requestedResource ?? predecessor?.bindResource;
    const appGuid = req.appGuid ?? (bindResource?.app_guid as string | undefined) ?? predecessor?.appGuid;
    const context = req.context ?? predecessor?.context;
    if (plan.binding.requiresApp && !appGuid) {
      throw new BrokerFailure(
        "RequiresApp",
        `Plan ${plan.name} binds only to applications: bind_resource.app_guid is required.`,
      );
    }
    const slot = plan.schemas.bindingCreate;
    if (slot.kind === "explicit") checkParameters(parameters, slot.validate, "binding");

    // "Identical" = same service, plan, parameters, bind_resource, app and predecessor; the
    // context is left out because platforms re-send it with names that may have changed.
    const print = fingerprint({
      serviceId,
      planId,
      parameters: parameters ?? {},
      bindResource,
      appGuid,
      predecessor: req.predecessorBindingId,
    });
    return { serviceId, plan, parameters, bindResource, appGuid, context, print };
  }

  /** The answer to a bind whose id exists (section 12), or undefined when it should be made again. */
  private answerExisting(
    req: BindRequest,
    existing: BindingRecord,
    instance: InstanceRecord,
    print: string,
  ): BindOutcome | undefined {
    if (existing.instanceId !== instance.id || existing.fingerprint !== print) {
      throw new BrokerFailure(
        "Conflict",
        `Service binding ${req.bindingId} already exists with different attributes.`,
      );
    }
    if (existing.status === "bound") return { kind: "exists", binding: this.details(existing) };
    if (existing.status === "binding") {
      // A 202 is only allowed to a request that accepts incomplete operations (A2).
      if (!req.acceptsIncomplete) throw asyncRequired();
      return { kind: "accepted", operation: existing.operation.id };
    }
    if (existing.status === "unbinding")
      throw new BrokerFailure("ConcurrencyError", `Service binding ${req.bindingId} is being unbound.`);
    return undefined;
  }

  /** The record a new binding starts with, its secrets sealed (K1). */
  private draftBinding(
    req: BindRequest,
    instance: InstanceRecord,
    request: EffectiveBindRequest,
  ): BindingDraft {
    const { plan, parameters, print } = request;
    const now = this.operations.now();
    const id = req.bindingId;
    // One seed per binding: every `password`/`uuid` of its templates derives from it (K3).
    const seed = randomBytes(32).toString("base64");
    const slot = plan.schemas.bindingCreate;
    const merged = mergeParameters(
      slot.kind === "explicit" ? slot.schema : undefined,
      undefined,
      undefined,
      parameters,
    );
    const record: BindingRecord = {
      id,
      instanceId: instance.id,
      serviceId: request.serviceId,
      planId: plan.id,
      status: "binding",
      mode: plan.binding.mode,
      fingerprint: print,
      appGuid: request.appGuid,
      bindResource: request.bindResource,
      context: request.context,
      parameters: this.deps.sealer.seal(merged, sealContext(id, "parameters")),
      predecessorBindingId: req.predecessorBindingId,
      originatingIdentity: req.originatingIdentity,
      seed: this.deps.sealer.seal(seed, sealContext(id, "seed")),
      // Every execution an earlier binding with this id ran (its tombstone's too), so none of
      // them is ever adopted as this bind's create workflow.
      executionIds: this.deps.store.get<BindingRecord>(BINDINGS, id)?.executionIds ?? [],
      operation: this.operations.start("bind", "start_workflow", print, plan),
      createdAt: new Date(now).toISOString(),
      ...this.lifetime(plan, now),
    };
    return { record, instance, plan, merged, seed };
  }

  /** Workflow mode: durable, then the engine runs the plan's create workflow (202). */
  private async startWorkflowBind(draft: BindingDraft): Promise<BindDecision> {
    await saveAndRun(this.deps.store, this.deps.engine, BINDINGS, draft.record);
    return { kind: "answer", outcome: { kind: "accepted", operation: draft.record.operation.id } };
  }

  /** Outputs mode: rendered from what was read, stored only when the credentials are complete (201). */
  private async commitSynchronousBind(draft: BindingDraft, data: DeploymentData): Promise<BindOutcome> {
    const { record, instance, plan, merged, seed } = draft;
    let result: BindingResult;
    try {
      result = renderBindingResult(plan, bindingContextOf(record, instance, plan, merged, data), data, seed);
    } catch (error) {
      if (error instanceof CredentialsError) throw new BrokerFailure("InternalError", error.message);
      throw error;
    }
    const done: BindingRecord = {
      ...record,
      status: "bound",
      result: this.deps.sealer.seal(result, sealContext(record.id, "result")),
      operation: {
        ...record.operation,
        state: "succeeded",
        step: "done",
        finishedAt: record.operation.startedAt,
      },
    };
    await this.deps.store.commit([{ type: "put", collection: BINDINGS, id: record.id, value: done }]);
    return { kind: "created", binding: this.details(done) };
  }

  /**
   * What a synchronous bind renders from (outputs, capabilities, secrets); never under the lock.
   * Read once per instance revision (DeploymentReads).
   */
  private async readDeployment(draft: BindingDraft): Promise<DeploymentData> {
    try {
      return await this.reads.read(draft.plan, draft.instance);
    } catch (error) {
      const failure = this.deps.cloudify.classify(error);
      this.deps.log.warn(
        { binding_id: draft.record.id, reason: failure.detail },
        "cannot read the deployment for a bind",
      );
      throw new BrokerFailure(
        "ServiceUnavailable",
        `Cannot read the instance's deployment from Cloudify (${failure.message}); try again.`,
      );
    }
  }

  async unbind(req: UnbindRequest): Promise<UnbindOutcome> {
    return this.deps.mutex.run(req.instanceId, async () => {
      const record = this.live(req.bindingId);
      if (!record || record.instanceId !== req.instanceId) {
        throw new BrokerFailure(
          "Gone",
          `Service binding ${req.bindingId} does not exist on instance ${req.instanceId}.`,
        );
      }
      const op = record.operation;
      if (op.state === "in progress" && op.type === "unbind") {
        if (!req.acceptsIncomplete) throw asyncRequired();
        return { kind: "accepted", operation: op.id };
      }
      const plan = this.deps.catalog().plansById.get(record.planId);
      const revokes = record.mode === "workflow" && Boolean(plan?.binding.delete);
      if (!revokes) {
        // Nothing to undo in Cloudify: forget the binding (and its credentials) now.
        await this.deps.store.commit([{ type: "delete", collection: BINDINGS, id: record.id }]);
        return { kind: "done" };
      }
      if (!req.acceptsIncomplete) throw asyncRequired();
      // The revoke workflow runs on the instance's deployment: not while the instance is busy (A12).
      const instance = this.deps.store.get<InstanceRecord>(INSTANCES, record.instanceId);
      if (instance && instance.status !== "deleted") refuseIfBusy(this.deps.store, instance, "unbind");
      // A bind still running is halted first (OSB section 11), then revoked.
      const halting = op.state === "in progress" && op.type === "bind";
      const operation = this.operations.start(
        "unbind",
        halting ? "cancel_bind" : "start_revoke",
        fingerprint({ unbind: record.id }),
        plan,
      );
      operation.priorStatus = halting ? "bind_failed" : record.status;
      if (halting && op.executionId) operation.cancelExecutionId = op.executionId;
      await saveAndRun(this.deps.store, this.deps.engine, BINDINGS, {
        ...record,
        status: "unbinding",
        operation,
      });
      return { kind: "accepted", operation: operation.id };
    });
  }

  /**
   * GETB: 404 while the binding is still being created or its creation failed (OSB section 10),
   * and while a binding that never got its data is being removed (an unbind halting a bind or
   * cleaning up a failed one): there is nothing to deliver, and `{credentials: {}}` would be wrong.
   */
  fetch(instanceId: string, bindingId: string): BindingDetails {
    const record = this.live(bindingId);
    if (
      !record ||
      record.instanceId !== instanceId ||
      record.status === "binding" ||
      record.status === "bind_failed" ||
      record.result === undefined ||
      !this.instanceExists(instanceId)
    ) {
      throw new BrokerFailure(
        "NotFound",
        `Service binding ${bindingId} does not exist or is still being created.`,
      );
    }
    const details = this.details(record);
    const parameters = this.openParameters(record);
    if (parameters && Object.keys(parameters).length) details.parameters = parameters;
    return details;
  }

  lastOperation(instanceId: string, bindingId: string): OperationStatus {
    const record = this.deps.store.get<BindingRecord>(BINDINGS, bindingId);
    if (!record || record.instanceId !== instanceId)
      throw new BrokerFailure("NotFound", `Service binding ${bindingId} is unknown.`);
    if (record.status === "deleted") {
      if (this.operations.tombstoneAnswers(record)) {
        return { state: "succeeded", description: "Unbound." };
      }
      throw new BrokerFailure("Gone", `Service binding ${bindingId} was unbound.`);
    }
    const { state, description } = operationStatus(record.operation);
    return description === undefined ? { state } : { state, description };
  }

  /**
   * Forgets the bindings of deprovisioned instances: platforms unbind first, but when one did
   * not, the binding's sealed credentials must not outlive the deployment they opened.
   */
  async purgeBindingsOfDeletedInstances(): Promise<number> {
    const orphaned = this.deps.store.list<BindingRecord>(BINDINGS).filter(({ value }) => {
      const instance = this.deps.store.get<InstanceRecord>(INSTANCES, value.instanceId);
      return (!instance || instance.status === "deleted") && value.operation.state !== "in progress";
    });
    if (orphaned.length)
      await this.deps.store.commit(orphaned.map(({ id }) => ({ type: "delete", collection: BINDINGS, id })));
    return orphaned.length;
  }

  /** Forgets tombstones that have answered long enough (their 410 period included). */
  purgeTombstones(goneRetentionSeconds: number): Promise<number> {
    return this.operations.purgeTombstones(goneRetentionSeconds);
  }

  private details(record: BindingRecord): BindingDetails {
    const result = record.result
      ? this.deps.sealer.open<BindingResult>(record.result, sealContext(record.id, "result"))
      : { credentials: {} };
    const details: BindingDetails = { result };
    if (record.expiresAt) {
      details.expiresAt = record.expiresAt;
      if (record.renewBefore) details.renewBefore = record.renewBefore;
    }
    return details;
  }

  private openParameters(record: BindingRecord): Parameters | undefined {
    return this.deps.sealer.open<Parameters | undefined>(
      record.parameters,
      sealContext(record.id, "parameters"),
    );
  }

  private lifetime(plan: CompiledPlan, now: number): Pick<BindingRecord, "expiresAt" | "renewBefore"> {
    const lifetime = plan.binding.lifetime;
    if (!lifetime) return {};
    const expires = now + lifetime.expiresInSeconds * 1000;
    return {
      expiresAt: new Date(expires).toISOString(),
      renewBefore:
        lifetime.renewBeforeSeconds !== undefined
          ? new Date(expires - lifetime.renewBeforeSeconds * 1000).toISOString()
          : undefined,
    };
  }

  /** The instance a bind is for: it must exist and be provisioned (404 when unknown, documented). */
  private instance(instanceId: string): InstanceRecord {
    const instance = this.deps.store.get<InstanceRecord>(INSTANCES, instanceId);
    if (!instance || instance.status === "deleted")
      throw new BrokerFailure("NotFound", `Service instance ${instanceId} does not exist.`);
    // Still provisioning or being deprovisioned is busy (A12), decided with the other operations.
    if (instance.status === "provision_failed") {
      throw new BrokerFailure(
        "UnprocessableEntity",
        `Service instance ${instanceId} is not provisioned (its provisioning failed); it cannot be bound.`,
      );
    }
    return instance;
  }

  /** A binding outlives a deprovision only as something to unbind: its credentials went with the deployment. */
  private instanceExists(instanceId: string): boolean {
    const instance = this.deps.store.get<InstanceRecord>(INSTANCES, instanceId);
    return instance !== undefined && instance.status !== "deleted";
  }

  private predecessor(req: BindRequest, instance: InstanceRecord): BindingRecord {
    const plan = this.plan(instance.planId);
    if (!plan.bindingRotatable)
      throw new BrokerFailure(
        "UnprocessableEntity",
        `Plan ${plan.name} does not allow binding rotation (binding_rotatable is false).`,
      );
    const predecessor = this.live(req.predecessorBindingId!);
    if (!predecessor || predecessor.instanceId !== instance.id || predecessor.status !== "bound") {
      throw new BrokerFailure(
        "BadRequest",
        `predecessor_binding_id ${req.predecessorBindingId} is not a binding of instance ${instance.id}.`,
      );
    }
    if (predecessor.expiresAt && Date.parse(predecessor.expiresAt) <= this.operations.now()) {
      throw new BrokerFailure("BadRequest", `Binding ${predecessor.id} has expired and cannot be rotated.`);
    }
    return predecessor;
  }

  private plan(planId: string): CompiledPlan {
    const plan = this.deps.catalog().plansById.get(planId);
    if (!plan) throw new BrokerFailure("UnprocessableEntity", `Plan ${planId} is no longer in the catalog.`);
    return plan;
  }

  private live(bindingId: string): BindingRecord | undefined {
    return this.operations.live(bindingId);
  }
}
