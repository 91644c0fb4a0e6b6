import type { CompiledCatalog, CompiledPlan, CompiledWorkflowCall } from "../../config/compile-catalog.js";
import type { StateStore } from "../../state/index.js";
import { TemplateRenderError } from "../../templates/index.js";
import {
  bindingContextOf,
  CredentialsError,
  type DeploymentData,
  fetchDeploymentData,
  renderBindingResult,
} from "../bindings/render-binding.js";
import {
  BINDINGS,
  type BindingRecord,
  type BindStep,
  INSTANCES,
  type InstanceRecord,
  type Operation,
  type StepName,
  type UnbindStep,
} from "../model/records.js";
import { type Sealer, sealContext } from "../model/sealing.js";
import type { StateMachine, StepContext, StepOutcome } from "./steps.js";
import { executionFailure, startOnce } from "./workflows.js";

type Ctx = StepContext<BindingRecord>;
type Outcome = StepOutcome<BindingRecord>;

export interface BindingMachineDeps {
  store: StateStore;
  catalog: () => CompiledCatalog;
  sealer: Sealer;
}

/**
 * Workflow-mode bindings. Bind: run the plan's create workflow on the instance's deployment
 * (e.g. create a database user), wait, then render credentials from the deployment. Unbind:
 * stop a bind still running, then run the delete workflow with the same identity.
 */
