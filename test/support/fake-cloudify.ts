import { outcomeOf } from "../../src/broker/cloudify-port/adapter.js";
import type {
  CloudifyFailure,
  CloudifyPort,
  CreateDeploymentRequest,
  DeploymentView,
  ExecutionView,
  StartExecutionRequest,
  UpdateDeploymentRequest,
} from "../../src/broker/cloudify-port/port.js";
// The fake speaks Cloudify's own execution statuses and reduces them as the real adapter does.
import {
  type ExecutionStatus,
  TERMINAL_EXECUTION_STATUSES as TERMINAL_STATUSES,
} from "../../src/cloudify/types.js";

/**
 * A hand-written, in-memory CloudifyPort for the fast domain tests (test/domain/). It keeps the
 * manager rules the domain relies on (docs/CONTRACT.md section 17): one running execution per
 * deployment unless queued (M11), no workflow before the environment exists (M10), no
 * deletion while something runs (M15), and executions that are not idempotent (M16). It is
 * not the emulator: the HTTP suites run the broker against that.
 *
 * Executions stay `started` until the test ends them (`finish`), unless `autoFinish` names the
 * status they end with at once. Every call is recorded in `calls`; `failNext` makes the next
 * call of a method throw, and `loseAnswer` makes it act and then throw as if the answer was
 * lost on the way back (a gateway timeout, or a crash before the broker recorded it).
 */
export class FakeCloudify implements CloudifyPort {
  readonly deployments = new Map<string, FakeDeployment>();
  readonly executions = new Map<string, FakeExecution>();
  readonly secrets = new Map<string, string>([["postgresql_ca_cert", "-----BEGIN CERTIFICATE-----fake"]]);
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** When set, new executions end with this status at once (per workflow in `outcomes`). */
  autoFinish: ExecutionStatus | undefined = "terminated";
  readonly outcomes = new Map<string, { status: ExecutionStatus; error?: string }>();
  /** What a workflow does to its deployment when it terminates (e.g. create_user adds a user). */
  readonly effects = new Map<
    string,
    (deployment: FakeDeployment, parameters: Record<string, unknown>) => void
  >();
  private readonly gates = new Map<string, Promise<void>[]>();
  private readonly failures = new Map<string, { error: unknown; afterActing: boolean }[]>();
  private nextId = 1;

  // --- test controls -----------------------------------------------------------------------

  /** The next call of `method` throws `error` (a FakeFailure, or anything else: transient). */
  failNext(method: keyof CloudifyPort, error: unknown = transient()): void {
    this.queueFailure(method, { error, afterActing: false });
  }

  /** The next call of `method` does its work, then throws a transient failure (answer lost). */
  loseAnswer(method: keyof CloudifyPort): void {
    this.queueFailure(method, { error: transient("the gateway timed out (504)"), afterActing: true });
  }

