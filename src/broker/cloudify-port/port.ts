/**
 * The port owns its types: the domain never imports the REST client's wire types, and the
 * adapter (adapter.ts) is where the two meet.
 */
/**
 * How an execution stands, as the domain decides on it. The adapter reduces Cloudify's ten
 * execution statuses (pending, queued, cancelling...) to these: everything not yet ended is
 * `running`, `terminated` is `succeeded`.
 */
export type ExecutionOutcome = "running" | "succeeded" | "failed" | "cancelled";

/** A blueprint's declared input, as much as parameter schemas are derived from. */
export interface BlueprintInput {
  type?: string;
  item_type?: string;
  default?: unknown;
  description?: string;
  /** Default true; an input is required iff it has no default and `required` is not false. */
  required?: boolean;
  constraints?: Record<string, unknown>[];
  display_label?: string;
  hidden?: boolean;
}

/**
 * What the domain needs from Cloudify, and nothing more. The Cloudify REST client implements
 * it through a thin adapter (src/broker/cloudify-port/adapter.ts); the domain never sees HTTP.
 * Not-found is `undefined`, other failures throw errors the classifiers below understand.
 */
export interface CloudifyPort {
  getBlueprintInputs(blueprintId: string): Promise<Record<string, BlueprintInput> | undefined>;
  getDeployment(deploymentId: string): Promise<DeploymentView | undefined>;
  /** Deployments carrying all these labels. */
  findDeployments(labels: Record<string, string>): Promise<DeploymentView[]>;
  /** Starts an asynchronous create; returns the create_deployment_environment execution id. */
  createDeployment(request: CreateDeploymentRequest): Promise<{ createExecutionId: string }>;
  /** Asks Cloudify to delete; removal is asynchronous. Resolves quietly when already gone. */
  deleteDeployment(deploymentId: string, force: boolean): Promise<void>;
  startExecution(request: StartExecutionRequest): Promise<ExecutionView>;
  getExecution(executionId: string): Promise<ExecutionView | undefined>;
  listExecutions(deploymentId: string, workflowId: string): Promise<ExecutionView[]>;
  /**
   * Node instances of the deployment that are live (neither `uninitialized` nor `deleted`):
   * what keeps Cloudify from deleting it (M15).
   */
  liveNodeInstances(deploymentId: string): Promise<string[]>;
  cancelExecution(executionId: string): Promise<void>;
  /** Cloudify's own words for why an execution failed: its error's last line, or its events. */
  failureReason(execution: ExecutionView): Promise<string>;
  /** Starts a deployment update; returns its `update` execution. */
  updateDeployment(request: UpdateDeploymentRequest): Promise<{ executionId: string }>;
  outputs(deploymentId: string): Promise<Record<string, unknown>>;
  capabilities(deploymentId: string): Promise<Record<string, unknown>>;
  secret(key: string): Promise<string | undefined>;
  /**
   * Classifies a failure: `transient` (network, 5xx, manager busy: retry later), `not_found`,
   * or `rejected` (Cloudify refused the request; retrying the same request will not help),
   * with Cloudify's error code and message where it gave them.
   */
  classify(error: unknown): CloudifyFailure;
}

export interface CloudifyFailure {
  kind: "transient" | "not_found" | "rejected";
  code?: string;
  /**
   * What failed, for platforms (operation descriptions, error bodies): never an internal address
   * (host, IP, port, URL) of the manager or anything behind it.
   */
  message: string;
  /**
   * A transient failure after which the request may still have been performed (CFY-GW): a
   * gateway timeout, a dropped connection, a timed-out answer, a 500 or 502. False when the
   * manager certainly did not act (connection refused, 503, maintenance mode, 408, 429).
   */
  outcomeUnknown?: boolean;
  /** How long Cloudify (or its proxy) asked the broker to wait before trying again (429, 503). */
  retryAfterMs?: number;
  /** Everything the client knows (method, path, the manager's text, the socket error): for logs only. */
  detail: string;
  /** A refusal because the deployment's environment is still being created: wait, then retry. */
  environmentNotReady?: boolean;
}

export interface DeploymentView {
  id: string;
  blueprintId: string;
  createExecutionId?: string;
  labels: { key: string; value: string }[];
}

export interface CreateDeploymentRequest {
  deploymentId: string;
  blueprintId: string;
  inputs: Record<string, unknown>;
  labels: Record<string, string>[];
  displayName: string;
}

export interface StartExecutionRequest {
  deploymentId: string;
  workflowId: string;
  parameters?: Record<string, unknown>;
  queue?: boolean;
  /** Skips the availability check (CFY-AVAIL-3); the broker forces only what CFY-AVAIL-8 needs. */
  force?: boolean;
  allowCustomParameters?: boolean;
}

export interface UpdateDeploymentRequest {
  deploymentId: string;
  blueprintId?: string;
  inputs: Record<string, unknown>;
}

export interface ExecutionView {
  id: string;
  workflowId: string;
  parameters?: Record<string, unknown>;
  outcome: ExecutionOutcome;
  error?: string | null;
  createdAt?: string;
}
