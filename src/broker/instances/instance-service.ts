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
import { INSTANCES, type InstanceRecord, type Operation, type UpdateTarget } from "../model/records.js";
import { refuseIfBusy } from "../operations/busy.js";
import type { KeyedMutex } from "../operations/keyed-mutex.js";
import { Operations, saveAndRun } from "../operations/operation.js";
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
  private readonly operations: Operations<InstanceRecord>;

  constructor(private readonly deps: InstanceServiceDeps) {
    this.operations = new Operations(deps.store, INSTANCES, deps.now ?? Date.now, deps.settings);
  }

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
      const now = this.operations.now();
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
        operation: this.operations.start("provision", "create_deployment", print, plan),
        createdAt: existing?.createdAt ?? new Date(now).toISOString(),
      };
      await saveAndRun(this.deps.store, this.deps.engine, INSTANCES, record);
      return { kind: "accepted", operation: record.operation.id, dashboardUrl };
    });
  }

  /**
   * UPD (OSB section 7), as named decisions under the instance's lock: which instance and plans,
   * a re-send (A5), the busy rule (A12), whether the change is allowed, what it changes; then
   * either applied at once (nothing for Cloudify) or handed to the engine (202).
   */
  async update(req: UpdateRequest): Promise<Outcome> {
    return this.deps.mutex.run(req.instanceId, async () => {
      const { record, current, target } = this.updatePlans(req);
      const print = fingerprint({ ...req, acceptsIncomplete: undefined, originatingIdentity: undefined });
      const op = record.operation;
      if (op.state === "in progress" && op.type === "update" && op.fingerprint === print) {
        if (!req.acceptsIncomplete) throw asyncRequired();
        return { kind: "accepted", operation: op.id };
      }
      // Another operation, or a workflow bind on this deployment, would race the update (A12).
      refuseIfBusy(this.deps.store, record, "update");
      const upgrade = this.checkUpdateAllowed(req, record, current, target);
      const change = this.updateTargetOf(req, record, current, target, upgrade);
      if (!change.needsCloudify) return this.applyUpdateNow(record, change.target);
      if (!req.acceptsIncomplete) throw asyncRequired();
      const operation = this.operations.start("update", "start_update", print, target);
      operation.target = change.target;
      await saveAndRun(this.deps.store, this.deps.engine, INSTANCES, {
        ...record,
        status: "updating",
        operation,
      });
      return { kind: "accepted", operation: operation.id, dashboardUrl: change.target.dashboardUrl };
    });
  }

  /** The instance (404), its service (400 if foreign), its current plan (still in the catalog) and the target plan. */
  private updatePlans(req: UpdateRequest): {
    record: InstanceRecord;
    current: CompiledPlan;
    target: CompiledPlan;
  } {
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
    return { record, current, target };
  }

  /** Refuses an update the instance or its plans do not allow; says whether it is an upgrade (maintenance_info). */
  private checkUpdateAllowed(
    req: UpdateRequest,
    record: InstanceRecord,
    current: CompiledPlan,
    target: CompiledPlan,
  ): boolean {
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
    const upgrade =
      req.maintenanceVersion !== undefined && req.maintenanceVersion !== record.maintenanceVersion;
    const schema = governingSchema(target, "update", this.deps.derived(target.id));
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
    return upgrade;
  }

  /** What the instance becomes (plan, parameters, inputs, context, version, dashboard) and whether Cloudify must change. */
  private updateTargetOf(
    req: UpdateRequest,
    record: InstanceRecord,
    current: CompiledPlan,
    target: CompiledPlan,
    upgrade: boolean,
  ): { target: UpdateTarget; needsCloudify: boolean } {
    // After a plan change the instance runs the target plan, so it carries that plan's version
    // (platforms that send `maintenance_info: {}` would otherwise see an upgrade forever).
    const maintenanceVersion =
      upgrade || target.id !== current.id
        ? target.config.maintenance_info?.version
        : record.maintenanceVersion;
    const derived = this.deps.derived(target.id);
    const schema = governingSchema(target, "update", derived);
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
    return {
      target: {
        planId: target.id,
        blueprintId: target.blueprintId,
        parameters: storedParameters,
        inputs,
        changedInputs: changed,
        context,
        maintenanceVersion,
        dashboardUrl,
      },
      needsCloudify: blueprintChanges || Object.keys(changed).length > 0,
    };
  }

  /** Nothing to change in Cloudify: applied at once (context, parameters, a plan with identical inputs). */
  private async applyUpdateNow(record: InstanceRecord, target: UpdateTarget): Promise<Outcome> {
    await this.deps.store.commit([
      {
        type: "put",
        collection: INSTANCES,
        id: record.id,
        value: {
          ...record,
          planId: target.planId,
          parameters: target.parameters,
          context: target.context,
          maintenanceVersion: target.maintenanceVersion,
          dashboardUrl: target.dashboardUrl ?? record.dashboardUrl,
        },
      },
    ]);
    return { kind: "done", dashboardUrl: target.dashboardUrl };
  }

  async deprovision(req: DeprovisionRequest): Promise<Outcome> {
    return this.deps.mutex.run(req.instanceId, async () => {
      const record = this.live(req.instanceId);
      if (!record) throw new BrokerFailure("Gone", `Service instance ${req.instanceId} does not exist.`);
      if (!req.acceptsIncomplete) throw asyncRequired();
      const op = record.operation;
      if (op.state === "in progress" && op.type === "deprovision")
        return { kind: "accepted", operation: op.id };
      // An update, or a workflow bind or unbind on the deployment, must finish first (A12).
      refuseIfBusy(this.deps.store, record, "deprovision");
      const plan = this.deps.catalog().plansById.get(record.planId);
      const print = fingerprint({ deprovision: req.instanceId });
      // A provision still running is halted first (OSB section 8), then everything is removed.
      const halting = op.state === "in progress" && op.type === "provision";
      // A provision that failed at its deadline may have left its Cloudify execution running:
      // stop it too rather than queue the uninstall behind it (cancelling a finished one is a no-op).
      const stale = op.state === "failed" && op.type === "provision" && op.executionId !== undefined;
      const operation = this.operations.start(
        "deprovision",
        halting || stale ? "cancel_provision" : "start_uninstall",
        print,
        plan,
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
    refuseIfBusy(this.deps.store, record, "fetch");
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
      if (this.operations.tombstoneAnswers(record))
        return { state: "succeeded", description: record.operation.description ?? "Deprovisioned." };
      throw new BrokerFailure("Gone", `Service instance ${instanceId} was deprovisioned.`);
    }
    return operationStatus(record.operation);
  }

  /** Forgets tombstones that have answered long enough (their 410 period included). */
  purgeTombstones(goneRetentionSeconds: number): Promise<number> {
    return this.operations.purgeTombstones(goneRetentionSeconds);
  }

  /** The record of an instance that exists (tombstones do not). */
  live(instanceId: string): InstanceRecord | undefined {
    return this.operations.live(instanceId);
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
