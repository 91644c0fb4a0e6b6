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
  type OperationType,
  type StepName,
} from "../model/records.js";
import { type Sealer, sealContext } from "../model/sealing.js";
import type { KeyedMutex } from "../operations/keyed-mutex.js";
import { purgeTombstones, saveAndRun, startOperation, tombstoneAnswers } from "../operations/operation.js";
import type { OperationEngine } from "../operations/operation-engine.js";
import {
  bindingContextOf,
  CredentialsError,
  fetchDeploymentData,
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

/**
 * Service bindings. Bind requests on one instance are decided one at a time (OSB A4 allows
 * it), and the workflows of workflow bindings queue on the instance's deployment. Credentials,
 * parameters and the password seed are sealed before they reach the state.
 */
export class BindingService {
  constructor(private readonly deps: BindingServiceDeps) {}

  async bind(req: BindRequest): Promise<BindOutcome> {
    return this.deps.mutex.run(req.instanceId, async () => {
      const instance = this.instance(req.instanceId);
      const existing = this.live(req.bindingId);
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
      if (!plan.bindable)
        throw new BrokerFailure("UnprocessableEntity", `Plan ${plan.name} is not bindable.`);

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
      if (existing) {
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
        // bind_failed: an identical request tries again.
      }
      if (instance.operation.state === "in progress") {
        throw new BrokerFailure(
          "ConcurrencyError",
          `Service instance ${instance.id} has a ${instance.operation.type} in progress.`,
        );
      }
      const async = plan.binding.mode === "workflow";
      if (async && !req.acceptsIncomplete) throw asyncRequired();

      const now = this.now();
      const id = req.bindingId;
      const seed = randomBytes(32).toString("base64");
      const merged = mergeParameters(
        slot.kind === "explicit" ? slot.schema : undefined,
        undefined,
        undefined,
        parameters,
      );
      const record: BindingRecord = {
        id,
        instanceId: instance.id,
        serviceId,
        planId,
        status: "binding",
        mode: plan.binding.mode,
        fingerprint: print,
        appGuid,
        bindResource,
        context,
        parameters: this.deps.sealer.seal(merged, sealContext(id, "parameters")),
        predecessorBindingId: req.predecessorBindingId,
        originatingIdentity: req.originatingIdentity,
        seed: this.deps.sealer.seal(seed, sealContext(id, "seed")),
        // Every execution an earlier binding with this id ran (its tombstone's too), so none of
        // them is ever adopted as this bind's create workflow.
        executionIds: this.deps.store.get<BindingRecord>(BINDINGS, id)?.executionIds ?? [],
        operation: this.operation("bind", "start_workflow", print, plan, now),
        createdAt: new Date(now).toISOString(),
        ...this.lifetime(plan, now),
      };

      if (async) {
        await saveAndRun(this.deps.store, this.deps.engine, BINDINGS, record);
        return { kind: "accepted", operation: record.operation.id };
      }
      // outputs mode: synchronous; nothing is stored unless the credentials are complete.
      const result = await this.renderNow(record, instance, plan, merged, seed);
      const done: BindingRecord = {
        ...record,
        status: "bound",
        result: this.deps.sealer.seal(result, sealContext(id, "result")),
        operation: {
          ...record.operation,
          state: "succeeded",
          step: "done",
          finishedAt: record.operation.startedAt,
        },
      };
      await this.deps.store.commit([{ type: "put", collection: BINDINGS, id, value: done }]);
      return { kind: "created", binding: this.details(done) };
    });
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
      // A bind still running is halted first (OSB section 11), then revoked.
      const halting = op.state === "in progress" && op.type === "bind";
      const operation = this.operation(
        "unbind",
        halting ? "cancel_bind" : "start_revoke",
        fingerprint({ unbind: record.id }),
        plan,
        this.now(),
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
      if (tombstoneAnswers(record, this.now(), this.deps.settings().tombstoneSeconds)) {
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
    return purgeTombstones(
      this.deps.store,
      BINDINGS,
      this.now() - (this.deps.settings().tombstoneSeconds + goneRetentionSeconds) * 1000,
    );
  }

  private async renderNow(
    record: BindingRecord,
    instance: InstanceRecord,
    plan: CompiledPlan,
    parameters: Parameters,
    seed: string,
  ): Promise<BindingResult> {
    try {
      const data = await fetchDeploymentData(this.deps.cloudify, plan, instance.deploymentId);
      const context = bindingContextOf(record, instance, plan, parameters, data);
      return renderBindingResult(plan, context, data, seed);
    } catch (error) {
      if (error instanceof CredentialsError) throw new BrokerFailure("InternalError", error.message);
      const failure = this.deps.cloudify.classify(error);
      this.deps.log.warn(
        { binding_id: record.id, reason: failure.detail },
        "cannot read the deployment for a bind",
      );
      throw new BrokerFailure(
        "ServiceUnavailable",
        `Cannot read the instance's deployment from Cloudify (${failure.message}); try again.`,
      );
    }
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
    if (instance.status === "provisioning" || instance.status === "provision_failed") {
      throw new BrokerFailure(
        "UnprocessableEntity",
        `Service instance ${instanceId} is not provisioned; it cannot be bound yet.`,
      );
    }
    if (instance.status === "deprovisioning")
      throw new BrokerFailure(
        "UnprocessableEntity",
        `Service instance ${instanceId} is being deprovisioned.`,
      );
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
    if (predecessor.expiresAt && Date.parse(predecessor.expiresAt) <= this.now()) {
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
    const record = this.deps.store.get<BindingRecord>(BINDINGS, bindingId);
    return record && record.status !== "deleted" ? record : undefined;
  }

  private operation(
    type: OperationType,
    step: StepName,
    print: string,
    plan: CompiledPlan | undefined,
    now: number,
  ) {
    return startOperation(type, step, print, plan, this.deps.settings().defaultTimeoutSeconds, now);
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }
}
