import type { BlueprintDef, LabelPair } from "../model/blueprints.js";

/** In-memory rows of the emulated manager. Responses are rendered from these in `render.ts`. */

// The statuses are the wire protocol's, shared with the client rather than declared twice.
import {
  type DeploymentUpdateState,
  type ExecutionStatus,
  TERMINAL_EXECUTION_STATUSES,
} from "../../src/cloudify/types.js";

export type { ExecutionStatus };

export const ACTIVE_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  "pending",
  "started",
  "cancelling",
  "force_cancelling",
  "kill_cancelling",
]);
export const TERMINAL_STATUSES = TERMINAL_EXECUTION_STATUSES;

export type ExecutionKind = "create_env" | "delete_env" | "update" | "workflow";

export interface ExecutionRecord {
  id: string;
  tenant: string;
  kind: ExecutionKind;
  workflowId: string;
  deploymentId: string;
  blueprintId: string;
  status: ExecutionStatus;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  parameters: Record<string, unknown>;
  isDryRun: boolean;
  allowCustomParameters: boolean;
  createdBy: string;
  totalOperations: number;
  finishedOperations: number;
  /** Started with `force`: availability is not checked, not even when dequeued. */
  forced?: boolean;
  /** Deployment update driven by this execution, if any. */
  updateId?: string;
}

export interface LabelRecord extends LabelPair {
  createdAt: string;
  createdBy: string;
}

/**
 * A node instance's lifecycle (cloudify `NodeInstanceState`): install walks each one through
 * creating ... starting to `started`; a cancelled install leaves them wherever it stopped.
 * Only `started` is active (CFY-AVAIL-1); anything but `uninitialized` and `deleted` is live
 * (a deployment with live nodes cannot be deleted, M15).
 */
export type NodeInstanceState =
  | "uninitialized"
  | "creating"
  | "created"
  | "configuring"
  | "configured"
  | "starting"
  | "started"
  | "deleted";

export interface NodeInstanceRecord {
  id: string;
  nodeId: string;
  state: NodeInstanceState;
  runtimeProperties: Record<string, unknown>;
}

export interface DeploymentRecord {
  id: string;
  tenant: string;
  displayName: string;
  visibility: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  siteName: string | null;
  runtimeOnlyEvaluation: boolean;
  /** The blueprint the deployment currently follows (changes with deployment updates). */
  blueprintId: string;
  /** Set once create_deployment_environment succeeded; before that the row is half-empty. */
  plan: BlueprintDef | null;
  inputs: Record<string, unknown>;
  labels: LabelRecord[];
  nodes: NodeInstanceRecord[];
  createExecutionId: string;
  latestExecutionId: string;
  installationStatus: "active" | "inactive" | null;
  /** DELETE marks the deployment in progress until its delete execution takes over. */
  deletePending: boolean;
}

export interface SecretRecord {
  key: string;
  tenant: string;
  value: string;
  visibility: string;
  isHiddenValue: boolean;
  schema: unknown;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
}

export interface TokenRecord {
  id: string;
  secret: string;
  username: string;
  description: string | null;
  expiresAt: number | null;
  lastUsed: string | null;
}

export interface EventRecord {
  storageId: number;
  tenant: string;
  type: "cloudify_event" | "cloudify_log";
  timestamp: string;
  message: string;
  level: string | null;
  eventType: string | null;
  executionId: string;
  workflowId: string;
  deploymentId: string;
  deploymentDisplayName: string;
  blueprintId: string;
  nodeName: string | null;
  nodeInstanceId: string | null;
  operation: string | null;
  errorCauses: Array<{ message: string; traceback: string; type: string }> | null;
}

/** The wire vocabulary the client decodes is the one the emulator records. */
export type UpdateState = DeploymentUpdateState;

export interface DeploymentUpdateRecord {
  id: string;
  tenant: string;
  deploymentId: string;
  state: UpdateState;
  executionId: string | null;
  oldBlueprintId: string;
  newBlueprintId: string;
  oldInputs: Record<string, unknown>;
  newInputs: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
  runtimeOnlyEvaluation: boolean;
}

export interface UserRecord {
  username: string;
  password: string;
  role: "sys_admin" | "default";
  tenants: string[];
}

export interface TenantData {
  deployments: Map<string, DeploymentRecord>;
  executions: Map<string, ExecutionRecord>;
  secrets: Map<string, SecretRecord>;
  updates: Map<string, DeploymentUpdateRecord>;
  events: EventRecord[];
}
