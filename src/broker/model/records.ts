/**
 * What the broker persists. Each instance and binding is one record; its latest operation is
 * embedded, so moving an operation forward and changing the resource it affects is a single
 * atomic commit. The operation state machine is described in docs/ARCHITECTURE.md.
 */

import type { OriginatingIdentity } from "./identity.js";

export const INSTANCES = "instances";
export const BINDINGS = "bindings";
export const BLUEPRINT_CACHE = "blueprint_inputs";

export type OperationType = "provision" | "update" | "deprovision" | "bind" | "unbind";

/** The steps of each operation type's state machine (docs/ARCHITECTURE.md, Operations). */
export type ProvisionStep = "create_deployment" | "wait_environment" | "start_install" | "wait_install";
export type DeprovisionStep =
  | "cancel_provision"
  | "start_uninstall"
  | "wait_uninstall"
  | "delete_deployment"
  | "wait_deleted";
export type UpdateStep = "start_update" | "wait_update";
export type BindStep = "start_workflow" | "wait_workflow" | "render_credentials";
export type UnbindStep = "cancel_bind" | "start_revoke" | "wait_revoke" | "revoked";
/** Every step name; `done` marks a synchronous (outputs-mode) bind that never ran a machine. */
export type StepName = ProvisionStep | DeprovisionStep | UpdateStep | BindStep | UnbindStep | "done";
export type OperationState = "in progress" | "succeeded" | "failed";

export interface Operation {
  /** Opaque token given to the platform (OSB A5). */
  id: string;
  type: OperationType;
  state: OperationState;
  /** The step of the type's state machine the engine runs next (or last ran). */
  step: StepName;
  /** Fingerprint of the request that started it: an identical re-send gets the same operation. */
  fingerprint: string;
  /** Cloudify execution of the current step, once known. */
  executionId?: string;
  /** Failed attempts of the current step (transient Cloudify errors), for backoff. */
  attempts: number;
  /** Earliest time the engine should advance it again (ISO). */
  notBefore?: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** The operation fails when still unfinished at this time (maximum_polling_duration). */
  deadline: string;
  /** Progress or, when failed, the reason in Cloudify's own words. */
  description?: string;
  instanceUsable?: boolean;
  updateRepeatable?: boolean;
  /** What an update or upgrade moves the instance to; applied to the record on success. */
  target?: UpdateTarget;
  /** Set when a deprovision was asked to stop a provision still running. */
  cancelExecutionId?: string;
  /** The resource's status before this operation, restored if a deprovision/unbind fails. */
  priorStatus?: string;
  /** A Cloudify start (execution, update) the current step is making; see `startOnce`. */
  pendingStart?: PendingStart;
}

/**
 * What a step knows about a start it is making, written to disk before the request is sent
 * (CFY-GW). Executions of the workflow that existed before (`baseline`) are never adopted;
 * while `sentAt` is recent the request's answer may be lost and the manager may still perform
 * it, so the step looks for what it created instead of sending it again.
 */
export interface PendingStart {
  workflowId: string;
  /** Ids of the deployment's executions of `workflowId` before the first attempt. */
  baseline: string[];
  /** When the last attempt was sent and its outcome is not known (ISO). */
  sentAt?: string;
}

export interface UpdateTarget {
  planId: string;
  blueprintId: string;
  parameters: Record<string, unknown>;
  inputs: Record<string, unknown>;
  /** Only the inputs that change, as sent to Cloudify. */
  changedInputs: Record<string, unknown>;
  context?: Record<string, unknown>;
  maintenanceVersion?: string;
  dashboardUrl?: string;
}

export type InstanceStatus =
  | "provisioning"
  | "provisioned"
  | "provision_failed"
  | "updating"
  | "deprovisioning"
  /** Deprovisioned; the record is a tombstone answering last_operation for a while. */
  | "deleted";

export interface InstanceRecord {
  id: string;
  status: InstanceStatus;
  serviceId: string;
  planId: string;
  blueprintId: string;
  deploymentId: string;
  organizationGuid?: string;
  spaceGuid?: string;
  context?: Record<string, unknown>;
  /** Parameters as the user gave them, accumulated over updates (what GETI returns). */
  parameters: Record<string, unknown>;
  /** Deployment inputs last applied to Cloudify. */
  inputs: Record<string, unknown>;
  /** Labels put on the deployment (instance, service, plan, platform ids). */
  labels: Record<string, string>[];
  maintenanceVersion?: string;
  dashboardUrl?: string;
  /** Fingerprint of the provision request, for PUT idempotency (OSB section 12). */
  provisionFingerprint: string;
  /** Every Cloudify execution this instance's operations started, so none is adopted twice. */
  executionIds: string[];
  operation: Operation;
  createdAt: string;
  deletedAt?: string;
}

export type BindingStatus =
  | "binding"
  | "bound"
  | "bind_failed"
  | "unbinding"
  /** Unbound; the record is a tombstone answering last_operation for a while. */
  | "deleted";

/** What a bind returns to the platform; stored sealed (encrypted), never in clear. */
export interface BindingResult {
  credentials: Record<string, unknown>;
  endpoints?: { host: string; ports: string[]; protocol?: string }[];
  syslog_drain_url?: string;
  route_service_url?: string;
  volume_mounts?: unknown[];
}

export interface BindingRecord {
  id: string;
  instanceId: string;
  serviceId: string;
  planId: string;
  status: BindingStatus;
  mode: "outputs" | "workflow";
  /** Fingerprint of the bind request: an identical re-send gets 200/202, a different one 409. */
  fingerprint: string;
  appGuid?: string;
  bindResource?: Record<string, unknown>;
  context?: Record<string, unknown>;
  /** Who asked for the binding (OSB H4), for the templates of every step that renders later. */
  originatingIdentity?: OriginatingIdentity;
  /** Binding parameters as given; sealed, since users pass secrets in them. */
  parameters: unknown;
  predecessorBindingId?: string;
  /** Seed of the `password`/`uuid` helpers (sealed), so re-rendering gives the same values. */
  seed: unknown;
  /** Sealed BindingResult once bound. */
  result?: unknown;
  /**
   * Parameters the latest binding workflow (create, then delete) ran with; sealed, since they may
   * hold a `password` or `secret` the templates rendered (K1).
   */
  workflowParameters?: unknown;
  expiresAt?: string;
  renewBefore?: string;
  executionIds: string[];
  operation: Operation;
  createdAt: string;
  deletedAt?: string;
}
