import type { BlueprintDef, WorkflowDef } from "../model/blueprints.js";
import type {
  DeploymentRecord,
  DeploymentUpdateRecord,
  EventRecord,
  ExecutionRecord,
  ExecutionStatus,
  LabelRecord,
  SecretRecord,
  TokenRecord,
} from "./records.js";
import { ACTIVE_STATUSES } from "./records.js";

/**
 * Renders rows in the manager's wire format: every declared field present, unset ones as null
 * (MGR `rest_decorators.marshal_with`).
 */

/** MGR `Deployment.to_response`: the latest execution reduced to a summary. */
export function summarizeStatus(status: ExecutionStatus | undefined): string | null {
  if (status === undefined || status === "scheduled") return null;
  if (status === "terminated") return "completed";
  if (status === "failed" || status === "cancelled") return status;
  return "in_progress";
}

export function installationStatus(dep: DeploymentRecord): "active" | "inactive" {
  return dep.installationStatus ?? "inactive";
}

/** MGR `Deployment.decide_deployment_status`. */
export function deploymentStatus(dep: DeploymentRecord, latest: ExecutionRecord | undefined): string {
  const summary = summarizeStatus(latest?.status);
  if (dep.deletePending || summary === "in_progress") return "in_progress";
  if (summary === "failed" || installationStatus(dep) === "inactive") return "requires_attention";
  return "good";
}

/** Which `node_instances_active` bucket the deployment is in, for workflow availability rules. */
export function nodesActivity(dep: DeploymentRecord): "all" | "partial" | "none" {
  const started = dep.nodes.filter((n) => n.state === "started").length;
  if (started === 0) return "none";
  return started === dep.nodes.length ? "all" : "partial";
}

export function isWorkflowAvailable(dep: DeploymentRecord, wf: WorkflowDef): boolean {
  const rule = wf.availabilityRules?.node_instances_active;
  return rule === undefined || rule.includes(nodesActivity(dep));
}

const BUILTIN_OPERATIONS: Record<string, string> = {
  install: "cloudify.plugins.workflows.install",
  uninstall: "cloudify.plugins.workflows.uninstall",
};

function workflowParams(wf: WorkflowDef): Record<string, unknown> {
  return Object.fromEntries(Object.entries(wf.parameters).map(([k, p]) => [k, p.raw]));
}

export function renderWorkflows(dep: DeploymentRecord, plan: BlueprintDef): Record<string, unknown>[] {
  return Object.values(plan.workflows).map((wf) => {
    const builtin = BUILTIN_OPERATIONS[wf.id];
    return {
      name: wf.id,
      plugin: builtin ? "default_workflows" : "script",
      operation: builtin ?? "script_runner.tasks.execute_workflow",
      parameters: workflowParams(wf),
      is_cascading: false,
      is_available: isWorkflowAvailable(dep, wf),
      availability_rules: wf.availabilityRules,
    };
  });
}

export function renderLabels(labels: readonly LabelRecord[]): Record<string, unknown>[] {
  return labels.map((l) => ({
    key: l.key,
    value: l.value,
    created_at: l.createdAt,
    created_by: l.createdBy,
  }));
}

function definitions(defs: BlueprintDef["outputs"]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(defs).map(([name, d]) => [
      name,
      d.description === undefined ? { value: d.value } : { description: d.description, value: d.value },
    ]),
  );
}

