import { type ExecutionView, TERMINAL_STATUSES } from "../cloudify-port/port.js";
import type {
  DeprovisionStep,
  InstanceRecord,
  Operation,
  ProvisionStep,
  StepName,
  UpdateStep,
} from "../model/records.js";
import type { StateMachine, StepContext, StepOutcome } from "./steps.js";
import { adoptOrStart, executionFailure, unrecordedExecution } from "./workflows.js";

type Ctx = StepContext<InstanceRecord>;
type Outcome = StepOutcome<InstanceRecord>;

/** Provision: create the deployment, wait for its environment, run `install`, wait. */
export const provisionMachine: StateMachine<InstanceRecord, ProvisionStep> = {
  async create_deployment(ctx): Promise<Outcome> {
    const { record, cloudify } = ctx;
    const existing = await cloudify.getDeployment(record.deploymentId);
    if (existing) {
      // Created by an earlier run of this step whose answer was lost (crash, timeout): adopt it,
      // unless someone else's deployment holds the id.
      const owner = existing.labels.find((l) => l.key === "osb-instance-id")?.value;
      if (owner !== undefined && owner !== record.id) {
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
    if (!TERMINAL_STATUSES.has(execution.status))
      return { kind: "wait", description: "Creating the deployment environment." };
    if (execution.status === "terminated") return { kind: "continue", step: "start_install" };
    return failedExecution(ctx, execution, "creating the deployment environment");
  },

  async start_install(ctx): Promise<Outcome> {
    return startWorkflow(ctx, "install", {}, "wait_install");
  },

  async wait_install(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "start_install" };
    if (!TERMINAL_STATUSES.has(execution.status))
      return { kind: "wait", description: "Running the install workflow." };
    if (execution.status === "terminated") return { kind: "succeeded" };
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
    if (deployment.createExecutionId) {
      const create = await ctx.cloudify.getExecution(deployment.createExecutionId);
      if (create && !TERMINAL_STATUSES.has(create.status))
        return { kind: "wait", description: "Waiting for the deployment environment before uninstalling." };
      // An environment that never came up has nothing installed: go straight to deleting.
      if (create && create.status !== "terminated") return { kind: "continue", step: "delete_deployment" };
    }
    return startWorkflow(ctx, "uninstall", { ignore_failure: true }, "wait_uninstall");
  },

  async wait_uninstall(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "start_uninstall" };
    if (!TERMINAL_STATUSES.has(execution.status))
      return { kind: "wait", description: "Running the uninstall workflow." };
    if (execution.status === "terminated") return { kind: "continue", step: "delete_deployment" };
    return failedExecution(ctx, execution, "uninstalling", {}, { instanceUsable: false });
  },

  async delete_deployment(ctx): Promise<Outcome> {
    try {
      await ctx.cloudify.deleteDeployment(ctx.record.deploymentId, false);
    } catch (error) {
      const failure = ctx.cloudify.classify(error);
      if (failure.kind === "transient") throw error;
      if (failure.kind === "not_found") return { kind: "succeeded" };
      // Executions still running (e.g. a cancelled install winding down): try again shortly.
      if (failure.code === "dependent_exists_error") return { kind: "wait", description: failure.message };
      return {
        kind: "failed",
        description: `Cloudify refused to delete the deployment: ${failure.message}`,
        instanceUsable: false,
      };
    }
    return { kind: "continue", step: "wait_deleted", executionId: undefined };
  },

  async wait_deleted(ctx): Promise<Outcome> {
    const deployment = await ctx.cloudify.getDeployment(ctx.record.deploymentId);
    if (!deployment) return { kind: "succeeded" };
    return { kind: "wait", description: "Waiting for Cloudify to remove the deployment." };
  },
};

/** Update: a Cloudify deployment update to the target blueprint and inputs; the record changes on success. */
export const updateMachine: StateMachine<InstanceRecord, UpdateStep> = {
  async start_update(ctx): Promise<Outcome> {
    const { record, operation, cloudify } = ctx;
    const adopted = await unrecordedExecution(cloudify, record.deploymentId, "update", record.executionIds);
    if (adopted) return remember(record, { kind: "continue", step: "wait_update", executionId: adopted.id });
    const target = operation.target;
    if (!target) return { kind: "failed", description: "The update has no target; this is a broker bug." };
    try {
      const { executionId } = await cloudify.updateDeployment({
        deploymentId: record.deploymentId,
        blueprintId: target.blueprintId !== record.blueprintId ? target.blueprintId : undefined,
        inputs: target.changedInputs,
      });
      return remember(record, { kind: "continue", step: "wait_update", executionId });
    } catch (error) {
      const failure = cloudify.classify(error);
      if (failure.kind === "transient") throw error;
      return { kind: "failed", description: `Cloudify refused the update: ${failure.message}` };
    }
  },

  async wait_update(ctx): Promise<Outcome> {
    const execution = await currentExecution(ctx);
    if (!execution) return { kind: "continue", step: "start_update" };
    if (!TERMINAL_STATUSES.has(execution.status))
      return { kind: "wait", description: "Running the deployment update." };
    const target = ctx.operation.target;
    if (execution.status === "terminated" && target) {
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

async function currentExecution(ctx: Ctx): Promise<ExecutionView | undefined> {
  const id = ctx.operation.executionId;
  return id ? ctx.cloudify.getExecution(id) : undefined;
}

/** An execution of `workflowId` on the deployment that no operation of this instance has recorded yet. */
async function startWorkflow(
  ctx: Ctx,
  workflowId: string,
  parameters: Record<string, unknown>,
  next: StepName,
): Promise<Outcome> {
  const started = await adoptOrStart(ctx.cloudify, {
    deploymentId: ctx.record.deploymentId,
    workflowId,
    parameters,
    known: ctx.record.executionIds,
    matchParameters: false,
  });
  if (started.kind === "not_ready") return { kind: "wait", description: started.message };
  if (started.kind === "refused") return { kind: "failed", description: started.message };
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
