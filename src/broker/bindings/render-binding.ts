import type { CompiledPlan, ValueTree } from "../../config/compile-catalog.js";
import { TemplateRenderError } from "../../templates/index.js";
import type { CloudifyPort } from "../cloudify-port/port.js";
import { identity } from "../instances/template-context.js";
import type { OriginatingIdentity } from "../model/identity.js";
import { shortId } from "../model/ids.js";
import type { BindingRecord, BindingResult, InstanceRecord } from "../model/records.js";

/** Everything a binding's templates may read besides Cloudify data (see docs/TEMPLATES.md). */
export interface BindingTemplateInput {
  bindingId: string;
  /** The parts of the instance templates read (`cfy-broker render` has no stored record). */
  instance: Pick<InstanceRecord, "id" | "deploymentId" | "parameters" | "context" | "planId" | "serviceId">;
  plan: CompiledPlan;
  parameters: Record<string, unknown>;
  context?: Record<string, unknown>;
  bindResource?: Record<string, unknown>;
  appGuid?: string;
  originatingIdentity?: OriginatingIdentity;
}

/** Cloudify data credentials are rendered from, fetched once per render. */
export interface DeploymentData {
  outputs: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** A bind that cannot produce complete credentials. Names what is missing, never a value. */
export class CredentialsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CredentialsError";
  }
}

/**
 * The one template context of a binding, from its record: the synchronous bind and every
 * workflow step render with it, so both paths see the same variables (originating_identity
 * included) and, with the record's one seed, the same `password`/`uuid` values: a password in a
 * workflow's parameters is the one in the credentials.
 */
export function bindingContextOf(
  record: Pick<BindingRecord, "id" | "context" | "bindResource" | "appGuid" | "originatingIdentity">,
  instance: InstanceRecord,
  plan: CompiledPlan,
  parameters: Record<string, unknown>,
  data?: DeploymentData,
): Record<string, unknown> {
  return bindingTemplateContext(
    {
      bindingId: record.id,
      instance,
      plan,
      parameters,
      context: record.context,
      bindResource: record.bindResource,
      appGuid: record.appGuid,
      originatingIdentity: record.originatingIdentity,
    },
    data,
  );
}

export function bindingTemplateContext(
  input: BindingTemplateInput,
  data?: DeploymentData,
): Record<string, unknown> {
  const { instance, plan } = input;
  return {
    parameters: input.parameters,
    context: input.context ?? {},
    originating_identity: identity(input.originatingIdentity),
    bind_resource: input.bindResource ?? {},
    app_guid: input.appGuid,
    outputs: data?.outputs ?? {},
    capabilities: data?.capabilities ?? {},
    binding_id: input.bindingId,
    binding: { id: input.bindingId, short_id: shortId(input.bindingId) },
    instance_id: instance.id,
    deployment_id: instance.deploymentId,
    instance: {
      id: instance.id,
      short_id: shortId(instance.id),
      deployment_id: instance.deploymentId,
      parameters: instance.parameters,
      context: instance.context ?? {},
      plan_id: instance.planId,
      service_id: instance.serviceId,
    },
    service: { id: plan.service.config.id, name: plan.service.config.name },
    plan: { id: plan.id, name: plan.name },
  };
}

/** Reads outputs, capabilities and the secrets the plan's templates name, from Cloudify. */
export async function fetchDeploymentData(
  cloudify: CloudifyPort,
  plan: CompiledPlan,
  deploymentId: string,
): Promise<DeploymentData> {
  const [outputs, capabilities] = await Promise.all([
    cloudify.outputs(deploymentId),
    cloudify.capabilities(deploymentId),
  ]);
  const secrets: Record<string, string> = {};
  for (const key of plan.binding.secretKeys) {
    const value = await cloudify.secret(key);
    if (value !== undefined) secrets[key] = value;
  }
  return { outputs, capabilities, secrets };
}

/**
 * Renders what a bind returns. Without a credentials template the credentials are the
 * deployment's outputs overlaid with its capabilities. Missing outputs fail the bind.
 */