export function bindingMachines(deps: BindingMachineDeps): {
  bind: StateMachine<BindingRecord, BindStep>;
  unbind: StateMachine<BindingRecord, UnbindStep>;
} {
  const lookup = (record: BindingRecord) => {
    const instance = deps.store.get<InstanceRecord>(INSTANCES, record.instanceId);
    const plan = deps.catalog().plansById.get(record.planId);
    if (!instance || !plan)
      throw new CredentialsError(
        `The binding's instance ${record.instanceId} or plan ${record.planId} no longer exists.`,
      );
    return { instance, plan };
  };

  const templateContext = (
    record: BindingRecord,
    instance: InstanceRecord,
    plan: CompiledPlan,
    data?: DeploymentData,
  ) =>
    bindingContextOf(
      record,
      instance,
      plan,
      deps.sealer.open<Record<string, unknown>>(record.parameters, sealContext(record.id, "parameters")),
      data,
    );

  /** Starts `call` at most once (CFY-GW); never adopts another binding's execution. */
  const startWorkflow = async (
    ctx: Ctx,
    call: CompiledWorkflowCall,
    parameters: Record<string, unknown>,
    next: StepName,
  ): Promise<Outcome> => {
    const { record, cloudify } = ctx;
    const deploymentId = lookup(record).instance.deploymentId;
    const started = await startOnce(ctx, {
      deploymentId,
      workflowId: call.workflowId,
      parameters,
      claimed: claimedByOthers(record),
      send: async () =>
        (
          await cloudify.startExecution({
            deploymentId,
            workflowId: call.workflowId,
            parameters,
            queue: true,
          })
        ).id,
    });
    if (started.kind === "replaced") return { kind: "wait" };
    if (started.kind === "waiting") return { kind: "wait", description: started.message };
    if (started.kind === "refused")
      return {
        kind: "failed",
        description: `Cloudify refused to start ${call.workflowId}: ${started.message}`,
      };
    return {
      kind: "continue",
      step: next,
      executionId: started.executionId,
      record: {
        executionIds: [...record.executionIds, started.executionId],
        workflowParameters: deps.sealer.seal(parameters, sealContext(record.id, "workflowParameters")),
      },
    };
  };

  /** Executions the instance and its other bindings recorded: never this binding's. */
  const claimedByOthers = (record: BindingRecord): string[] => {
    const instance = deps.store.get<InstanceRecord>(INSTANCES, record.instanceId);
    const others = deps.store
      .list<BindingRecord>(BINDINGS)
      .filter(({ value }) => value.instanceId === record.instanceId && value.id !== record.id);
    return [...(instance?.executionIds ?? []), ...others.flatMap(({ value }) => value.executionIds)];
  };

  const waitWorkflow = async (ctx: Ctx, next: StepName, doing: string): Promise<Outcome> => {
    const id = ctx.operation.executionId;
    const execution = id ? await ctx.cloudify.getExecution(id) : undefined;
    if (!execution)
      return { kind: "failed", description: `The Cloudify execution ${id} that was ${doing} disappeared.` };
    if (execution.outcome === "running")
      return { kind: "wait", description: `Running the ${execution.workflowId} workflow.` };
    if (execution.outcome === "succeeded") return { kind: "continue", step: next };
    return { kind: "failed", description: await executionFailure(ctx.cloudify, execution, doing) };
  };

  const guard = async (work: () => Promise<Outcome>): Promise<Outcome> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CredentialsError) return { kind: "failed", description: error.message };
      if (error instanceof TemplateRenderError)
        return { kind: "failed", description: `Cannot render workflow parameters: ${error.reason}` };
      throw error;
    }
  };

  const bind: StateMachine<BindingRecord, BindStep> = {
    start_workflow: (ctx) =>
      guard(async () => {
        const { instance, plan } = lookup(ctx.record);
        const call = plan.binding.create;
        if (!call) return { kind: "continue", step: "render_credentials" };
        const data = await fetchDeploymentData(ctx.cloudify, plan, instance.deploymentId);
        const parameters = call.parameters.render(templateContext(ctx.record, instance, plan, data), {
          seed: seedOf(ctx.record),
        }) as Record<string, unknown>;
        return startWorkflow(ctx, call, parameters, "wait_workflow");
      }),
    wait_workflow: (ctx) => waitWorkflow(ctx, "render_credentials", "creating the binding"),
    render_credentials: (ctx) =>
      guard(async () => {
        const { instance, plan } = lookup(ctx.record);
        const data = await fetchDeploymentData(ctx.cloudify, plan, instance.deploymentId);
        const result = renderBindingResult(
          plan,
          templateContext(ctx.record, instance, plan, data),
          data,
          seedOf(ctx.record),
        );
        return {
          kind: "succeeded",
          record: { result: deps.sealer.seal(result, sealContext(ctx.record.id, "result")) },
        };
      }),
  };

  const unbind: StateMachine<BindingRecord, UnbindStep> = {
    cancel_bind: async (ctx) => {
      const id = ctx.operation.cancelExecutionId;
      if (id)
        await ctx.cloudify.cancelExecution(id).catch((error) => {
          if (ctx.cloudify.classify(error).kind === "transient") throw error;
        });
      return { kind: "continue", step: "start_revoke" };
    },
    start_revoke: (ctx) =>
      guard(async () => {
        const instance = deps.store.get<InstanceRecord>(INSTANCES, ctx.record.instanceId);
        // The deployment went away with its instance: whatever the bind made went with it.
        if (!instance || instance.status === "deleted") return { kind: "succeeded" };
        const { plan } = lookup(ctx.record);
        const call = plan.binding.delete;
        // Revoke even when the record never saw the create workflow start: a crash may have hidden
        // it, and revoke workflows are written to tolerate what does not exist.
        if (!call) return { kind: "succeeded" };
        const parameters = call.parameters.render(templateContext(ctx.record, instance, plan), {
          seed: seedOf(ctx.record),
        }) as Record<string, unknown>;
        return startWorkflow(ctx, call, parameters, "wait_revoke");
      }),
    wait_revoke: (ctx) => waitWorkflow(ctx, "revoked", "revoking the binding"),
    revoked: async () => ({ kind: "succeeded" }),
  };

  const seedOf = (record: BindingRecord) =>
    deps.sealer.open<string>(record.seed, sealContext(record.id, "seed"));
  return { bind, unbind };
}

/** The binding status an operation leaves behind (see instanceStatusAfter for why it is here). */
export function bindingStatusAfter(record: BindingRecord, operation: Operation): BindingRecord {
  const now = operation.finishedAt ?? new Date().toISOString();
  const succeeded = operation.state === "succeeded";
  if (operation.type === "bind") return { ...record, status: succeeded ? "bound" : "bind_failed" };
  if (operation.type === "unbind") {
    return succeeded
      ? { ...record, status: "deleted", deletedAt: now, result: undefined }
      : { ...record, status: (operation.priorStatus as BindingRecord["status"] | undefined) ?? "bound" };
  }
  return record;
}
