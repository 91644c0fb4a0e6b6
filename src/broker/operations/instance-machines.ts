import type { DeploymentView, ExecutionView } from "../cloudify-port/port.js";
import { deploymentGoneDescription } from "../instances/deployment-presence.js";
import type {
  DeprovisionStep,
  InstanceRecord,
  Operation,
  ProvisionStep,
  StepName,
  UpdateStep,
} from "../model/records.js";
import type { StateMachine, StepContext, StepOutcome } from "./steps.js";
import {
  executionFailure,
  isDequeuedUnavailable,
  type Started,
  startOnce,
  UNAVAILABLE_WORKFLOW,
} from "./workflows.js";

type Ctx = StepContext<InstanceRecord>;
type Outcome = StepOutcome<InstanceRecord>;

const OWNER_LABEL = "osb-instance-id";
const DELETE_WORKFLOW = "delete_deployment_environment";

/** Provision: create the deployment, wait for its environment, run `install`, wait. */
export const provisionMachine: StateMachine<InstanceRecord, ProvisionStep> = {
  async create_deployment(ctx): Promise<Outcome> {
    const { record, cloudify } = ctx;
    const existing = await cloudify.getDeployment(record.deploymentId);
    if (existing) {
      // Created by an earlier run of this step whose answer was lost (crash, timeout): adopt it,
      // unless someone else's deployment holds the id.
      const owner = ownerLabel(existing);
      if (owner !== undefined && owner !== writtenOwner(record)) {
        return {
          kind: "failed",
          description: `Cloudify deployment ${record.deploymentId} belongs to another instance (${owner}).`,
        };
      }
      if (!existing.createExecutionId) return { kind: "wait" };
      return remember(record, {
        kind: "continue",
        step: "wait_environment",
        executionId: existing.createExecutionId,
      });
    }
    try {
      const created = await cloudify.createDeployment({
        deploymentId: record.deploymentId,
        blueprintId: record.blueprintId,
        inputs: record.inputs,
        labels: record.labels,
        displayName: record.deploymentId,
      });
      return remember(record, {
        kind: "continue",
        step: "wait_environment",
        executionId: created.createExecutionId,
      });
    } catch (error) {
      const failure = cloudify.classify(error);
      if (failure.kind === "transient") throw error;
      if (failure.code === "conflict_error") return { kind: "wait" }; // raced with ourselves: look it up next time
      return { kind: "failed", description: `Cloudify refused to create the deployment: ${failure.message}` };
    }
  },

  async wait_environment(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "create_deployment" };
    if (execution.outcome === "running")
      return { kind: "wait", description: "Creating the deployment environment." };
    if (execution.outcome === "succeeded") return { kind: "continue", step: "start_install" };
    return failedExecution(ctx, execution, "creating the deployment environment");
  },

  async start_install(ctx): Promise<Outcome> {
    return startWorkflow(ctx, "install", {}, "wait_install");
  },

  async wait_install(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "start_install" };
    if (execution.outcome === "running")
      return { kind: "wait", description: "Running the install workflow." };
    if (execution.outcome === "succeeded") return { kind: "succeeded" };
    return failedExecution(ctx, execution, "installing");
  },
};

/**
 * Deprovision: stop a provision still running, `uninstall` (queued behind anything else),
 * delete the deployment, wait until Cloudify answers 404. Safe for half-created instances.
 */