export function renderDeployment(
  dep: DeploymentRecord,
  latest: ExecutionRecord | undefined,
): Record<string, unknown> {
  const plan = dep.plan;
  return {
    id: dep.id,
    display_name: dep.displayName,
    blueprint_id: dep.blueprintId,
    visibility: dep.visibility,
    tenant_name: dep.tenant,
    created_by: dep.createdBy,
    created_at: dep.createdAt,
    updated_at: dep.updatedAt,
    description: plan?.description ?? null,
    inputs: dep.inputs,
    outputs: plan ? definitions(plan.outputs) : {},
    capabilities: plan ? definitions(plan.capabilities) : {},
    workflows: plan ? renderWorkflows(dep, plan) : [],
    labels: renderLabels(dep.labels),
    installation_status: installationStatus(dep),
    deployment_status: deploymentStatus(dep, latest),
    latest_execution: dep.latestExecutionId,
    latest_execution_status: summarizeStatus(latest?.status),
    latest_execution_workflow_id: latest?.workflowId ?? null,
    latest_execution_total_operations: latest?.totalOperations ?? null,
    latest_execution_finished_operations: latest?.finishedOperations ?? null,
    create_execution: dep.createExecutionId,
    site_name: dep.siteName,
    groups: {},
    policy_types: {},
    policy_triggers: {},
    scaling_groups: {},
    schedules: [],
    resource_tags: null,
    runtime_only_evaluation: dep.runtimeOnlyEvaluation,
    sub_services_status: null,
    sub_environments_status: null,
    sub_services_count: 0,
    sub_environments_count: 0,
    environment_type: "",
    has_sub_deployments: false,
    deployment_groups: [],
    drifted_instances: 0,
    unavailable_instances: 0,
    permalink: null,
    resource_availability: dep.visibility,
    private_resource: dep.visibility === "private",
    workdir_zip: null,
  };
}

export function isActive(exec: ExecutionRecord): boolean {
  return ACTIVE_STATUSES.has(exec.status);
}

export function renderExecution(exec: ExecutionRecord, displayName: string): Record<string, unknown> {
  return {
    id: exec.id,
    workflow_id: exec.workflowId,
    deployment_id: exec.deploymentId,
    deployment_display_name: displayName,
    blueprint_id: exec.blueprintId,
    status: exec.status,
    status_display: exec.status === "terminated" ? "completed" : exec.status,
    error: exec.error,
    created_at: exec.createdAt,
    started_at: exec.startedAt,
    ended_at: exec.endedAt,
    scheduled_for: null,
    parameters: exec.parameters,
    is_system_workflow: false,
    is_dry_run: exec.isDryRun,
    resume: false,
    allow_custom_parameters: exec.allowCustomParameters,
    total_operations: exec.totalOperations,
    finished_operations: exec.finishedOperations,
    execution_group_id: null,
    visibility: "tenant",
    tenant_name: exec.tenant,
    created_by: exec.createdBy,
    resource_availability: "tenant",
    private_resource: false,
  };
}

function renderPlan(bp: BlueprintDef): Record<string, unknown> {
  const labelMap = (pairs: BlueprintDef["deploymentLabels"]) => {
    const map: Record<string, { values: string[] }> = {};
    for (const { key, value } of pairs) {
      map[key] ??= { values: [] };
      map[key].values.push(value);
    }
    return map;
  };
  return {
    description: bp.description,
    metadata: bp.metadata,
    inputs: Object.fromEntries(Object.entries(bp.inputs).map(([k, d]) => [k, d.raw])),
    outputs: definitions(bp.outputs),
    capabilities: definitions(bp.capabilities),
    workflows: Object.fromEntries(
      Object.values(bp.workflows).map((wf) => [
        wf.id,
        {
          operation: BUILTIN_OPERATIONS[wf.id] ?? "script_runner.tasks.execute_workflow",
          plugin: BUILTIN_OPERATIONS[wf.id] ? "default_workflows" : "script",
          parameters: workflowParams(wf),
          is_cascading: false,
          availability_rules: wf.availabilityRules,
        },
      ]),
    ),
    nodes: Object.values(bp.nodes).map((n) => ({
      id: n.id,
      name: n.id,
      type: n.type,
      type_hierarchy: ["cloudify.nodes.Root", ...(n.type === "cloudify.nodes.Root" ? [] : [n.type])],
      properties: n.properties,
      relationships: [],
      operations: {},
      plugins: [],
      capabilities: {
        scalable: { properties: { default_instances: 1, min_instances: 0, max_instances: -1 } },
      },
    })),
    relationships: {},
    groups: {},
    policies: {},
    policy_types: {},
    policy_triggers: {},
    scaling_groups: {},
    data_types: {},
    labels: labelMap(bp.deploymentLabels),
    blueprint_labels: labelMap(bp.blueprintLabels),
    resource_tags: null,
    deployment_settings: {},
    deployment_plugins_to_install: [],
    workflow_plugins_to_install: [],
    host_agent_plugins_to_install: [],
    imported_blueprints: [],
    namespaces_mapping: {},
    version: { raw: "cloudify_dsl_1_5", definitions_name: "cloudify_dsl", definitions_version: [1, 5] },
  };
}

