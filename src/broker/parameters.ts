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
