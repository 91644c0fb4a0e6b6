import type { CompiledCatalog, CompiledPlan } from "../../config/compile-catalog.js";
import type { Logger } from "../../log/logger.js";
import type { StateStore } from "../../state/index.js";
import type { DerivedPlanSchemas } from "../catalog/blueprint-schemas.js";
import {
  checkParameters,
  governingSchema,
  mergeParameters,
  type Parameters,
  passThroughInputs,
} from "../catalog/parameters.js";
import { asyncRequired, BrokerFailure } from "../failures.js";
import type { OriginatingIdentity } from "../model/identity.js";
import { canonicalJson, fingerprint } from "../model/ids.js";
import {
  BINDINGS,
  type BindingRecord,
  INSTANCES,
  type InstanceRecord,
  type Operation,
  type OperationType,
  type StepName,
  type UpdateTarget,
} from "../model/records.js";
import type { KeyedMutex } from "../operations/keyed-mutex.js";
import { purgeTombstones, saveAndRun, startOperation, tombstoneAnswers } from "../operations/operation.js";
import type { OperationEngine } from "../operations/operation-engine.js";
import { assertUpdatable, changedInputs, renderInputs } from "./deployment-inputs.js";
import { renderDashboardUrl, renderProvision } from "./provision-rendering.js";
import { instanceTemplateContext } from "./template-context.js";

export interface InstanceServiceDeps {
  store: StateStore;
  engine: OperationEngine;
  mutex: KeyedMutex;
  log: Logger;
  catalog: () => CompiledCatalog;
  derived: (planId: string) => DerivedPlanSchemas | undefined;
  settings: () => { defaultTimeoutSeconds: number; tombstoneSeconds: number };
  now?: () => number;
}

export interface ProvisionRequest {
  instanceId: string;
  serviceId: string;
  planId: string;
  organizationGuid: string;
  spaceGuid: string;
  context?: Record<string, unknown>;
  parameters?: Parameters;
  maintenanceVersion?: string;
  acceptsIncomplete: boolean;
  originatingIdentity?: OriginatingIdentity;
}

export interface UpdateRequest {
  instanceId: string;
  serviceId: string;
  planId?: string;
  context?: Record<string, unknown>;
  parameters?: Parameters;
  maintenanceVersion?: string;
  acceptsIncomplete: boolean;
  originatingIdentity?: OriginatingIdentity;
}

export interface DeprovisionRequest {
  instanceId: string;
  serviceId: string;
  planId: string;
  acceptsIncomplete: boolean;
}

/** The outcome of a mutating request; the HTTP layer maps `kind` to a status code. */
export type Outcome =
  | { kind: "accepted"; operation: string; dashboardUrl?: string }
  | { kind: "done"; dashboardUrl?: string };

/** What GETI reports about a provisioned instance. */
export interface InstanceDetails {
  serviceId: string;
  planId: string;
  dashboardUrl?: string;
  parameters: Parameters;
  maintenanceVersion?: string;
}

/** The state of a resource's latest operation (LOI, LOB). */
export interface OperationStatus {
  state: Operation["state"];
  description?: string;
  /** Only on failed updates and deprovisions (OSB H12, A6). */
  instanceUsable?: boolean;
  /** Only on failed updates. */
  updateRepeatable?: boolean;
}

/**
 * Service instances: every OSB decision about them (idempotency, conflicts, concurrency,
 * validation) is made here; Cloudify work is handed to the operation engine as a persisted
 * operation, which is on disk before the request is answered.
 */
export class InstanceService {
  constructor(private readonly deps: InstanceServiceDeps) {}

