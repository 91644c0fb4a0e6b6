import { createHash } from "node:crypto";
import {
  bindingTemplateContext,
  CredentialsError,
  renderBindingResult,
} from "../../broker/bindings/render-binding.js";
import type { DerivedPlanSchemas } from "../../broker/catalog/blueprint-schemas.js";
import { checkParameters, governingSchema, mergeParameters } from "../../broker/catalog/parameters.js";
import { BrokerFailure } from "../../broker/failures.js";
import { renderProvision } from "../../broker/instances/provision-rendering.js";
import type { CompiledPlan } from "../../config/compile-catalog.js";
import { ConfigError, formatIssue, pathFromString } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import type { ConfigSource } from "../../config/source.js";
import { TemplateRenderError } from "../../templates/index.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { cliDerivedSchemas } from "../derived-schemas.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";
import { objectArg } from "../json-arg.js";
import { mask, secretStrings } from "../masking.js";
import { findPlan } from "../plan-lookup.js";

const OPTIONS = {
  plan: { type: "string" },
  parameters: { type: "string" },
  context: { type: "string" },
  "instance-id": { type: "string" },
  "binding-id": { type: "string" },
  "bind-parameters": { type: "string" },
  "bind-resource": { type: "string" },
  outputs: { type: "string" },
  capabilities: { type: "string" },
  secrets: { type: "string" },
  reveal: { type: "boolean" },
  state: { type: "string" },
  cloudify: { type: "boolean" },
} as const;

/** Fixed ids, so two renders of the same inputs print the same thing (diffable). */
const INSTANCE_ID = "00000000-0000-4000-8000-00000000000a";
const BINDING_ID = "00000000-0000-4000-8000-00000000000b";

/**
 * `cfy-broker render --plan ID|NAME`: what the broker would send to Cloudify and answer for a
 * provision (and a bind, given the deployment's outputs), without touching a manager. Built by
 * the broker's own rendering functions, so it cannot drift from what the broker does.
 */
export async function renderCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("render", args, OPTIONS);
  const file = configPath(values);
  if (!values.plan) throw new UsageError("cfy-broker render: --plan is required");
  const { loaded, issues } = await loadConfig(file, { mode: "validate" });
  if (!loaded) throw new ConfigError(issues);
  const plan = findPlan(loaded.catalog, values.plan);
  const derivedSchemas = await cliDerivedSchemas(file, loaded.catalog, {
    state: values.state,
    cloudify: values.cloudify,
  });
  const omitted = derivedSchemas.omitted.find((line) => line.startsWith(`plan ${planLabel(plan)}:`));
  if (omitted) process.stderr.write(`${omitted}\n`);

  const request = {
    instanceId: values["instance-id"] ?? INSTANCE_ID,
    bindingId: values["binding-id"] ?? BINDING_ID,
    parameters: objectArg("parameters", values.parameters),
    context: objectArg("context", values.context) ?? {},
    bindParameters: objectArg("bind-parameters", values["bind-parameters"]),
    bindResource: objectArg("bind-resource", values["bind-resource"]),
    outputs: objectArg("outputs", values.outputs),
    capabilities: objectArg("capabilities", values.capabilities) ?? {},
    secrets: stringMap(objectArg("secrets", values.secrets) ?? {}),
  };
  try {
    const rendered = render(plan, derivedSchemas.forPlan(plan.id), request);
    const secrets = [
      ...Object.values(request.secrets),
      ...secretStrings(request.outputs, request.capabilities),
    ];
    const out = values.reveal ? rendered.first : mask(rendered.first, secrets, rendered.second);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return EXIT_OK;
  } catch (error) {
    const message = renderFailure(error, loaded.source);
    if (message === undefined) throw error;
    process.stderr.write(`${message}\n`);
    return EXIT_INVALID;
  }
}