export const deprovisionMachine: StateMachine<InstanceRecord, DeprovisionStep> = {
  async cancel_provision(ctx): Promise<Outcome> {
    const id = ctx.operation.cancelExecutionId;
    if (id) {
      try {
        await ctx.cloudify.cancelExecution(id);
      } catch (error) {
        const failure = ctx.cloudify.classify(error);
        if (failure.kind === "transient") throw error;
        // Already finished or gone: nothing left to stop.
      }
    }
    return { kind: "continue", step: "start_uninstall" };
  },

  async start_uninstall(ctx): Promise<Outcome> {
    const deployment = await ctx.cloudify.getDeployment(ctx.record.deploymentId);
    if (!deployment) return { kind: "succeeded" };
    const foreign = notOwned(ctx.record, deployment, "uninstall");
    if (foreign) return foreign;
    if (deployment.createExecutionId) {
      const create = await ctx.cloudify.getExecution(deployment.createExecutionId);
      if (create?.outcome === "running")
        return { kind: "wait", description: "Waiting for the deployment environment before uninstalling." };
      // An environment that never came up has nothing installed: go straight to deleting.
      if (create && create.outcome !== "succeeded") return { kind: "continue", step: "delete_deployment" };
    }
    return startWorkflow(ctx, "uninstall", UNINSTALL, "wait_uninstall", {
      // CFY-AVAIL: uninstall is unavailable when no node instance is active (install failed or
      // was cancelled before starting any, or an earlier uninstall already ran).
      unavailable: async () => {
        // CFY-AVAIL-8: an install cancelled midway leaves the node it was installing live but
        // not started. Nothing is active, so uninstall is unavailable, yet the live node keeps
        // Cloudify from deleting the deployment (M15), and deleting it by force would abandon
        // what the node created. Force the uninstall past the availability check instead.
        if ((await ctx.cloudify.liveNodeInstances(ctx.record.deploymentId)).length)
          return startWorkflow(ctx, "uninstall", UNINSTALL, "wait_uninstall", { force: true });
        return { kind: "continue", step: "delete_deployment" }; // nothing installed: nothing to undo
      },
    });
  },

  async wait_uninstall(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "start_uninstall" };
    if (execution.outcome === "running")
      return { kind: "wait", description: "Running the uninstall workflow." };
    if (execution.outcome === "succeeded") return { kind: "continue", step: "delete_deployment" };
    // CFY-AVAIL-4: queued behind another execution, it was re-checked when dequeued and found
    // unavailable (nothing active by then): start_uninstall decides again, now that nothing
    // runs before it, between deleting at once and a forced uninstall of live nodes.
    if (isDequeuedUnavailable(execution)) return { kind: "continue", step: "start_uninstall" };
    return failedExecution(ctx, execution, "uninstalling", {}, { instanceUsable: false });
  },

  async delete_deployment(ctx): Promise<Outcome> {
    const deployment = await ctx.cloudify.getDeployment(ctx.record.deploymentId);
    if (!deployment) return { kind: "succeeded" };
    const foreign = notOwned(ctx.record, deployment, "delete");
    if (foreign) return foreign;
    // CFY-DEL-1: the deletion is an execution that may fail; find it to watch it.
    const before = new Set(
      (await ctx.cloudify.listExecutions(ctx.record.deploymentId, DELETE_WORKFLOW)).map((e) => e.id),
    );
    try {
      await ctx.cloudify.deleteDeployment(ctx.record.deploymentId, false);
    } catch (error) {
      const failure = ctx.cloudify.classify(error);
      if (failure.kind === "transient") throw error;
      if (failure.kind === "not_found") return { kind: "succeeded" };
      if (failure.code === "dependent_exists_error") return refusedDeletion(ctx, failure.message);
      return {
        kind: "failed",
        description: `Cloudify refused to delete the deployment: ${failure.message}`,
        instanceUsable: false,
      };
    }
    const started = await ctx.cloudify
      .listExecutions(ctx.record.deploymentId, DELETE_WORKFLOW)
      .then((list) => list.find((e) => !before.has(e.id)))
      .catch(() => undefined);
    return { kind: "continue", step: "wait_deleted", executionId: started?.id };
  },

  async wait_deleted(ctx): Promise<Outcome> {
    const deployment = await ctx.cloudify.getDeployment(ctx.record.deploymentId);
    if (!deployment) return { kind: "succeeded" };
    const execution = await currentExecution(ctx);
    // CFY-DEL-2: a failed (or cancelled) deletion leaves the deployment in place: report it in
    // Cloudify's words; the platform may DELETE again, and the retry deletes anew.
    if (execution?.outcome === "failed" || execution?.outcome === "cancelled") {
      return failedExecution(ctx, execution, "deleting the deployment", {}, { instanceUsable: false });
    }
    return { kind: "wait", description: "Waiting for Cloudify to remove the deployment." };
  },
};

