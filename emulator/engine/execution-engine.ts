import type { Logger } from "../../src/log/logger.js";
import { ManagerError } from "../errors.js";
import type { Faults, WorkflowFailure as InjectedFailure } from "../faults.js";
import { isWorkflowAvailable, unavailableWorkflow } from "../model/availability.js";
import type {
  DeploymentRecord,
  EventRecord,
  ExecutionRecord,
  NodeInstanceState,
  TenantData,
} from "../state/records.js";
import { ACTIVE_STATUSES, TERMINAL_STATUSES } from "../state/records.js";
import type { Store } from "../state/store.js";
import type { EmulatorTimings } from "../timings.js";
import { nowIso } from "../util.js";
import { runBody, tracebackText, WorkflowFailure } from "./workflows.js";

type Waiter = (exec: ExecutionRecord | undefined) => void;

/**
 * Moves executions through pending → started → terminated | failed | cancelled on timers, keeps
 * one active execution per deployment (queued ones start when it is free) and applies each
 * workflow's effects when its started phase ends.
 */
/** Where a node being installed can be when its install is cancelled: live, not started. */
const MIDWAY: readonly NodeInstanceState[] = ["creating", "created", "configuring", "configured", "starting"];

/** The execution history keeps the most recent entries only, so a long-running emulator stays small. */
const MAX_HISTORY = 50_000;

export class Engine {
  private timers = new Map<string, NodeJS.Timeout>();
  private waiters = new Map<string, Waiter[]>();
  /**
   * Every execution ever submitted, also after its deployment (and with it the execution) was
   * deleted: tests count what the manager was asked to run over a whole lifecycle.
   */
  readonly history: ExecutionRecord[] = [];

  constructor(
    private readonly store: Store,
    private readonly timings: EmulatorTimings,
    private readonly faults: Faults,
    private readonly log: Logger,
  ) {}

  /** Registers a new execution (already stored) and starts its clock unless it is queued. */
  submit(exec: ExecutionRecord): void {
    this.history.push(exec);
    if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    this.log.debug(
      { execution: exec.id, workflow: exec.workflowId, status: exec.status },
      "execution created",
    );
    if (exec.status === "pending") this.schedulePending(exec);
  }

  /** Resolves when the execution reaches a terminal status (undefined if the manager was wiped). */
  whenEnded(exec: ExecutionRecord): Promise<ExecutionRecord | undefined> {
    if (TERMINAL_STATUSES.has(exec.status)) return Promise.resolve(exec);
    return new Promise((resolve) => {
      const list = this.waiters.get(exec.id) ?? [];
      list.push(resolve);
      this.waiters.set(exec.id, list);
    });
  }

  cancel(exec: ExecutionRecord, action: "cancel" | "force-cancel" | "kill"): void {
    const allowed: Record<typeof action, string[]> = {
      cancel: ["pending", "started", "scheduled", "queued"],
      "force-cancel": ["pending", "started", "scheduled", "queued", "cancelling"],
      kill: [
        "pending",
        "started",
        "scheduled",
        "queued",
        "cancelling",
        "force_cancelling",
        "kill_cancelling",
      ],
    };
    if (action === "kill" && TERMINAL_STATUSES.has(exec.status)) return;
    if (!allowed[action].includes(exec.status)) {
      throw new ManagerError(
        "illegal_action_error",
        `Can't ${action} execution ${exec.id} because it's in status ${exec.status}`,
      );
    }
    this.clearTimer(exec.id);
    const dep = this.deploymentOf(exec);
    if (dep) dep.latestExecutionId = exec.id;
    if (dep && exec.status === "started") this.stopMidway(exec, dep);
    if (exec.status === "queued" || exec.status === "scheduled") {
      this.endCancelled(exec);
      return;
    }
    exec.status =
      action === "cancel" ? "cancelling" : action === "force-cancel" ? "force_cancelling" : "kill_cancelling";
    this.schedule(exec, this.timings.cancelMs, () => this.endCancelled(exec));
  }

  /**
   * A cancelled install stops at its current task: its nodes are installed one after the other,
   * so those before the current one are `started`, the current one is left live but not started
   * (creating ... starting), the rest `uninitialized`, as far as the workflow had come.
   */
  private stopMidway(exec: ExecutionRecord, dep: DeploymentRecord): void {
    if (exec.kind !== "workflow" || exec.workflowId !== "install" || !exec.startedAt) return;
    const elapsed = Date.now() - Date.parse(exec.startedAt);
    const progress = Math.min(0.999, Math.max(0, elapsed / Math.max(1, this.durationOf(exec, dep))));
    const position = progress * dep.nodes.length;
    dep.nodes.forEach((node, index) => {
      if (node.state !== "uninitialized") return;
      if (index < Math.floor(position)) node.state = "started";
      else if (index === Math.floor(position))
        node.state = MIDWAY[Math.min(MIDWAY.length - 1, Math.floor((position - index) * MIDWAY.length))]!;
    });
  }