  async provision(req: ProvisionRequest): Promise<Outcome> {
    const plan = this.resolvePlan(req.serviceId, req.planId);
    this.checkMaintenanceInfo(plan, req.maintenanceVersion);
    const derived = this.deps.derived(plan.id);
    const schema = governingSchema(plan, "create", derived);
    checkParameters(req.parameters, schema.validate, "provision");

    // "Identical" (OSB section 12) = same service, plan, parameters, organization, space and context.
    const print = fingerprint({
      service_id: req.serviceId,
      plan_id: req.planId,
      parameters: req.parameters ?? {},
      organization_guid: req.organizationGuid,
      space_guid: req.spaceGuid,
      context: req.context ?? {},
    });

    return this.deps.mutex.run(req.instanceId, async () => {
      const existing = this.live(req.instanceId);
      if (existing) {
        if (existing.provisionFingerprint !== print) {
          throw new BrokerFailure(
            "Conflict",
            `Service instance ${req.instanceId} already exists with different attributes.`,
          );
        }
        if (existing.status === "provisioning") {
          // A 202 is only allowed to a request that accepts incomplete operations (A2).
          if (!req.acceptsIncomplete) throw asyncRequired();
          return { kind: "accepted", operation: existing.operation.id, dashboardUrl: existing.dashboardUrl };
        }
        if (existing.status === "provisioned" || existing.status === "updating")
          return { kind: "done", dashboardUrl: existing.dashboardUrl };
        if (existing.status === "deprovisioning") {
          throw new BrokerFailure(
            "ConcurrencyError",
            `Service instance ${req.instanceId} is being deprovisioned.`,
          );
        }
        // provision_failed: an identical request tries again, adopting what Cloudify already has.
      }
      if (!req.acceptsIncomplete) throw asyncRequired();

      const rendering = renderProvision(plan, derived, req);
      const { deploymentId, inputs } = rendering;
      const dashboardUrl = this.dashboardUrl(plan, {
        url: rendering.dashboardUrl,
        invalid: rendering.invalidDashboardUrl,
      });
      const now = this.now();
      const record: InstanceRecord = {
        id: req.instanceId,
        status: "provisioning",
        serviceId: req.serviceId,
        planId: plan.id,
        blueprintId: plan.blueprintId,
        deploymentId,
        organizationGuid: req.organizationGuid,
        spaceGuid: req.spaceGuid,
        context: req.context,
        parameters: req.parameters ?? {},
        inputs,
        labels: rendering.labels,
        maintenanceVersion: plan.config.maintenance_info?.version,
        dashboardUrl,
        provisionFingerprint: print,
        executionIds: existing?.executionIds ?? [],
        operation: this.operation("provision", "create_deployment", print, plan, now),
        createdAt: existing?.createdAt ?? new Date(now).toISOString(),
      };
      await saveAndRun(this.deps.store, this.deps.engine, INSTANCES, record);
      return { kind: "accepted", operation: record.operation.id, dashboardUrl };
    });
  }

