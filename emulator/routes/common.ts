import { badParameters, ManagerError, notFound } from "../errors.js";
import type { DeploymentRecord, ExecutionRecord, TenantData } from "../state/records.js";
import { renderDeployment } from "../state/render.js";
import { pyList } from "../util.js";

/** Lookups and checks shared by the deployment, execution and update routes. */

const ID_RE = /^[A-Za-z0-9._~-]{1,256}$/;

export function validateId(value: string, argument: string): void {
  if (!ID_RE.test(value)) {
    throw badParameters(
      `The \`${argument}\` argument contains illegal characters. Only letters, digits and the characters ` +
        '"-", "." and "_" are allowed',
    );
  }
}

export function getDeployment(data: TenantData, id: string): DeploymentRecord {
  const dep = data.deployments.get(id);
  if (!dep) throw notFound("Deployment", id);
  return dep;
}

export function executionsOf(data: TenantData, deploymentId: string): ExecutionRecord[] {
  return [...data.executions.values()].filter((e) => e.deploymentId === deploymentId);
}

export function renderDep(data: TenantData, dep: DeploymentRecord): Record<string, unknown> {
  return renderDeployment(dep, data.executions.get(dep.latestExecutionId));
}

function pyType(value: unknown): string {
  if (typeof value === "string") return "str";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "list";
  return value === null ? "NoneType" : "dict";
}

export function expectDict(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw badParameters(`${name} parameter is expected to be of type dict but is of type ${pyType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Input *names* are checked at PUT time; types and constraints inside the create workflow. */
export function checkInputNames(
  declared: Record<string, { required: boolean }>,
  provided: Record<string, unknown>,
  onlyUnknown = false,
): void {
  const names = Object.keys(declared);
  const missing = names.filter((n) => declared[n]?.required && !(n in provided));
  if (missing.length > 0 && !onlyUnknown) {
    throw new ManagerError(
      "missing_required_deployment_input_error",
      `Required inputs ${pyList(missing)} were not specified - expected inputs: ${pyList(names)}`,
    );
  }
  const unknown = Object.keys(provided).filter((n) => !(n in declared));
  if (unknown.length > 0) {
    throw new ManagerError(
      "unknown_deployment_input_error",
      `Unknown input(s) ${pyList(unknown)} specified - expected inputs: ${pyList(names)}`,
    );
  }
}