  resume(exec: ExecutionRecord, force: boolean): void {
    const resumable = force ? ["failed", "cancelled"] : ["started", "failed", "cancelled"];
    if (!resumable.includes(exec.status)) {
      throw new ManagerError(
        "conflict_error",
        `Cannot resume execution: \`${exec.id}\` in state: \`${exec.status}\``,
      );
    }
    this.clearTimer(exec.id);
    exec.status = "pending";
    exec.error = null;
    exec.endedAt = null;
    this.schedulePending(exec);
  }

  /** Drops the deployment with its executions, updates and events (the delete workflow's end). */
  removeDeployment(tenant: string, deploymentId: string): void {
    const data = this.store.tenant(tenant);
    data.deployments.delete(deploymentId);
    for (const exec of [...data.executions.values()]) {
      if (exec.deploymentId !== deploymentId) continue;
      this.clearTimer(exec.id);
      data.executions.delete(exec.id);
      this.notify(exec);
    }
    for (const [id, update] of data.updates)
      if (update.deploymentId === deploymentId) data.updates.delete(id);
    data.events = data.events.filter((e) => e.deploymentId !== deploymentId);
  }

  /** Stops every clock (server shutdown or a restart that loses data). */
  stopAll(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const list of this.waiters.values()) for (const resolve of list) resolve(undefined);
    this.waiters.clear();
  }

  private schedule(exec: ExecutionRecord, ms: number, fn: () => void): void {
    this.clearTimer(exec.id);
    const timer = setTimeout(() => {
      this.timers.delete(exec.id);
      fn();
    }, ms);
    timer.unref();
    this.timers.set(exec.id, timer);
  }

  private clearTimer(id: string): void {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
  }

  private schedulePending(exec: ExecutionRecord): void {
    this.schedule(exec, this.timings.pendingMs, () => this.begin(exec));
  }

  private tenantOf(exec: ExecutionRecord): TenantData {
    return this.store.tenant(exec.tenant);
  }

  private deploymentOf(exec: ExecutionRecord): DeploymentRecord | undefined {
    return this.tenantOf(exec).deployments.get(exec.deploymentId);
  }

  private durationOf(exec: ExecutionRecord, dep: DeploymentRecord): number {
    if (exec.kind === "create_env") return this.timings.createEnvMs;
    if (exec.kind === "delete_env") return this.timings.deleteEnvMs;
    const plan = exec.kind === "update" ? this.store.blueprints.get(exec.blueprintId) : dep.plan;
    const wf =
      exec.kind === "update" || exec.workflowId === "update"
        ? plan?.update
        : plan?.workflows[exec.workflowId];
    return wf?.durationMs === undefined ? this.timings.workflowMs : wf.durationMs * this.timings.scale;
  }

  private begin(exec: ExecutionRecord): void {
    const dep = this.deploymentOf(exec);
    if (!dep) return;
    exec.status = "started";
    exec.startedAt = nowIso();
    exec.totalOperations = exec.kind === "workflow" ? Math.max(dep.nodes.length, 1) : 0;
    dep.latestExecutionId = exec.id;
    if (exec.kind === "delete_env") dep.deletePending = false;
    this.setUpdateState(exec, "executing_workflow");
    this.emit(exec, dep, {
      type: "cloudify_event",
      eventType: "workflow_started",
      message: `Starting '${exec.workflowId}' workflow execution`,
    });
    this.schedule(exec, this.durationOf(exec, dep), () => this.finish(exec));
  }

  private finish(exec: ExecutionRecord): void {
    const data = this.tenantOf(exec);
    const dep = data.deployments.get(exec.deploymentId);
    if (!dep) return;
    let failure: InjectedFailure | undefined = this.faults.forWorkflow(
      exec.workflowId,
      exec.blueprintId,
      dep.id,
    );
    // uninstall with ignore_failure=true logs task failures and carries on, as on a real manager.
    if (failure && exec.workflowId === "uninstall" && exec.parameters.ignore_failure === true) {
      this.emitTaskFailure(exec, dep, failure);
      failure = undefined;
    }
    let operations = 0;
    if (!failure) {
      try {
        operations = runBody({ store: this.store, data, exec, dep });
      } catch (err) {
        if (!(err instanceof WorkflowFailure)) this.log.error({ err }, "emulator workflow crashed");
        failure = {
          errorType: err instanceof WorkflowFailure ? err.errorType : "RuntimeError",
          message: (err as Error).message,
        };
      }
    }
    exec.endedAt = nowIso();
    if (failure) {
      exec.status = "failed";
      exec.error = tracebackText(failure.errorType, failure.message, exec.workflowId);
      exec.finishedOperations = Math.floor(exec.totalOperations / 2);
      this.emitTaskFailure(exec, dep, failure);
      this.emit(exec, dep, {
        type: "cloudify_event",
        eventType: "workflow_failed",
        message: `'${exec.workflowId}' workflow execution failed: ${failure.message}`,
        errorCauses: [this.cause(exec, failure)],
      });
      this.setUpdateState(exec, "failed");
    } else {
      exec.status = "terminated";
      exec.error = "";
      exec.totalOperations = Math.max(exec.totalOperations, operations);
      exec.finishedOperations = exec.totalOperations;
      this.emit(exec, dep, {
        type: "cloudify_event",
        eventType: "workflow_succeeded",
        message: `'${exec.workflowId}' workflow execution succeeded`,
      });
      this.setUpdateState(exec, "successful");
    }
    this.log.debug({ execution: exec.id, workflow: exec.workflowId, status: exec.status }, "execution ended");
    this.afterEnd(exec, dep);
  }

  private endCancelled(exec: ExecutionRecord): void {
    const dep = this.deploymentOf(exec);
    exec.status = "cancelled";
    exec.error = "";
    exec.endedAt = nowIso();
    this.setUpdateState(exec, "failed");
    if (dep) {
      this.emit(exec, dep, {
        type: "cloudify_event",
        eventType: "workflow_cancelled",
        message: `'${exec.workflowId}' workflow execution cancelled`,
      });
      this.afterEnd(exec, dep);
    } else this.notify(exec);
  }

  private afterEnd(exec: ExecutionRecord, dep: DeploymentRecord): void {
    if (exec.kind === "delete_env") {
      dep.deletePending = false;
      const forced = exec.parameters.force === true;
      if (exec.status === "terminated" || (exec.status === "failed" && forced)) {
        this.removeDeployment(exec.tenant, dep.id);
        return;
      }
    }
    if (dep.plan) {
      // MGR recomputes installation_status whenever an execution ends.
      const allStarted = dep.nodes.length > 0 && dep.nodes.every((n) => n.state === "started");
      dep.installationStatus = allStarted ? "active" : "inactive";
    }
    this.notify(exec);
    this.dequeue(exec.tenant, dep.id);
  }

  /** Starts the oldest queued execution of a deployment once nothing else is active on it. */
  dequeue(tenant: string, deploymentId: string): void {
    const execs = [...this.store.tenant(tenant).executions.values()].filter(
      (e) => e.deploymentId === deploymentId,
    );
    if (execs.some((e) => ACTIVE_STATUSES.has(e.status))) return;
    const queued = execs.filter((e) => e.status === "queued");
    const next = queued.find((e) => e.kind === "create_env") ?? queued[0];
    if (!next) return;
    const unavailable = this.unavailableAtDequeue(next);
    if (unavailable) {
      // MGR re-checks availability when it dequeues: the execution fails, the next one may run.
      next.status = "failed";
      next.error = `Error dequeueing execution: ${unavailable}`;
      next.endedAt = nowIso();
      const dep = this.deploymentOf(next);
      if (dep) dep.latestExecutionId = next.id;
      this.notify(next);
      this.dequeue(tenant, deploymentId);
      return;
    }
    next.status = "pending";
    this.schedulePending(next);
  }

  private unavailableAtDequeue(exec: ExecutionRecord): string | undefined {
    if (exec.kind !== "workflow" || exec.forced) return undefined;
    const dep = this.deploymentOf(exec);
    const wf = exec.workflowId === "update" ? dep?.plan?.update : dep?.plan?.workflows[exec.workflowId];
    if (!dep || !wf || isWorkflowAvailable(dep, wf)) return undefined;
    return unavailableWorkflow(exec.workflowId).message;
  }

  private notify(exec: ExecutionRecord): void {
    const list = this.waiters.get(exec.id);
    this.waiters.delete(exec.id);
    for (const resolve of list ?? []) resolve(exec);
  }

  private setUpdateState(exec: ExecutionRecord, state: "executing_workflow" | "successful" | "failed"): void {
    if (!exec.updateId) return;
    const update = this.tenantOf(exec).updates.get(exec.updateId);
    if (update) update.state = state;
  }

  private cause(exec: ExecutionRecord, failure: InjectedFailure) {
    return {
      message: failure.message,
      traceback: tracebackText(failure.errorType, failure.message, exec.workflowId),
      type: failure.errorType,
    };
  }

  /** The error log a failing task leaves; system workflows fail in the workflow itself, not a task. */
  private emitTaskFailure(exec: ExecutionRecord, dep: DeploymentRecord, failure: InjectedFailure): void {
    const node = exec.kind === "workflow" ? dep.nodes[0] : undefined;
    this.emit(exec, dep, {
      type: "cloudify_log",
      level: "error",
      message: node ? `Task failed 'script_runner.tasks.run' -> ${failure.message}` : failure.message,
      nodeName: node?.nodeId ?? null,
      nodeInstanceId: node?.id ?? null,
      operation: node ? "cloudify.interfaces.lifecycle.create" : null,
      errorCauses: [this.cause(exec, failure)],
    });
  }

  private emit(
    exec: ExecutionRecord,
    dep: DeploymentRecord,
    fields: Pick<EventRecord, "type" | "message"> & Partial<EventRecord>,
  ): void {
    this.store.addEvent({
      tenant: exec.tenant,
      timestamp: nowIso(),
      level: null,
      eventType: null,
      executionId: exec.id,
      workflowId: exec.workflowId,
      deploymentId: dep.id,
      deploymentDisplayName: dep.displayName,
      blueprintId: exec.blueprintId,
      nodeName: null,
      nodeInstanceId: null,
      operation: null,
      errorCauses: null,
      ...fields,
    });
  }
}
