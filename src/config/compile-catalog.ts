import type {
  BindingSpec,
  BrokerConfig,
  InputSpec,
  ParameterSchema,
  PlanConfig,
  ServiceConfig,
  WorkflowCall,
} from "../../generated/broker-config.js";
import {
  type CompiledTemplate,
  type CompiledValueTree,
  compileTemplate,
  compileValueTree,
  isRelativeReference,
  TemplateSyntaxError,
} from "../templates/index.js";
import { runAtOnce, runInSlices } from "../util/slices.js";
import { type CheckScope, EVERYTHING } from "./check-scope.js";
import { type ConfigIssue, pathToString } from "./issues.js";
import { ParameterSchemaCompiler, type ParameterValidator } from "./parameter-schemas.js";
import type { ConfigSource, Path } from "./source.js";
import { BINDING_CONTEXT, checkReference, INSTANCE_CONTEXT, type RootSpec } from "./template-contexts.js";

/** A config value whose string leaves containing `{{` are compiled templates; the rest is literal. */
export type ValueTree = CompiledValueTree;

export interface CompiledInput {
  name: string;
  value: ValueTree;
  updatable: boolean;
}

export type SchemaSlot =
  | { kind: "none" }
  | { kind: "explicit"; schema: Record<string, unknown>; validate: ParameterValidator }
  | { kind: "blueprint"; include?: string[]; exclude?: string[] };

export interface CompiledWorkflowCall {
  workflowId: string;
  parameters: ValueTree;
}

export interface CompiledBinding {
  mode: "outputs" | "workflow";
  requiresApp: boolean;
  create?: CompiledWorkflowCall;
  delete?: CompiledWorkflowCall;
  /** Undefined: credentials are the deployment's outputs merged with its capabilities. */
  credentials?: ValueTree;
  endpoints?: ValueTree;
  syslogDrainUrl?: ValueTree;
  routeServiceUrl?: ValueTree;
  volumeMounts?: ValueTree;
  lifetime?: { expiresInSeconds: number; renewBeforeSeconds?: number };
  /** Literal Cloudify secret keys the templates read; fetched before rendering. */
  secretKeys: string[];
}

export interface CompiledPlan {
  config: PlanConfig;
  service: CompiledService;
  /** Where the plan is in broker.yaml (`services[s].plans[p]`). */
  path: Path;
  id: string;
  name: string;
  blueprintId: string;
  bindable: boolean;
  planUpdateable: boolean;
  bindingRotatable: boolean;
  inputs: CompiledInput[];
  schemas: { instanceCreate: SchemaSlot; instanceUpdate: SchemaSlot; bindingCreate: SchemaSlot };
  binding: CompiledBinding;
}

export interface CompiledService {
  config: ServiceConfig;
  dashboardUrl?: CompiledTemplate;
  plans: CompiledPlan[];
}

export interface CompiledCatalog {
  services: CompiledService[];
  servicesById: Map<string, CompiledService>;
  plansById: Map<string, CompiledPlan>;
}

/**
 * Compiles every template and parameter schema of the config once, reporting problems at
 * their file position. The result is what the broker runs on until the next reload.
 */
export function compileCatalog(
  config: BrokerConfig,
  source: ConfigSource,
  /** What to compile (all by default; the shape-valid parts when the schema failed). */
  scope: CheckScope = EVERYTHING,
): CompileResult {
  return runAtOnce(compileSteps(config, source, scope));
}

/**
 * compileCatalog for a running broker (a reload): the same work, paused with `pause` whenever it
 * has run `sliceMs` on end, so requests arriving meanwhile are served between plans.
 */
export async function compileCatalogInSlices(
  config: BrokerConfig,
  source: ConfigSource,
  pause: () => Promise<void>,
  sliceMs = 10,
): Promise<CompileResult> {
  return runInSlices(compileSteps(config, source, EVERYTHING), pause, sliceMs);
}

type CompileResult = { catalog: CompiledCatalog; issues: ConfigIssue[] };