interface RenderRequest {
  instanceId: string;
  bindingId: string;
  parameters?: Record<string, unknown>;
  context: Record<string, unknown>;
  bindParameters?: Record<string, unknown>;
  bindResource?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** Renders with two seeds: leaves that differ are generated from the seed (passwords), hence secret. */
function render(plan: CompiledPlan, derived: DerivedPlanSchemas | undefined, req: RenderRequest) {
  const seed = createHash("sha256").update(`render\0${req.bindingId}`).digest("base64");
  return { first: renderOnce(plan, derived, req, seed), second: renderOnce(plan, derived, req, `${seed}'`) };
}

function renderOnce(
  plan: CompiledPlan,
  derived: DerivedPlanSchemas | undefined,
  req: RenderRequest,
  seed: string,
): Record<string, unknown> {
  checkParameters(req.parameters, governingSchema(plan, "create", derived).validate, "provision");
  const organizationGuid = stringOrUndefined(req.context.organization_guid);
  const spaceGuid = stringOrUndefined(req.context.space_guid);
  const provision = renderProvision(plan, derived, {
    instanceId: req.instanceId,
    parameters: req.parameters,
    context: req.context,
    organizationGuid,
    spaceGuid,
  });
  const out: Record<string, unknown> = {
    service: { id: plan.service.config.id, name: plan.service.config.name },
    plan: { id: plan.id, name: plan.name },
    instance_id: req.instanceId,
    provision: {
      create_deployment: {
        deployment_id: provision.deploymentId,
        blueprint_id: plan.blueprintId,
        display_name: provision.deploymentId,
        labels: provision.labels,
        inputs: provision.inputs,
      },
      workflow: { workflow_id: "install", parameters: {} },
      answer: provision.dashboardUrl ? { dashboard_url: provision.dashboardUrl } : {},
      ...(provision.invalidDashboardUrl !== undefined
        ? { warning: `dashboard_url "${provision.invalidDashboardUrl}" is no absolute URI; it is left out` }
        : {}),
    },
  };
  if (plan.bindable) out.bind = renderBind(plan, req, provision.deploymentId, seed);
  return out;
}

function renderBind(
  plan: CompiledPlan,
  req: RenderRequest,
  deploymentId: string,
  seed: string,
): Record<string, unknown> {
  const slot = plan.schemas.bindingCreate;
  if (slot.kind === "explicit") checkParameters(req.bindParameters, slot.validate, "binding");
  const parameters = mergeParameters(
    slot.kind === "explicit" ? slot.schema : undefined,
    undefined,
    undefined,
    req.bindParameters,
  );
  const data = { outputs: req.outputs ?? {}, capabilities: req.capabilities, secrets: req.secrets };
  const context = bindingTemplateContext(
    {
      bindingId: req.bindingId,
      instance: {
        id: req.instanceId,
        deploymentId,
        parameters: req.parameters ?? {},
        context: req.context,
        planId: plan.id,
        serviceId: plan.service.config.id,
      },
      plan,
      parameters,
      context: req.context,
      bindResource: req.bindResource,
      appGuid: stringOrUndefined(req.bindResource?.app_guid),
    },
    data,
  );
  const bind: Record<string, unknown> = { binding_id: req.bindingId, mode: plan.binding.mode };
  if (plan.binding.create)
    bind.workflow = {
      workflow_id: plan.binding.create.workflowId,
      parameters: plan.binding.create.parameters.render(context, { seed }),
    };
  if (plan.binding.delete)
    bind.unbind_workflow = {
      workflow_id: plan.binding.delete.workflowId,
      parameters: plan.binding.delete.parameters.render(context, { seed }),
    };
  if (req.outputs === undefined) {
    bind.answer = "give --outputs (and --capabilities, --secrets) to render the credentials";
    return bind;
  }
  bind.answer = renderBindingResult(plan, context, data, seed);
  return bind;
}

/** The message for a failure the user can fix, or undefined for a bug. */
function renderFailure(error: unknown, source: ConfigSource): string | undefined {
  const template =
    error instanceof TemplateRenderError
      ? error
      : error instanceof Error && error.cause instanceof TemplateRenderError
        ? error.cause
        : undefined;
  if (template) {
    const issue = source.issue("error", pathFromString(template.templateName), template.message);
    return formatIssue(issue);
  }
  if (error instanceof BrokerFailure || error instanceof CredentialsError) return `error: ${error.message}`;
  return undefined;
}

function planLabel(plan: CompiledPlan): string {
  return `${plan.service.config.name}/${plan.name}`;
}

/** Cloudify secrets are strings. */
function stringMap(value: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value))
    out[key] = typeof item === "string" ? item : JSON.stringify(item);
  return out;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
