import type { CompiledPlan } from "../../config/compile-catalog.js";
import { TemplateRenderError } from "../../templates/index.js";
import { BrokerFailure } from "../failures.js";
import { canonicalJson } from "../model/ids.js";

/**
 * Renders a plan's deployment inputs. Parameters passed straight through (blueprint-derived
 * plans) come first, so the plan's own inputs always win: users cannot override what the
 * operator fixed. A template that cannot render is the request's fault (a parameter it
 * needs is missing), hence 400 naming the input and variable.
 */
export function renderInputs(
  plan: CompiledPlan,
  context: Record<string, unknown>,
  passThrough: Record<string, unknown>,
): Record<string, unknown> {
  const inputs: Record<string, unknown> = { ...passThrough };
  for (const input of plan.inputs) {
    try {
      const value = input.value.render(context);
      if (value !== undefined) inputs[input.name] = value;
    } catch (error) {
      if (error instanceof TemplateRenderError) {
        const variable = error.variable ? `: ${error.variable} is not set` : "";
        throw new BrokerFailure(
          "BadRequest",
          `Cannot build deployment input "${input.name}" of plan ${plan.name}${variable}.`,
          { cause: error },
        );
      }
      throw error;
    }
  }
  return inputs;
}

/** Inputs whose value differs between two renderings (deep comparison). */
export function changedInputs(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(after)) {
    if (canonicalJson(before[name]) !== canonicalJson(value)) changed[name] = value;
  }
  return changed;
}

/** Refuses an update that would change inputs the plan marks `updatable: false` (400 naming them). */
export function assertUpdatable(plan: CompiledPlan, changed: Record<string, unknown>): void {
  const frozen = plan.inputs
    .filter((input) => !input.updatable && input.name in changed)
    .map((input) => input.name);
  if (frozen.length) {
    throw new BrokerFailure(
      "BadRequest",
      `This update would change deployment input(s) ${frozen.join(", ")}, which plan ${plan.name} does not allow to change after provisioning.`,
    );
  }
}

/** Cloudify label values may not hold quotes or control characters. */
function labelValue(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    out += ch === '"' || code < 0x20 || code === 0x7f ? "_" : ch;
  }
  return out.slice(0, 256);
}

/**
 * Labels on every deployment, so instances can be found by label search and orphans (labelled
 * deployments unknown to the broker) detected. Cloudify label values may not hold quotes or
 * control characters and are capped at 256 characters.
 */
export function deploymentLabels(
  instanceId: string,
  plan: CompiledPlan,
  context: Record<string, unknown> | undefined,
  organizationGuid: string | undefined,
  spaceGuid: string | undefined,
): Record<string, string>[] {
  const labels: Record<string, string>[] = [
    { "osb-broker": "cloudify-osb-broker" },
    { "osb-instance-id": instanceId },
    { "osb-service-id": plan.service.config.id },
    { "osb-plan-id": plan.id },
  ];
  const platform = context?.platform;
  if (typeof platform === "string") labels.push({ "osb-platform": platform });
  const namespace = context?.namespace;
  if (typeof namespace === "string") labels.push({ "osb-namespace": namespace });
  const org = organizationGuid ?? (context?.organization_guid as string | undefined);
  const space = spaceGuid ?? (context?.space_guid as string | undefined);
  if (typeof org === "string") labels.push({ "osb-organization-guid": org });
  if (typeof space === "string") labels.push({ "osb-space-guid": space });
  return labels
    .map((label) => Object.fromEntries(Object.entries(label).map(([k, v]) => [k, labelValue(v)])))
    .filter((label) => Object.values(label).every((v) => v.length > 0));
}