/** The compilation, one plan per step. */
function* compileSteps(
  config: BrokerConfig,
  source: ConfigSource,
  scope: CheckScope,
): Generator<void, CompileResult> {
  const issues: ConfigIssue[] = [];
  const schemaCompiler = new ParameterSchemaCompiler();
  const ctx: CompileContext = { source, issues };
  const services: CompiledService[] = [];
  const servicesById = new Map<string, CompiledService>();
  const plansById = new Map<string, CompiledPlan>();

  for (const [s, serviceConfig] of config.services.entries()) {
    if (!scope.plans(s)) continue;
    const at: Path = ["services", s];
    const service: CompiledService = { config: serviceConfig, plans: [] };
    if (scope.service(s) && serviceConfig.dashboard_url !== undefined) {
      service.dashboardUrl = compileChecked(
        ctx,
        serviceConfig.dashboard_url,
        [...at, "dashboard_url"],
        INSTANCE_CONTEXT,
      );
    }
    for (const [p, planConfig] of serviceConfig.plans.entries()) {
      if (!scope.plan(s, p)) continue;
      const planAt: Path = [...at, "plans", p];
      const schemas = {
        instanceCreate: compileSchemaSlot(ctx, schemaCompiler, planConfig.schemas?.service_instance?.create, [
          ...planAt,
          "schemas",
          "service_instance",
          "create",
        ]),
        instanceUpdate: compileSchemaSlot(ctx, schemaCompiler, planConfig.schemas?.service_instance?.update, [
          ...planAt,
          "schemas",
          "service_instance",
          "update",
        ]),
        bindingCreate: compileSchemaSlot(ctx, schemaCompiler, planConfig.schemas?.service_binding?.create, [
          ...planAt,
          "schemas",
          "service_binding",
          "create",
        ]),
      };
      const instanceParams = knownParameters(
        [schemas.instanceCreate, schemas.instanceUpdate],
        planConfig.defaults,
        Object.keys(planConfig.inputs ?? {}),
      );
      const bindingParams = knownParameters([schemas.bindingCreate], undefined, []);
      const plan: CompiledPlan = {
        config: planConfig,
        service,
        path: planAt,
        id: planConfig.id,
        name: planConfig.name,
        blueprintId: planConfig.blueprint_id ?? serviceConfig.blueprint_id ?? "",
        bindable: planConfig.bindable ?? serviceConfig.bindable,
        planUpdateable: planConfig.plan_updateable ?? serviceConfig.plan_updateable ?? false,
        bindingRotatable: planConfig.binding_rotatable ?? false,
        inputs: compileInputs(ctx, planConfig.inputs ?? {}, [...planAt, "inputs"], instanceParams),
        schemas,
        binding: compileBinding(ctx, planConfig.binding, [...planAt, "binding"], bindingParams),
      };
      service.plans.push(plan);
      plansById.set(plan.id, plan);
      yield;
    }
    services.push(service);
    servicesById.set(serviceConfig.id, service);
  }
  return { catalog: { services, servicesById, plansById }, issues };
}

interface CompileContext {
  source: ConfigSource;
  issues: ConfigIssue[];
}

/**
 * Whether a parameter of this name can ever reach the templates: the plan's defaults give it,
 * or a schema that governs requests accepts it. Undefined when any name may arrive: the first
 * slot (create) has no schema, so provisions are not checked; a later slot (update) without a
 * schema follows the create schema.
 */
type KnownParameters = { accepts: (name: string) => boolean; derived: boolean } | undefined;

function knownParameters(
  slots: SchemaSlot[],
  defaults: Record<string, unknown> | undefined,
  fixedInputs: string[],
): KnownParameters {
  if (!slots.length || slots[0]?.kind === "none") return undefined;
  const constraining = slots.filter((slot) => slot.kind !== "none");
  const accepts = (slot: SchemaSlot, name: string): boolean => {
    if (slot.kind === "blueprint") return blueprintSlotMayOffer(slot, fixedInputs, name);
    if (slot.kind !== "explicit") return true;
    return explicitSchemaMayOffer(slot.schema, name);
  };
  return {
    accepts: (name) =>
      Boolean(defaults && name in defaults) || constraining.some((slot) => accepts(slot, name)),
    derived: constraining.some((slot) => slot.kind === "blueprint"),
  };
}

/**
 * Whether a declared parameter schema may accept a property `name`: it declares it, matches one
 * of its patternProperties, or does not forbid additional properties. (Only these top-level
 * keywords are read: a schema that restricts names otherwise is taken to accept any.)
 */
function explicitSchemaMayOffer(schema: Record<string, unknown>, name: string): boolean {
  if (schema.additionalProperties !== false) return true;
  const { properties, patternProperties } = schema;
  if (properties && typeof properties === "object" && Object.hasOwn(properties, name)) return true;
  if (!patternProperties || typeof patternProperties !== "object") return false;
  return Object.keys(patternProperties).some((pattern) => {
    try {
      return new RegExp(pattern, "u").test(name);
    } catch {
      return true;
    }
  });
}

/**
 * Whether a schema derived from the blueprint's inputs may offer parameter `name`: never an
 * input the plan fixes, nor one the slot excludes or does not include. (Whether the blueprint
 * declares it is known only once its inputs are read from Cloudify.)
 */
export function blueprintSlotMayOffer(
  slot: Extract<SchemaSlot, { kind: "blueprint" }>,
  fixedInputs: readonly string[],
  name: string,
): boolean {
  if (fixedInputs.includes(name) || slot.exclude?.includes(name)) return false;
  return slot.include === undefined || slot.include.includes(name);
}