/**
 * Cloudify refused the deletion (M15): executions still run (a cancelled install winding down:
 * try again shortly), or nodes are live. Live nodes from an install newer than every uninstall
 * come from a provision halted while its install start was in flight: the install ran to the
 * end after start_uninstall found nothing to undo. Waiting would never end, so uninstall again
 * (queued behind anything still running).
 */
async function refusedDeletion(ctx: StepContext<InstanceRecord>, message: string): Promise<Outcome> {
  const { cloudify, record } = ctx;
  if ((await cloudify.liveNodeInstances(record.deploymentId)).length === 0)
    return { kind: "wait", description: message };
  const newest = async (workflowId: string) =>
    (await cloudify.listExecutions(record.deploymentId, workflowId))
      .map((e) => e.createdAt ?? "")
      .sort()
      .at(-1);
  const install = await newest("install");
  const uninstall = await newest("uninstall");
  if (install !== undefined && (uninstall === undefined || install > uninstall))
    return { kind: "continue", step: "start_uninstall" };
  return { kind: "wait", description: message };
}

/** Update: a Cloudify deployment update to the target blueprint and inputs; the record changes on success. */
export const updateMachine: StateMachine<InstanceRecord, UpdateStep> = {
  async start_update(ctx): Promise<Outcome> {
    const { record, operation, cloudify } = ctx;
    const target = operation.target;
    if (!target) return { kind: "failed", description: "The update has no target; this is a broker bug." };
    const deployment = await cloudify.getDeployment(record.deploymentId);
    if (!deployment)
      return {
        kind: "failed",
        description: deploymentGoneDescription(record.id, record.deploymentId),
        instanceUsable: false,
      };
    const foreign = notOwned(record, deployment, "update");
    if (foreign) return { ...foreign, instanceUsable: true, updateRepeatable: false };
    const started = await startOnce(ctx, {
      deploymentId: record.deploymentId,
      workflowId: "update",
      send: async () =>
        (
          await cloudify.updateDeployment({
            deploymentId: record.deploymentId,
            blueprintId: target.blueprintId !== record.blueprintId ? target.blueprintId : undefined,
            inputs: target.changedInputs,
          })
        ).executionId,
    });
    if (started.kind === "refused")
      return { kind: "failed", description: `Cloudify refused the update: ${started.message}` };
    return afterStart(ctx, started, "wait_update");
  },

  async wait_update(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "start_update" };
    if (execution.outcome === "running")
      return { kind: "wait", description: "Running the deployment update." };
    const target = ctx.operation.target;
    if (execution.outcome === "succeeded" && target) {
      return {
        kind: "succeeded",
        record: {
          planId: target.planId,
          blueprintId: target.blueprintId,
          parameters: target.parameters,
          inputs: target.inputs,
          context: target.context ?? ctx.record.context,
          maintenanceVersion: target.maintenanceVersion,
          dashboardUrl: target.dashboardUrl ?? ctx.record.dashboardUrl,
        },
      };
    }
    return failedExecution(ctx, execution, "updating", {}, { instanceUsable: true, updateRepeatable: true });
  },
};

/** The owner label on a deployment (`osb-instance-id`), if it carries one. */
function ownerLabel(deployment: DeploymentView): string | undefined {
  return deployment.labels.find((l) => l.key === OWNER_LABEL)?.value;
}

/**
 * The owner label value the broker wrote for this instance: Cloudify label values cannot hold
 * every instance id (quotes, control characters, length), so compare with what was actually
 * written, never with the raw id (CFY-OWN-3).
 */
function writtenOwner(record: InstanceRecord): string | undefined {
  for (const label of record.labels) if (OWNER_LABEL in label) return label[OWNER_LABEL];
  return undefined;
}

/**
 * CFY-OWN-2: before anything destructive, the deployment must be this instance's: its owner
 * label is the one the broker wrote, or (labels are written only when the environment was
 * created) its create execution is one this instance recorded.
 */
