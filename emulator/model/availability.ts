import { ManagerError } from "../errors.js";
import type { DeploymentRecord } from "../state/records.js";
import type { BlueprintDef, WorkflowDef } from "./blueprints.js";

/**
 * Workflow availability (Cloudify 6.4 and later; docs/CLOUDIFY.md rule CFY-AVAIL). Built-in
 * workflows carry rules in the manager's `types.yaml`: `install` only while no node instance or
 * some are active, `uninstall` only while all or some are. A blueprint may give any workflow its
 * own rules. "Active" means started; an empty node set counts as both "all" and "none".
 */

export type Activity = "all" | "partial" | "none";

const BUILTIN_RULES: Record<string, Activity[]> = {
  install: ["none", "partial"],
  uninstall: ["all", "partial"],
};

/** 6.0-6.3 managers have no availability rules; 6.4 introduced them. */
export function hasAvailabilityRules(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10) || 0);
  return major > 6 || (major === 6 && minor >= 4);
}

/** Gives install/uninstall the manager's built-in rules, unless the blueprint declared its own. */
export function applyBuiltinRules(blueprints: readonly BlueprintDef[], version: string): void {
  if (!hasAvailabilityRules(version)) return;
  for (const bp of blueprints) {
    for (const [id, active] of Object.entries(BUILTIN_RULES)) {
      const wf = bp.workflows[id];
      if (wf && wf.availabilityRules === null) wf.availabilityRules = { node_instances_active: [...active] };
    }
  }
}

/** Every `node_instances_active` bucket the deployment is in (an empty node set is in two). */
export function nodeActivity(dep: DeploymentRecord): Set<Activity> {
  const started = dep.nodes.filter((n) => n.state === "started").length;
  if (dep.nodes.length === 0) return new Set(["all", "none"]);
  if (started === 0) return new Set(["none"]);
  return new Set([started === dep.nodes.length ? "all" : "partial"]);
}

export function isWorkflowAvailable(dep: DeploymentRecord, wf: WorkflowDef): boolean {
  const rule = wf.availabilityRules?.node_instances_active;
  if (rule === undefined) return true;
  const activity = nodeActivity(dep);
  return rule.some((bucket) => activity.has(bucket as Activity));
}

/** The manager's refusal of a direct POST /executions (MGR `UnavailableWorkflowError`). */
export function unavailableWorkflow(workflowId: string): ManagerError {
  return new ManagerError("unavailable_workflow_error", `Workflow not available: ${workflowId}`);
}