  async update(req: UpdateRequest): Promise<Outcome> {
    return this.deps.mutex.run(req.instanceId, async () => {
      const record = this.live(req.instanceId);
      if (!record) throw new BrokerFailure("NotFound", `Service instance ${req.instanceId} does not exist.`);
      if (req.serviceId !== record.serviceId) {
        throw new BrokerFailure(
          "BadRequest",
          `service_id ${req.serviceId} is not the service of instance ${req.instanceId}.`,
        );
      }
      const current = this.deps.catalog().plansById.get(record.planId);
      if (!current) {
        throw new BrokerFailure(
          "UnprocessableEntity",
          `The instance's plan ${record.planId} is no longer in the catalog; only deprovisioning is possible.`,
        );
      }
      const target = req.planId ? this.resolvePlan(req.serviceId, req.planId) : current;
      const print = fingerprint({ ...req, acceptsIncomplete: undefined, originatingIdentity: undefined });

      const op = record.operation;
      // A workflow bind runs on this deployment: an update now would race it (A4).
      if (this.bindingInFlight(record.id)) {
        throw new BrokerFailure(
          "ConcurrencyError",
          `Service instance ${req.instanceId} has a binding operation in progress.`,
        );
      }
      if (op.state === "in progress") {
        if (op.type === "update" && op.fingerprint === print) {
          if (!req.acceptsIncomplete) throw asyncRequired();
          return { kind: "accepted", operation: op.id };
        }
        throw new BrokerFailure(
          "ConcurrencyError",
          `Service instance ${req.instanceId} has a ${op.type} in progress.`,
        );
      }
      if (record.status !== "provisioned") {
        throw new BrokerFailure(
          "UnprocessableEntity",
          `Service instance ${req.instanceId} is not provisioned (its provisioning failed); deprovision it.`,
        );
      }
      if (target.id !== current.id && !current.planUpdateable) {
        throw new BrokerFailure(
          "UnprocessableEntity",
          `Plan ${current.name} does not allow changing plans (plan_updateable is false).`,
        );
      }
      this.checkMaintenanceInfo(target, req.maintenanceVersion);
      const targetVersion = target.config.maintenance_info?.version;
      const upgrade =
        req.maintenanceVersion !== undefined && req.maintenanceVersion !== record.maintenanceVersion;
      // After a plan change the instance runs the target plan, so it carries that plan's version
      // (platforms that send `maintenance_info: {}` would otherwise see an upgrade forever).
      const maintenanceVersion =
        upgrade || target.id !== current.id ? targetVersion : record.maintenanceVersion;

      const derived = this.deps.derived(target.id);
      const schema = governingSchema(target, "update", derived);
      if (req.parameters !== undefined) checkParameters(req.parameters, schema.validate, "update");

      const contextChanged =
        req.context !== undefined && canonicalJson(req.context) !== canonicalJson(record.context ?? {});
      const onlyContext =
        contextChanged && target.id === current.id && req.parameters === undefined && !upgrade;
      if (onlyContext && !target.service.config.allow_context_updates) {
        throw new BrokerFailure(
          "UnprocessableEntity",
          `Service ${target.service.config.name} does not accept context-only updates (allow_context_updates is false).`,
        );
      }

      const storedParameters = { ...record.parameters, ...req.parameters };
      const context = req.context ?? record.context;
      const parameters = mergeParameters(
        schema.schema,
        target.config.defaults,
        record.parameters,
        req.parameters,
      );
      const templateContext = instanceTemplateContext({
        instanceId: record.id,
        deploymentId: record.deploymentId,
        plan: target,
        parameters,
        context,
        organizationGuid: record.organizationGuid,
        spaceGuid: record.spaceGuid,
        originatingIdentity: req.originatingIdentity,
      });
      const inputs = renderInputs(
        target,
        templateContext,
        passThroughInputs(target, derived, storedParameters),
      );
      const blueprintChanges = target.blueprintId !== record.blueprintId;
      // A new blueprint gets every input (its declarations may differ); otherwise only what changed.
      const changed = blueprintChanges ? inputs : changedInputs(record.inputs, inputs);
      if (!upgrade) assertUpdatable(current, changedInputs(record.inputs, inputs));
      const dashboardUrl = this.dashboardUrl(target, renderDashboardUrl(target, templateContext));

      const needsCloudify = blueprintChanges || Object.keys(changed).length > 0;
      if (!needsCloudify) {
        // Nothing to change in Cloudify: apply at once (context, parameters, plan with identical inputs).
        await this.deps.store.commit([
          {
            type: "put",
            collection: INSTANCES,
            id: record.id,
            value: {
              ...record,
              planId: target.id,
              parameters: storedParameters,
              context,
              maintenanceVersion,
              dashboardUrl: dashboardUrl ?? record.dashboardUrl,
            },
          },
        ]);
        return { kind: "done", dashboardUrl };
      }
      if (!req.acceptsIncomplete) throw asyncRequired();

      const updateTarget: UpdateTarget = {
        planId: target.id,
        blueprintId: target.blueprintId,
        parameters: storedParameters,
        inputs,
        changedInputs: changed,
        context,
        maintenanceVersion,
        dashboardUrl,
      };
      const operation = this.operation("update", "start_update", print, target, this.now());
      operation.target = updateTarget;
      await saveAndRun(this.deps.store, this.deps.engine, INSTANCES, {
        ...record,
        status: "updating",
        operation,
      });
      return { kind: "accepted", operation: operation.id, dashboardUrl };
    });
  }

  async deprovision(req: DeprovisionRequest): Promise<Outcome> {
    return this.deps.mutex.run(req.instanceId, async () => {
      const record = this.live(req.instanceId);
      if (!record) throw new BrokerFailure("Gone", `Service instance ${req.instanceId} does not exist.`);
      if (!req.acceptsIncomplete) throw asyncRequired();
      const op = record.operation;
      if (op.state === "in progress" && op.type === "deprovision")
        return { kind: "accepted", operation: op.id };
      if (op.state === "in progress" && op.type !== "provision") {
        throw new BrokerFailure(
          "ConcurrencyError",
          `Service instance ${req.instanceId} has a ${op.type} in progress.`,
        );
      }
      const plan = this.deps.catalog().plansById.get(record.planId);
      const print = fingerprint({ deprovision: req.instanceId });
      // A provision still running is halted first (OSB section 8), then everything is removed.
      const halting = op.state === "in progress" && op.type === "provision";
      // A provision that failed at its deadline may have left its Cloudify execution running:
      // stop it too rather than queue the uninstall behind it (cancelling a finished one is a no-op).
      const stale = op.state === "failed" && op.type === "provision" && op.executionId !== undefined;
      const operation = this.operation(
        "deprovision",
        halting || stale ? "cancel_provision" : "start_uninstall",
        print,
        plan,
        this.now(),
      );
      operation.priorStatus = halting ? "provision_failed" : record.status;
      if ((halting || stale) && op.executionId) operation.cancelExecutionId = op.executionId;
      await saveAndRun(this.deps.store, this.deps.engine, INSTANCES, {
        ...record,
        status: "deprovisioning",
        operation,
      });
      return { kind: "accepted", operation: operation.id };
    });
  }