  /** The next call of `method` waits until the returned function is called (a slow manager). */
  hold(method: keyof CloudifyPort): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const queue = this.gates.get(method) ?? [];
    queue.push(gate);
    this.gates.set(method, queue);
    return release;
  }

  /** Ends a running execution and applies its workflow's effects. */
  finish(executionId: string, status: ExecutionStatus = "terminated", error?: string): void {
    const execution = this.executions.get(executionId);
    if (!execution) throw new Error(`no execution ${executionId}`);
    execution.status = status;
    execution.error = error ?? (status === "failed" ? "boom" : null);
    if (status === "terminated") this.applyEffects(execution);
  }

  /** Ends every running execution with `status`. */
  finishAll(status: ExecutionStatus = "terminated"): void {
    for (const execution of this.executions.values())
      if (!TERMINAL_STATUSES.has(execution.status)) this.finish(execution.id, status);
  }

  /** Executions of `workflowId` (all deployments unless one is given), oldest first. */
  executionsOf(workflowId: string, deploymentId?: string): FakeExecution[] {
    return [...this.executions.values()].filter(
      (e) => e.workflowId === workflowId && (deploymentId === undefined || e.deploymentId === deploymentId),
    );
  }

  callsTo(method: keyof CloudifyPort): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  // --- CloudifyPort ------------------------------------------------------------------------

  async getBlueprintInputs(blueprintId: string) {
    return this.call("getBlueprintInputs", [blueprintId], () => undefined);
  }

  async getDeployment(deploymentId: string): Promise<DeploymentView | undefined> {
    return this.call("getDeployment", [deploymentId], () => {
      const d = this.deployments.get(deploymentId);
      if (!d) return undefined;
      return {
        id: d.id,
        blueprintId: d.blueprintId,
        createExecutionId: d.createExecutionId,
        labels: d.labels.flatMap((l) => Object.entries(l).map(([key, value]) => ({ key, value }))),
      };
    });
  }

  async findDeployments(labels: Record<string, string>): Promise<DeploymentView[]> {
    const ids = await this.call("findDeployments", [labels], () =>
      [...this.deployments.values()]
        .filter((d) =>
          Object.entries(labels).every(([k, v]) =>
            d.labels.some((l) => (l as Record<string, string>)[k] === v),
          ),
        )
        .map((d) => d.id),
    );
    return Promise.all(ids.map(async (id) => (await this.getDeployment(id))!));
  }

  async createDeployment(request: CreateDeploymentRequest) {
    return this.call("createDeployment", [request], () => {
      if (this.deployments.has(request.deploymentId))
        throw new FakeFailure(
          "rejected",
          `deployment ${request.deploymentId} already exists`,
          "conflict_error",
        );
      const deployment: FakeDeployment = {
        id: request.deploymentId,
        blueprintId: request.blueprintId,
        inputs: { ...request.inputs },
        labels: request.labels,
        createExecutionId: "",
        outputs: {
          host: "10.0.0.7",
          port: 5432,
          database: "app",
          jdbc_url: "jdbc:postgresql://10.0.0.7/app",
        },
        capabilities: {
          users: {},
          admin_username: "admin",
          admin_password: "admin-pw",
          password: "cache-pw",
          uri: "tcp://10.0.0.7",
        },
      };
      this.deployments.set(deployment.id, deployment);
      deployment.createExecutionId = this.newExecution(deployment.id, "create_deployment_environment", {}).id;
      return { createExecutionId: deployment.createExecutionId };
    });
  }

  async deleteDeployment(deploymentId: string, force: boolean) {
    return this.call("deleteDeployment", [deploymentId, force], () => {
      if (!this.deployments.has(deploymentId)) return;
      if (this.running(deploymentId).length)
        throw new FakeFailure("rejected", "there are running executions", "dependent_exists_error");
      // M15: live nodes keep a deployment unless the deletion is forced.
      if (!force && this.liveNodes.get(deploymentId)?.length)
        throw new FakeFailure("rejected", "there are live nodes", "dependent_exists_error");
      this.deployments.delete(deploymentId);
    });
  }

  async startExecution(request: StartExecutionRequest): Promise<ExecutionView> {
    return this.call("startExecution", [request], () => {
      const deployment = this.deployments.get(request.deploymentId);
      if (!deployment)
        throw new FakeFailure("not_found", `no deployment ${request.deploymentId}`, "not_found_error");
      const create = this.executions.get(deployment.createExecutionId)!;
      if (!TERMINAL_STATUSES.has(create.status))
        throw new FakeFailure(
          "rejected",
          "environment creation in progress",
          "deployment_environment_creation_in_progress_error",
        );
      if (this.running(deployment.id).length && !request.queue)
        throw new FakeFailure("rejected", "an execution is running", "existing_running_execution_error");
      return view(this.newExecution(deployment.id, request.workflowId, request.parameters ?? {}));
    });
  }

  async getExecution(executionId: string): Promise<ExecutionView | undefined> {
    return this.call("getExecution", [executionId], () => {
      const e = this.executions.get(executionId);
      return e && view(e);
    });
  }

  /** Live node instances, as tests set them (`liveNodes`): none unless a test says so. */
  readonly liveNodes = new Map<string, string[]>();

  async liveNodeInstances(deploymentId: string): Promise<string[]> {
    return this.call("liveNodeInstances", [deploymentId], () => [
      ...(this.liveNodes.get(deploymentId) ?? []),
    ]);
  }

  async listExecutions(deploymentId: string, workflowId: string): Promise<ExecutionView[]> {
    return this.call("listExecutions", [deploymentId, workflowId], () =>
      this.executionsOf(workflowId, deploymentId).map(view),
    );
  }

  async cancelExecution(executionId: string) {
    return this.call("cancelExecution", [executionId], () => {
      const e = this.executions.get(executionId);
      if (!e) throw new FakeFailure("not_found", `no execution ${executionId}`, "not_found_error");
      if (TERMINAL_STATUSES.has(e.status))
        throw new FakeFailure("rejected", `execution ${executionId} has ended`, "illegal_action_error");
      e.status = "cancelled";
    });
  }

  async failureReason(execution: ExecutionView) {
    return this.call("failureReason", [execution], () => execution.error ?? "no reason given");
  }

  async updateDeployment(request: UpdateDeploymentRequest) {
    return this.call("updateDeployment", [request], () => {
      const deployment = this.deployments.get(request.deploymentId);
      if (!deployment)
        throw new FakeFailure("not_found", `no deployment ${request.deploymentId}`, "not_found_error");
      const execution = this.newExecution(deployment.id, "update", { ...request });
      return { executionId: execution.id };
    });
  }

  async outputs(deploymentId: string) {
    return this.call("outputs", [deploymentId], () => ({ ...this.deployment(deploymentId).outputs }));
  }

  async capabilities(deploymentId: string) {
    return this.call("capabilities", [deploymentId], () =>
      structuredClone(this.deployment(deploymentId).capabilities),
    );
  }

  async secret(key: string) {
    return this.call("secret", [key], () => this.secrets.get(key));
  }

  classify(error: unknown): CloudifyFailure {
    if (error instanceof FakeFailure) {
      const failure: CloudifyFailure = {
        kind: error.kind,
        code: error.code,
        message: error.message,
        detail: error.message,
      };
      // As the real adapter reports it (from cloudify/errors.ts isEnvironmentNotReady).
      if (error.code?.startsWith("deployment_environment_creation_")) failure.environmentNotReady = true;
      return failure;
    }
    const message = error instanceof Error ? error.message : String(error);
    return { kind: "transient", message, detail: message };
  }

  // --- internals ---------------------------------------------------------------------------

  private async call<T>(method: keyof CloudifyPort, args: unknown[], work: () => T): Promise<T> {
    this.calls.push({ method, args });
    const gate = this.gates.get(method)?.shift();
    if (gate) await gate;
    const failure = this.failures.get(method)?.shift();
    if (failure && !failure.afterActing) throw failure.error;
    const result = work();
    if (failure) throw failure.error;
    return result;
  }

  private queueFailure(method: string, failure: { error: unknown; afterActing: boolean }): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(failure);
    this.failures.set(method, queue);
  }

  private deployment(id: string): FakeDeployment {
    const d = this.deployments.get(id);
    if (!d) throw new FakeFailure("not_found", `no deployment ${id}`, "not_found_error");
    return d;
  }

  private running(deploymentId: string): FakeExecution[] {
    return [...this.executions.values()].filter(
      (e) => e.deploymentId === deploymentId && !TERMINAL_STATUSES.has(e.status),
    );
  }

  private newExecution(deploymentId: string, workflowId: string, parameters: Record<string, unknown>) {
    const sequence = this.nextId++;
    const execution: FakeExecution = {
      id: `exec-${sequence}`,
      createdAt: new Date(Date.UTC(2026, 0, 1) + sequence * 1000).toISOString(),
      deploymentId,
      workflowId,
      parameters,
      status: "started",
      error: null,
    };
    this.executions.set(execution.id, execution);
    const outcome = this.outcomes.get(workflowId) ?? (this.autoFinish && { status: this.autoFinish });
    if (outcome) this.finish(execution.id, outcome.status, outcome.error);
    return execution;
  }

  private applyEffects(execution: FakeExecution): void {
    const deployment = this.deployments.get(execution.deploymentId);
    if (!deployment) return;
    if (execution.workflowId === "update") {
      const request = execution.parameters as unknown as UpdateDeploymentRequest;
      Object.assign(deployment.inputs, request.inputs);
      if (request.blueprintId) deployment.blueprintId = request.blueprintId;
    }
    this.effects.get(execution.workflowId)?.(deployment, execution.parameters);
  }
}

export interface FakeDeployment {
  id: string;
  blueprintId: string;
  inputs: Record<string, unknown>;
  labels: Record<string, string>[];
  createExecutionId: string;
  outputs: Record<string, unknown>;
  capabilities: Record<string, unknown>;
}

export interface FakeExecution {
  id: string;
  deploymentId: string;
  workflowId: string;
  parameters: Record<string, unknown>;
  status: ExecutionStatus;
  error: string | null;
  /** Strictly increasing in creation order (a second apart), as Cloudify's created_at. */
  createdAt: string;
}

/** A failure the fake classifies as given (a refusal, a not-found, or a transient one). */
export class FakeFailure extends Error {
  constructor(
    readonly kind: CloudifyFailure["kind"],
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export function transient(message = "connection reset"): FakeFailure {
  return new FakeFailure("transient", message);
}

function view(e: FakeExecution): ExecutionView {
  return {
    id: e.id,
    workflowId: e.workflowId,
    parameters: e.parameters,
    outcome: outcomeOf(e.status),
    error: e.error,
    createdAt: e.createdAt,
  };
}