function notOwned(
  record: InstanceRecord,
  deployment: DeploymentView,
  action: string,
): Extract<Outcome, { kind: "failed" }> | undefined {
  const owner = ownerLabel(deployment);
  const owned =
    owner !== undefined
      ? owner === writtenOwner(record)
      : deployment.createExecutionId !== undefined &&
        record.executionIds.includes(deployment.createExecutionId);
  if (owned) return undefined;
  return {
    kind: "failed",
    description:
      `Refusing to ${action} Cloudify deployment ${deployment.id}: it does not belong to this instance ` +
      `(its ${OWNER_LABEL} label is ${owner === undefined ? "missing" : JSON.stringify(owner)}).`,
    instanceUsable: false,
  };
}

async function currentExecution(ctx: Ctx): Promise<ExecutionView | undefined> {
  const id = ctx.operation.executionId;
  return id ? ctx.cloudify.getExecution(id) : undefined;
}

const UNINSTALL = { ignore_failure: true };

/**
 * Starts `workflowId` queued behind whatever runs on the deployment, at most once (CFY-GW);
 * `force` skips Cloudify's availability check (and the queue: it runs beside others).
 */
async function startWorkflow(
  ctx: Ctx,
  workflowId: string,
  parameters: Record<string, unknown>,
  next: StepName,
  on: { unavailable?: () => Promise<Outcome>; force?: boolean } = {},
): Promise<Outcome> {
  const { record, cloudify } = ctx;
  const started = await startOnce(ctx, {
    deploymentId: record.deploymentId,
    workflowId,
    parameters,
    send: async () =>
      (
        await cloudify.startExecution({
          deploymentId: record.deploymentId,
          workflowId,
          parameters,
          ...(on.force ? { force: true } : { queue: true }),
        })
      ).id,
  });
  if (started.kind === "refused") {
    if (on.unavailable && started.code === UNAVAILABLE_WORKFLOW) return on.unavailable();
    return { kind: "failed", description: `Cloudify refused to start ${workflowId}: ${started.message}` };
  }
  return afterStart(ctx, started, next);
}

function afterStart(ctx: Ctx, started: Exclude<Started, { kind: "refused" }>, next: StepName): Outcome {
  if (started.kind === "replaced") return { kind: "wait" };
  if (started.kind === "waiting") return { kind: "wait", description: started.message };
  return remember(ctx.record, { kind: "continue", step: next, executionId: started.executionId });
}

async function failedExecution(
  ctx: Ctx,
  execution: ExecutionView,
  doing: string,
  record: Partial<InstanceRecord> = {},
  flags: { instanceUsable?: boolean; updateRepeatable?: boolean } = {},
): Promise<Outcome> {
  return {
    kind: "failed",
    description: await executionFailure(ctx.cloudify, execution, doing),
    record,
    ...flags,
  };
}

/** Records a newly known execution on the instance, so a later step never adopts it again. */
function remember(record: InstanceRecord, outcome: Outcome): Outcome {
  if (
    outcome.kind !== "continue" ||
    !outcome.executionId ||
    record.executionIds.includes(outcome.executionId)
  )
    return outcome;
  return {
    ...outcome,
    record: { ...outcome.record, executionIds: [...record.executionIds, outcome.executionId] },
  };
}

/**
 * The instance status an operation leaves behind. Kept here, in one place, rather than in the
 * steps: a deadline or an unexpected refusal ends an operation outside any step.
 */
export function instanceStatusAfter(record: InstanceRecord, operation: Operation): InstanceRecord {
  const now = operation.finishedAt ?? new Date().toISOString();
  const succeeded = operation.state === "succeeded";
  switch (operation.type) {
    case "provision":
      return { ...record, status: succeeded ? "provisioned" : "provision_failed" };
    case "update":
      return { ...record, status: "provisioned" };
    case "deprovision":
      return succeeded
        ? { ...record, status: "deleted", deletedAt: now }
        : {
            ...record,
            status: (operation.priorStatus as InstanceRecord["status"] | undefined) ?? "provisioned",
          };
    default:
      return record;
  }
}
