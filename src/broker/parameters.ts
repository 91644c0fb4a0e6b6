import type { CompiledPlan, SchemaSlot } from "../config/compile.js";
import { OsbError } from "../osb/errors.js";
import type { DerivedSchemas } from "./catalog.js";

export type Parameters = Record<string, unknown>;

/**
 * The parameters templates see, merged in this documented order (later wins):
 *   1. `default`s of the plan's parameter schema (create, or update during an update);
 *   2. the plan's `defaults`;
 *   3. the instance's stored parameters (updates only);
 *   4. the request's parameters.
 * Merging is shallow: a parameter given at a later level replaces the earlier value whole.
 */
export function mergeParameters(
  schema: Record<string, unknown> | undefined,
  planDefaults: Parameters | undefined,
  stored: Parameters | undefined,
  request: Parameters | undefined,
): Parameters {
  return { ...schemaDefaults(schema), ...planDefaults, ...stored, ...request };
}

function schemaDefaults(schema: Record<string, unknown> | undefined): Parameters {
  const out: Parameters = {};
  const properties = schema?.properties;
  if (!properties || typeof properties !== "object") return out;
  for (const [name, property] of Object.entries(properties)) {
    if (property && typeof property === "object" && "default" in property) {
      out[name] = (property as { default: unknown }).default;
    }
  }
  return out;
}

/** The schema that governs a request's parameters, explicit or derived from the blueprint. */
export function effectiveSchema(slot: SchemaSlot, derived: Record<string, unknown> | undefined) {
  if (slot.kind === "explicit") return { schema: slot.schema, validate: slot.validate };
  if (slot.kind === "blueprint" && derived) return { schema: derived, validate: undefined };
  return undefined;
}

/**
 * Validates request parameters against the plan's schema; every violation goes into one 400
 * description (OSB H14). Derived schemas are validated by the caller-supplied validator,
 * compiled when they were derived.
 */
export function checkParameters(
  parameters: Parameters | undefined,
  validate: ((parameters: unknown) => string[]) | undefined,
  what: string,
): void {
  if (!validate) return;
  const problems = validate(parameters ?? {});
  if (problems.length) {
    throw new OsbError("BadRequest", `Invalid ${what} parameters: ${problems.join("; ")}.`);
  }
}

/**
 * What a blueprint-derived schema is known to refuse before Cloudify has described the
 * blueprint (fresh state, Cloudify unreachable): inputs the plan fixes, and names the slot
 * excludes or does not include. Types and constraints are left to Cloudify meanwhile, which
 * checks them when it creates or updates the deployment.
 */
export function underivedValidator(
  plan: CompiledPlan,
  slot: SchemaSlot,
): ((parameters: unknown) => string[]) | undefined {
  if (slot.kind !== "blueprint") return undefined;
  const fixed = new Set(plan.inputs.map((input) => input.name));
  return (parameters) =>
    Object.keys(parameters && typeof parameters === "object" ? parameters : {})
      .filter(
        (name) =>
          fixed.has(name) ||
          slot.exclude?.includes(name) ||
          (slot.include !== undefined && !slot.include.includes(name)),
      )
      .map((name) => `parameters.${name}: is not an accepted parameter`);
}

/** For plans whose schema is derived from the blueprint, user parameters feed the inputs of the same name. */
export function passThroughInputs(
  plan: CompiledPlan,
  derived: DerivedSchemas | undefined,
  parameters: Parameters,
): Parameters {
  if (plan.schemas.instanceCreate.kind !== "blueprint" && plan.schemas.instanceUpdate.kind !== "blueprint")
    return {};
  const fixed = new Set(plan.inputs.map((input) => input.name));
  const offered = new Set([
    ...Object.keys((derived?.instanceCreate?.properties as object | undefined) ?? {}),
    ...Object.keys((derived?.instanceUpdate?.properties as object | undefined) ?? {}),
  ]);
  const out: Parameters = {};
  for (const [name, value] of Object.entries(parameters)) {
    // Without the blueprint's inputs at hand, pass everything not fixed and let Cloudify judge.
    if (!fixed.has(name) && (offered.size === 0 || offered.has(name))) out[name] = value;
  }
  return out;
}
