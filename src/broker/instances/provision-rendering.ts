import type { CompiledPlan } from "../../config/compile-catalog.js";
import type { DerivedPlanSchemas } from "../catalog/blueprint-schemas.js";
import {
  governingSchema,
  mergeParameters,
  type Parameters,
  passThroughInputs,
} from "../catalog/parameters.js";
import type { OriginatingIdentity } from "../model/identity.js";
import { deploymentIdFor } from "../model/ids.js";
import { deploymentLabels, renderInputs } from "./deployment-inputs.js";
import { instanceTemplateContext } from "./template-context.js";

export interface ProvisionInput {
  instanceId: string;
  /** The request's parameters (already validated against the plan's schema). */
  parameters?: Parameters;
  context?: Record<string, unknown>;
  organizationGuid?: string;
  spaceGuid?: string;
  originatingIdentity?: OriginatingIdentity;
}

/** Everything a provision sends to Cloudify and answers, before anything is stored. */
export interface ProvisionRendering {
  deploymentId: string;
  labels: Record<string, string>[];
  /** Parameters the templates saw: schema defaults, plan defaults, then the request's. */
  parameters: Parameters;
  /** The deployment inputs of the create-deployment request. */
  inputs: Record<string, unknown>;
  dashboardUrl?: string;
  /** A dashboard_url that rendered but is no absolute URI (left out of the answer). */
  invalidDashboardUrl?: string;
}

/**
 * Renders a provision: the one place both the broker (InstanceService.provision) and
 * `cfy-broker render` build the deployment id, labels, inputs and dashboard URL, so what
 * render prints is what the broker sends. Pure: no state, no Cloudify.
 */
export function renderProvision(
  plan: CompiledPlan,
  derived: DerivedPlanSchemas | undefined,
  req: ProvisionInput,
): ProvisionRendering {
  const deploymentId = deploymentIdFor(req.instanceId);
  const schema = governingSchema(plan, "create", derived);
  const parameters = mergeParameters(schema.schema, plan.config.defaults, undefined, req.parameters);
  const context = instanceTemplateContext({
    instanceId: req.instanceId,
    deploymentId,
    plan,
    parameters,
    context: req.context,
    organizationGuid: req.organizationGuid,
    spaceGuid: req.spaceGuid,
    originatingIdentity: req.originatingIdentity,
  });
  const inputs = renderInputs(plan, context, passThroughInputs(plan, derived, req.parameters ?? {}));
  const rendering: ProvisionRendering = {
    deploymentId,
    labels: deploymentLabels(req.instanceId, plan, req.context, req.organizationGuid, req.spaceGuid),
    parameters,
    inputs,
  };
  const dashboard = renderDashboardUrl(plan, context);
  if (dashboard.url) rendering.dashboardUrl = dashboard.url;
  if (dashboard.invalid) rendering.invalidDashboardUrl = dashboard.invalid;
  return rendering;
}

/**
 * The service's dashboard URL for an instance. A malformed URL in a 202 body makes platforms
 * orphan-mitigate (OSB section 13), so one that is no absolute URI is returned as `invalid` for the
 * caller to report and left out of the answer. Instance ids may hold any character (H9);
 * templates should pass them through urlencode.
 */
export function renderDashboardUrl(
  plan: CompiledPlan,
  context: Record<string, unknown>,
): { url?: string; invalid?: string } {
  const template = plan.service.dashboardUrl;
  if (!template) return {};
  const value = template.render(context);
  if (typeof value !== "string" || !value) return {};
  return isAbsoluteUri(value) ? { url: value } : { invalid: value };
}

/** RFC 3986 absolute URI: scheme, then only URI characters, every `%` starting an escape. */
function isAbsoluteUri(value: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/.test(value);
}