export function renderBlueprint(bp: BlueprintDef, tenant: string): Record<string, unknown> {
  return {
    id: bp.id,
    visibility: "global",
    created_at: bp.createdAt,
    updated_at: bp.createdAt,
    main_file_name: bp.mainFileName,
    plan: renderPlan(bp),
    description: bp.description,
    is_hidden: false,
    state: bp.state,
    error: null,
    error_traceback: null,
    tenant_name: tenant,
    created_by: "admin",
    resource_availability: "global",
    private_resource: false,
    labels: bp.blueprintLabels.map((l) => ({
      key: l.key,
      value: l.value,
      created_at: bp.createdAt,
      created_by: "admin",
    })),
    upload_execution: null,
    requirements: null,
    plan_p: null,
  };
}

export function renderSecret(secret: SecretRecord, value: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {
    key: secret.key,
    created_at: secret.createdAt,
    updated_at: secret.updatedAt,
    resource_availability: secret.visibility,
    visibility: secret.visibility,
    tenant_name: secret.tenant,
    created_by: secret.createdBy,
    is_hidden_value: secret.isHiddenValue,
    private_resource: secret.visibility === "private",
    schema: secret.schema,
    provider_name: null,
    provider_options: null,
  };
  if (value !== undefined) out.value = value;
  return out;
}

export function renderToken(
  token: TokenRecord,
  role: string,
  revealSecret: boolean,
): Record<string, unknown> {
  return {
    id: token.id,
    value: `ctok-${token.id}-${revealSecret ? token.secret : "********"}`,
    username: token.username,
    role,
    expiration_date: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
    last_used: token.lastUsed,
    description: token.description,
  };
}

export function renderUpdate(update: DeploymentUpdateRecord): Record<string, unknown> {
  return {
    id: update.id,
    deployment_id: update.deploymentId,
    state: update.state,
    execution_id: update.executionId,
    old_blueprint_id: update.oldBlueprintId,
    new_blueprint_id: update.newBlueprintId,
    old_inputs: update.oldInputs,
    new_inputs: update.newInputs,
    created_at: update.createdAt,
    created_by: update.createdBy,
    tenant_name: update.tenant,
    visibility: "tenant",
    resource_availability: "tenant",
    private_resource: false,
    deployment_plan: null,
    deployment_update_node_instances: null,
    deployment_update_nodes: null,
    modified_entity_ids: null,
    steps: [],
    central_plugins_to_install: [],
    central_plugins_to_uninstall: [],
    recursive_dependencies: {},
    schedules_to_create: {},
    schedules_to_delete: [],
    labels_to_create: [],
    runtime_only_evaluation: update.runtimeOnlyEvaluation,
    keep_old_deployment_dependencies: true,
  };
}

export function renderEvent(event: EventRecord): Record<string, unknown> {
  const base: Record<string, unknown> = {
    type: event.type,
    timestamp: event.timestamp,
    reported_timestamp: event.timestamp,
    message: event.message,
    execution_id: event.executionId,
    workflow_id: event.workflowId,
    deployment_id: event.deploymentId,
    deployment_display_name: event.deploymentDisplayName,
    blueprint_id: event.blueprintId,
    execution_group_id: null,
    operation: event.operation,
    node_instance_id: event.nodeInstanceId,
    node_name: event.nodeName,
    source_id: null,
    target_id: null,
    error_causes: event.errorCauses,
    manager_name: "cloudify-manager-emulator",
    agent_name: null,
    _storage_id: event.storageId,
  };
  if (event.type === "cloudify_event") base.event_type = event.eventType;
  else {
    base.level = event.level;
    base.logger = "ctx.emulator";
  }
  return base;
}
