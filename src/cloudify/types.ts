/**
 * Response shapes of the Cloudify Manager REST API v3.1 as used by the broker
 * (docs/CONTRACT.md section 17). Fields the broker never reads are still
 * declared when the manager always sends them, so the types document the wire format.
 */

export interface Pagination {
  total: number;
  /** The requested `_size` or the server default (1000), not the number of items returned. */
  size: number;
  offset: number;
}

export interface ListResponse<T> {
  items: T[];
  /** `filtered` is absent on events. */
  metadata: { pagination: Pagination; filtered?: number | null };
}

export interface VersionInfo {
  version: string;
  edition: "community" | "premium" | (string & {});
  distribution: string | null;
  distro_release: string | null;
  build: string | null;
  date: string | null;
  commit: string | null;
}

export interface ServiceStatus {
  status: string;
  is_remote: boolean;
  extra_info: Record<string, unknown>;
}

export interface ManagerStatus {
  status: "OK" | "Degraded" | "Fail";
  /** Empty with `summary=true`. */
  services: Record<string, ServiceStatus>;
}

export type InputType =
  | "string"
  | "integer"
  | "float"
  | "boolean"
  | "list"
  | "dict"
  | "regex"
  | "textarea"
  | "blueprint_id"
  | "deployment_id"
  | "capability_value"
  | "scaling_group"
  | "node_id"
  | "node_type"
  | "node_instance"
  | "secret_key"
  | "operation_name";

/** One constraint: a map with exactly one operator key (DSL 1.5 may add `error_message`). */
export interface InputConstraint {
  equal?: unknown;
  greater_than?: number;
  greater_or_equal?: number;
  less_than?: number;
  less_or_equal?: number;
  in_range?: [number, number];
  valid_values?: unknown[];
  length?: number;
  min_length?: number;
  max_length?: number;
  pattern?: string;
  error_message?: string;
  [operator: string]: unknown;
}

/** `plan.inputs.<name>`: only the keys the blueprint declares are present. */
export interface BlueprintInput {
  type?: InputType | (string & {});
  item_type?: string;
  default?: unknown;
  description?: string;
  /** Default true; an input is required iff it has no default and `required` is not false. */
  required?: boolean;
  constraints?: InputConstraint[];
  display_label?: string;
  hidden?: boolean;
  display?: { rows?: number };
}

export interface OutputDefinition {
  description?: string;
  value: unknown;
}

export interface WorkflowParameter extends BlueprintInput {}

export interface PlanWorkflow {
  operation: string;
  plugin: string;
  parameters: Record<string, WorkflowParameter>;
  is_cascading?: boolean;
  availability_rules?: { node_instances_active?: string[]; node_types_required?: string[] } | null;
}

export interface BlueprintPlan {
  description: string | null;
  metadata: Record<string, unknown> | null;
  inputs: Record<string, BlueprintInput>;
  outputs: Record<string, OutputDefinition>;
  capabilities: Record<string, OutputDefinition>;
  workflows: Record<string, PlanWorkflow>;
  nodes: Record<string, unknown>[];
  labels: Record<string, { values: string[] }>;
  blueprint_labels: Record<string, { values: string[] }>;
  [key: string]: unknown;
}

export type BlueprintState =
  | "pending"
  | "validating"
  | "uploading"
  | "extracting"
  | "parsing"
  | "uploaded"
  | "failed_uploading"
  | "failed_extracting"
  | "failed_parsing"
  | "failed_extracting_to_file_server"
  | "invalid";

export type Visibility = "private" | "tenant" | "global";

/** Labels as the manager returns them. */
export interface Label {
  key: string;
  value: string;
  created_at: string;
  created_by: string;
}

/** Labels as the manager accepts them: a list of one-key maps; a list value attaches several. */
export type LabelInput = Record<string, string | string[]>;

export interface Blueprint {
  id: string;
  visibility: Visibility;
  created_at: string;
  updated_at: string;
  main_file_name: string;
  plan: BlueprintPlan;
  description: string | null;
  is_hidden: boolean;
  state: BlueprintState;
  error: string | null;
  error_traceback: string | null;
  tenant_name: string;
  created_by: string;
  resource_availability: Visibility;
  private_resource: boolean;
  labels: Label[];
  upload_execution: unknown;
  requirements: unknown;
}

export interface DeploymentWorkflow {
  name: string;
  plugin: string;
  operation: string;
  parameters: Record<string, WorkflowParameter>;
  is_cascading: boolean;
  is_available: boolean;
  availability_rules: PlanWorkflow["availability_rules"];
}

/** The summary the manager derives from the latest execution's status. */
export type LatestExecutionStatus = "completed" | "failed" | "cancelled" | "in_progress" | null;
export type InstallationStatus = "active" | "inactive";
export type DeploymentStatus = "good" | "in_progress" | "requires_attention";