  fetch(instanceId: string): InstanceDetails {
    const record = this.live(instanceId);
    // A provision still in progress, or one that failed, is not an instance yet (OSB GETI: 404).
    if (!record || record.status === "provisioning" || record.status === "provision_failed") {
      throw new BrokerFailure(
        "NotFound",
        `Service instance ${instanceId} does not exist or is still being provisioned.`,
      );
    }
    if (record.operation.state === "in progress") {
      throw new BrokerFailure(
        "ConcurrencyError",
        `Service instance ${instanceId} has a ${record.operation.type} in progress.`,
      );
    }
    return {
      serviceId: record.serviceId,
      planId: record.planId,
      parameters: record.parameters,
      dashboardUrl: record.dashboardUrl || undefined,
      maintenanceVersion: record.maintenanceVersion || undefined,
    };
  }

  /** LOI. The `operation` query value is only a hint (osb-checker X6): the latest operation is reported. */
  lastOperation(instanceId: string): OperationStatus {
    const record = this.deps.store.get<InstanceRecord>(INSTANCES, instanceId);
    if (!record) throw new BrokerFailure("NotFound", `Service instance ${instanceId} is unknown.`);
    if (record.status === "deleted") {
      // Tombstone: keep answering succeeded for a while after an async delete (A8, X7), then 410.
      if (tombstoneAnswers(record, this.now(), this.deps.settings().tombstoneSeconds))
        return { state: "succeeded", description: record.operation.description ?? "Deprovisioned." };
      throw new BrokerFailure("Gone", `Service instance ${instanceId} was deprovisioned.`);
    }
    return operationStatus(record.operation);
  }

  /** Forgets tombstones that have answered long enough (their 410 period included). */
  purgeTombstones(goneRetentionSeconds: number): Promise<number> {
    return purgeTombstones(
      this.deps.store,
      INSTANCES,
      this.now() - (this.deps.settings().tombstoneSeconds + goneRetentionSeconds) * 1000,
    );
  }

  private bindingInFlight(instanceId: string): boolean {
    return this.deps.store
      .list<BindingRecord>(BINDINGS)
      .some(({ value }) => value.instanceId === instanceId && value.operation.state === "in progress");
  }

  /** The record of an instance that exists (tombstones do not). */
  live(instanceId: string): InstanceRecord | undefined {
    const record = this.deps.store.get<InstanceRecord>(INSTANCES, instanceId);
    return record && record.status !== "deleted" ? record : undefined;
  }

  private resolvePlan(serviceId: string, planId: string): CompiledPlan {
    const catalog = this.deps.catalog();
    const service = catalog.servicesById.get(serviceId);
    if (!service) throw new BrokerFailure("BadRequest", `service_id ${serviceId} is not in the catalog.`);
    const plan = service.plans.find((p) => p.id === planId);
    if (!plan)
      throw new BrokerFailure(
        "BadRequest",
        `plan_id ${planId} is not a plan of service ${service.config.name}.`,
      );
    return plan;
  }

  /** MaintenanceInfoConflict when a given version differs from the plan's (an empty one counts as absent, X5). */
  private checkMaintenanceInfo(plan: CompiledPlan, version: string | undefined): void {
    if (version === undefined) return;
    const expected = plan.config.maintenance_info?.version;
    if (version !== expected) {
      throw new BrokerFailure(
        "MaintenanceInfoConflict",
        expected
          ? `maintenance_info.version ${version} does not match plan ${plan.name}'s version ${expected}.`
          : `Plan ${plan.name} has no maintenance_info, but the request carries version ${version}.`,
      );
    }
  }

  /** The rendered dashboard URL; one that is no valid absolute URI is logged and left out. */
  private dashboardUrl(plan: CompiledPlan, rendered: { url?: string; invalid?: string }): string | undefined {
    if (rendered.invalid !== undefined) {
      this.deps.log.error(
        { service: plan.service.config.name, dashboard_url: rendered.invalid },
        "the dashboard_url template rendered no valid absolute URI (use {{urlencode ...}} for ids); answering without it",
      );
    }
    return rendered.url;
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

export function operationStatus(op: Operation): OperationStatus {
  const status: OperationStatus = { state: op.state };
  if (op.description) status.description = op.description;
  // instance_usable / update_repeatable only on failed updates and deprovisions (H12, A6).
  if (op.state === "failed" && (op.type === "update" || op.type === "deprovision")) {
    status.instanceUsable = op.instanceUsable ?? true;
    if (op.type === "update") status.updateRepeatable = op.updateRepeatable ?? true;
  }
  return status;
}