function compileInputs(
  ctx: CompileContext,
  inputs: Record<string, InputSpec>,
  at: Path,
  params: KnownParameters,
): CompiledInput[] {
  return Object.entries(inputs).map(([name, spec]) => {
    const wrapped = spec !== null && typeof spec === "object" && !Array.isArray(spec);
    const raw = wrapped ? (spec as { value: unknown }).value : spec;
    const path = wrapped ? [...at, name, "value"] : [...at, name];
    return {
      name,
      value: compileTree(ctx, raw, path, INSTANCE_CONTEXT, params),
      updatable: wrapped ? ((spec as { updatable?: boolean }).updatable ?? true) : true,
    };
  });
}

function compileBinding(
  ctx: CompileContext,
  spec: BindingSpec | undefined,
  at: Path,
  params: KnownParameters,
): CompiledBinding {
  const binding: CompiledBinding = {
    mode: spec?.mode ?? "outputs",
    requiresApp: spec?.requires_app ?? false,
    secretKeys: [],
  };
  if (!spec) return binding;
  const tree = (value: unknown, key: string) =>
    compileTree(ctx, value, [...at, key], BINDING_CONTEXT, params);
  const call = (workflow: WorkflowCall, key: string): CompiledWorkflowCall => ({
    workflowId: workflow.workflow_id,
    parameters: compileTree(
      ctx,
      workflow.parameters ?? {},
      [...at, "workflow", key, "parameters"],
      BINDING_CONTEXT,
      params,
    ),
  });
  if (spec.workflow) {
    binding.create = call(spec.workflow.create, "create");
    if (spec.workflow.delete) binding.delete = call(spec.workflow.delete, "delete");
  }
  if (spec.credentials !== undefined) binding.credentials = tree(spec.credentials, "credentials");
  if (spec.endpoints !== undefined) binding.endpoints = tree(spec.endpoints, "endpoints");
  if (spec.syslog_drain_url !== undefined)
    binding.syslogDrainUrl = tree(spec.syslog_drain_url, "syslog_drain_url");
  if (spec.route_service_url !== undefined)
    binding.routeServiceUrl = tree(spec.route_service_url, "route_service_url");
  if (spec.volume_mounts !== undefined) binding.volumeMounts = tree(spec.volume_mounts, "volume_mounts");
  if (spec.credential_lifetime) {
    binding.lifetime = {
      expiresInSeconds: spec.credential_lifetime.expires_in_seconds,
      renewBeforeSeconds: spec.credential_lifetime.renew_before_seconds,
    };
  }
  const keys = new Set<string>();
  for (const t of [
    binding.credentials,
    binding.endpoints,
    binding.syslogDrainUrl,
    binding.routeServiceUrl,
    binding.volumeMounts,
  ]) {
    if (t) for (const key of t.secretKeys) keys.add(key);
  }
  binding.secretKeys = [...keys];
  return binding;
}

function compileSchemaSlot(
  ctx: CompileContext,
  compiler: ParameterSchemaCompiler,
  spec: ParameterSchema | undefined,
  at: Path,
): SchemaSlot {
  if (!spec) return { kind: "none" };
  if ("from_blueprint" in spec) {
    const options = spec.from_blueprint === true ? {} : spec.from_blueprint;
    return { kind: "blueprint", include: options.include, exclude: options.exclude };
  }
  const { validator, problems } = compiler.compile(spec.parameters);
  for (const problem of problems)
    ctx.issues.push(ctx.source.issue("error", [...at, "parameters"], `parameter schema ${problem}`));
  if (!validator) return { kind: "none" };
  return { kind: "explicit", schema: spec.parameters as Record<string, unknown>, validate: validator };
}

export function compileTree(
  ctx: CompileContext,
  value: unknown,
  at: Path,
  spec: RootSpec,
  params: KnownParameters,
): ValueTree {
  // compileValueTree stops at the first syntax error; report it, neutralise that leaf and go
  // on, so every broken template of the tree is listed in one run.
  let current = value;
  for (;;) {
    try {
      const tree = compileValueTree(current, pathToString(at));
      const leaves = templateLeafPaths(current);
      tree.templates.forEach((template, i) => {
        const leaf = leaves[i] ?? [];
        checkReferences(ctx, template, [...at, ...leaf], spec, params, String(leafAt(current, leaf)));
      });
      return tree;
    } catch (error) {
      if (!(error instanceof TemplateSyntaxError) || !error.valuePath) throw error;
      const leaf = [...at, ...error.valuePath];
      ctx.issues.push(
        ctx.source.issue(
          "error",
          leaf,
          `template syntax: ${error.reason}`,
          templatePosition(ctx.source, leaf, error, String(leafAt(current, error.valuePath))),
        ),
      );
      current = replaceLeaf(current, error.valuePath, "");
    }
  }
}