export interface Deployment {
  id: string;
  display_name: string;
  blueprint_id: string;
  visibility: Visibility;
  tenant_name: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  description: string | null;
  /** Empty until create_deployment_environment has finished. */
  inputs: Record<string, unknown>;
  /** Definitions, not values: use `outputs()` / `capabilities()` for evaluated values. */
  outputs: Record<string, OutputDefinition>;
  capabilities: Record<string, OutputDefinition>;
  workflows: DeploymentWorkflow[];
  labels: Label[];
  installation_status: InstallationStatus;
  deployment_status: DeploymentStatus;
  latest_execution: string | null;
  latest_execution_status: LatestExecutionStatus;
  latest_execution_workflow_id: string | null;
  latest_execution_total_operations: number | null;
  latest_execution_finished_operations: number | null;
  create_execution: string | null;
  site_name: string | null;
  runtime_only_evaluation: boolean;
  resource_availability: Visibility;
  private_resource: boolean;
  [key: string]: unknown;
}

export type ExecutionStatus =
  | "pending"
  | "started"
  | "cancelling"
  | "force_cancelling"
  | "kill_cancelling"
  | "queued"
  | "scheduled"
  | "terminated"
  | "failed"
  | "cancelled";

export const TERMINAL_EXECUTION_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  "terminated",
  "failed",
  "cancelled",
]);

export interface Execution {
  id: string;
  workflow_id: string;
  deployment_id: string;
  deployment_display_name: string | null;
  blueprint_id: string;
  status: ExecutionStatus;
  /** Equals `status` except `terminated` → `completed`. */
  status_display: string;
  /** null until the end; "" after success or cancel; the traceback text after a failure. */
  error: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  scheduled_for: string | null;
  parameters: Record<string, unknown>;
  is_system_workflow: boolean;
  is_dry_run: boolean;
  resume: boolean;
  allow_custom_parameters: boolean;
  total_operations: number | null;
  finished_operations: number | null;
  visibility: Visibility;
  tenant_name: string;
  created_by: string;
  [key: string]: unknown;
}

export type DeploymentUpdateState =
  | "updating"
  | "executing_workflow"
  | "finalizing"
  | "successful"
  | "failed"
  | "preview";

export interface DeploymentUpdate {
  id: string;
  deployment_id: string;
  state: DeploymentUpdateState;
  execution_id: string | null;
  old_blueprint_id: string;
  new_blueprint_id: string;
  old_inputs: Record<string, unknown>;
  new_inputs: Record<string, unknown>;
  created_at: string;
  created_by: string;
  tenant_name: string;
  [key: string]: unknown;
}

export interface ErrorCause {
  message: string;
  traceback: string;
  type: string;
}

export interface CloudifyEvent {
  type: "cloudify_event" | "cloudify_log";
  timestamp: string;
  reported_timestamp: string;
  message: string;
  /** Events only. */
  event_type?: string;
  /** Logs only. */
  level?: string;
  logger?: string;
  execution_id: string | null;
  workflow_id: string | null;
  deployment_id: string | null;
  blueprint_id: string | null;
  operation: string | null;
  node_instance_id: string | null;
  node_name: string | null;
  error_causes: ErrorCause[] | null;
  [key: string]: unknown;
}

export interface Secret {
  key: string;
  /** Present on single GETs: "" when hidden from the caller or with `_skip_value`. */
  value?: string;
  visibility: Visibility;
  is_hidden_value: boolean;
  schema: unknown;
  provider_name: string | null;
  created_at: string;
  updated_at: string;
  tenant_name: string;
  created_by: string;
  [key: string]: unknown;
}

export interface Token {
  id: string;
  /** `ctok-<id>-<secret>` when minted; later the secret part is masked. */
  value: string;
  username: string;
  role: string;
  expiration_date: string | null;
  last_used: string | null;
  description: string | null;
}

export type LabelOperator = "any_of" | "not_any_of" | "is_null" | "is_not_null" | "is_not";
export type AttributeOperator =
  | "any_of"
  | "not_any_of"
  | "contains"
  | "not_contains"
  | "starts_with"
  | "ends_with"
  | "is_not_empty";

export type FilterRule =
  | { type: "label"; key: string; values: string[]; operator: LabelOperator }
  | { type: "attribute"; key: string; values: string[]; operator: AttributeOperator };

/** A node instance (GET /node-instances), as much as the broker reads. */
export interface NodeInstance {
  id: string;
  node_id: string;
  deployment_id: string;
  /** uninitialized, creating, created, configuring, configured, starting, started, stopping, ... deleted */
  state: string;
}