export function renderBindingResult(
  plan: CompiledPlan,
  context: Record<string, unknown>,
  data: DeploymentData,
  seed: string,
): BindingResult {
  const spec = plan.binding;
  const render = (tree: ValueTree | undefined, what: string): unknown => {
    if (!tree) return undefined;
    try {
      return tree.render(context, { seed, secrets: data.secrets });
    } catch (error) {
      if (error instanceof TemplateRenderError)
        throw new CredentialsError(describe(error, what, plan), { cause: error });
      throw error;
    }
  };
  const credentials = spec.credentials
    ? render(spec.credentials, "credentials")
    : { ...data.outputs, ...data.capabilities };
  if (!isObject(credentials))
    throw new CredentialsError(`The credentials of plan ${plan.name} did not render to an object.`);
  const hole = firstUndefined(credentials);
  if (hole !== undefined) {
    throw new CredentialsError(
      `Credential "${hole}" of plan ${plan.name} rendered to nothing: a value it reads from Cloudify is missing.`,
    );
  }
  const result: BindingResult = { credentials };
  const endpoints = render(spec.endpoints, "endpoints");
  if (endpoints !== undefined) result.endpoints = normaliseEndpoints(endpoints, plan);
  const syslog = render(spec.syslogDrainUrl, "syslog_drain_url");
  if (syslog !== undefined && syslog !== "") result.syslog_drain_url = String(syslog);
  const route = render(spec.routeServiceUrl, "route_service_url");
  if (route !== undefined && route !== "") result.route_service_url = String(route);
  const mounts = render(spec.volumeMounts, "volume_mounts");
  if (mounts !== undefined) {
    if (!Array.isArray(mounts))
      throw new CredentialsError(`volume_mounts of plan ${plan.name} did not render to a list.`);
    result.volume_mounts = mounts;
  }
  return result;
}

function describe(error: TemplateRenderError, what: string, plan: CompiledPlan): string {
  const variable = error.variable;
  if (variable?.startsWith("outputs.") || variable?.startsWith("capabilities.")) {
    const [kind, name] = variable.split(".");
    return `Cannot build the ${what} of plan ${plan.name}: the deployment has no ${kind === "outputs" ? "output" : "capability"} "${name}".`;
  }
  if (error.secretKey)
    return `Cannot build the ${what} of plan ${plan.name}: Cloudify secret "${error.secretKey}" does not exist.`;
  if (variable) return `Cannot build the ${what} of plan ${plan.name}: ${variable} is not set.`;
  return `Cannot build the ${what} of plan ${plan.name}: ${error.reason}`;
}

/** OSB endpoints: host string, non-empty list of port strings ("5432", "9000-9010"), protocol. */
function normaliseEndpoints(value: unknown, plan: CompiledPlan): NonNullable<BindingResult["endpoints"]> {
  if (!Array.isArray(value))
    throw new CredentialsError(`endpoints of plan ${plan.name} did not render to a list.`);
  return value.map((entry, i) => {
    if (!isObject(entry) || entry.host === undefined || entry.host === null || entry.host === "") {
      throw new CredentialsError(`endpoints[${i}] of plan ${plan.name} has no host.`);
    }
    const raw = Array.isArray(entry.ports) ? entry.ports : [entry.ports];
    const ports = raw.filter((p) => p !== undefined && p !== null && p !== "").map(String);
    if (!ports.length) throw new CredentialsError(`endpoints[${i}] of plan ${plan.name} has no ports.`);
    const endpoint: { host: string; ports: string[]; protocol?: string } = {
      host: String(entry.host),
      ports,
    };
    if (typeof entry.protocol === "string") endpoint.protocol = entry.protocol;
    return endpoint;
  });
}

/** Path of the first undefined or null leaf, so no binding is ever handed credentials with holes. */
function firstUndefined(value: unknown, path = ""): string | undefined {
  if (value === undefined || value === null) return path || "(root)";
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const hole = firstUndefined(item, `${path}[${i}]`);
      if (hole !== undefined) return hole;
    }
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      const hole = firstUndefined(item, path ? `${path}.${key}` : key);
      if (hole !== undefined) return hole;
    }
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