/** Paths of the string leaves holding templates, in the order compileValueTree compiles them. */
function templateLeafPaths(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (typeof value === "string") {
    if (value.includes("{{")) out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      templateLeafPaths(item, [...path, i], out);
    });
  } else if (value && typeof value === "object") {
    for (const key of Object.keys(value))
      templateLeafPaths((value as Record<string, unknown>)[key], [...path, key], out);
  }
  return out;
}

function leafAt(value: unknown, path: readonly (string | number)[]): unknown {
  let node = value;
  for (const segment of path) node = (node as Record<string | number, unknown> | undefined)?.[segment];
  return node;
}

function replaceLeaf(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return replacement;
  if (Array.isArray(value))
    return value.map((item, i) => (i === head ? replaceLeaf(item, rest, replacement) : item));
  const copy = { ...(value as Record<string, unknown>) };
  copy[String(head)] = replaceLeaf(copy[String(head)], rest, replacement);
  return copy;
}

function compileChecked(
  ctx: CompileContext,
  text: string,
  at: Path,
  spec: RootSpec,
): CompiledTemplate | undefined {
  try {
    const template = compileTemplate(text, { name: pathToString(at) });
    checkReferences(ctx, template, at, spec, undefined, text);
    return template;
  } catch (error) {
    if (!(error instanceof TemplateSyntaxError)) throw error;
    ctx.issues.push(
      ctx.source.issue(
        "error",
        at,
        `template syntax: ${error.reason}`,
        templatePosition(ctx.source, at, error, text),
      ),
    );
    return undefined;
  }
}

function checkReferences(
  ctx: CompileContext,
  template: CompiledTemplate,
  at: Path,
  spec: RootSpec,
  params: KnownParameters,
  /** The template's text, to place each error where the template reads the variable. */
  text: string,
): void {
  for (const reference of template.references) {
    // Paths relative to an #each/#with block read the block's element, already checked at its root.
    if (isRelativeReference(reference)) continue;
    // Placed only when there is an error to report: finding a position reads the source tree,
    // which a reload (parsed off the event loop) builds on the event loop at its first use.
    const position = () => {
      const read = template.referencePositions.get(reference);
      return read ? templatePosition(ctx.source, at, read, text) : undefined;
    };
    const problem = checkReference(reference, spec);
    if (problem) {
      ctx.issues.push(ctx.source.issue("error", at, `template reads ${reference}: ${problem}`, position()));
      continue;
    }
    const [root, param] = reference.split(".");
    if (root === "parameters" && param && param !== "*" && params && !params.accepts(param)) {
      ctx.issues.push(
        ctx.source.issue(
          "error",
          at,
          `template reads parameters.${param}, which the plan's parameter schemas and defaults do not define${params.derived ? " (a schema derived from the blueprint never offers an input the plan fixes or excludes)" : ""}`,
          position(),
        ),
      );
    }
  }
}

/**
 * Maps a line/column inside a template to the file. The template is the scalar's value, which
 * YAML may have built from several source lines (block scalars drop their indentation and
 * header, folded and quoted scalars join lines), so the value is aligned with the raw source
 * character by character rather than line by line.
 */
function templatePosition(
  source: ConfigSource,
  at: Path,
  error: { line: number; column: number },
  template: string,
) {
  const fallback = source.position(at);
  const scalar = source.scalarSource(at);
  if (!scalar) return fallback;
  const lines = template.split("\n");
  if (error.line < 1 || error.line > lines.length) return fallback;
  let index = Math.max(0, error.column - 1);
  for (const line of lines.slice(0, error.line - 1)) index += line.length + 1;
  const offset = rawOffset(template, scalar.raw, Math.min(index, template.length));
  return offset === undefined ? fallback : source.positionOfOffset(scalar.start + offset);
}

/**
 * Offset in `raw` (a scalar's source text) of character `index` of its value. What YAML drops
 * between two characters of the value is whitespace, line breaks, quotes and escape
 * backslashes, so each character of the value is the next matching one in the source (a space
 * may come from a folded line break). Undefined when they do not line up (escapes such as \t,
 * or `${VAR}` replaced by its value), so the caller falls back to the start of the scalar.
 */
function rawOffset(value: string, raw: string, index: number): number | undefined {
  // Skip a block scalar's header line (indicators and a comment) or a quoted scalar's quote.
  let j = /^[|>]/.test(raw) ? raw.indexOf("\n") + 1 : /^["']/.test(raw) ? 1 : 0;
  if (j === 0 && /^[|>]/.test(raw)) return undefined;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    while (j < raw.length && raw[j] !== char && !(char === " " && raw[j] === "\n")) j++;
    if (j >= raw.length) return undefined;
    if (i === index) return j;
    j++;
  }
  return index === value.length ? j : undefined;
}
