import { blueprintSlotMayOffer, type CompiledPlan } from "../../config/compile-catalog.js";
import type { ParameterValidator } from "../../config/parameter-schemas.js";
import { BrokerFailure } from "../failures.js";
import type { DerivedPlanSchemas, DerivedSchemas } from "./blueprint-schemas.js";

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

export interface GoverningSchema {
  /** The JSON Schema (its `default`s feed the parameter merge), when known. */
  schema?: Record<string, unknown>;
  /** Every violation of the request's parameters; undefined when anything goes. */
  validate?: ParameterValidator;
}

/**
 * The schema that governs an instance request's parameters: the plan's explicit one, the one
 * derived from its blueprint's inputs, or, before those inputs are known (fresh state,
 * Cloudify unreachable), what a derived schema is sure to refuse: inputs the plan fixes and
 * names the slot excludes or does not include. Types and constraints are then left to
 * Cloudify, which checks them when it creates or updates the deployment.
 */
export function governingSchema(
  plan: CompiledPlan,
  phase: "create" | "update",
  derived: DerivedPlanSchemas | undefined,
): GoverningSchema {
  // Updates follow the create schema when the plan gives no update schema.
  const useUpdate = phase === "update" && plan.schemas.instanceUpdate.kind !== "none";
  const slot = useUpdate ? plan.schemas.instanceUpdate : plan.schemas.instanceCreate;
  if (slot.kind === "explicit") return { schema: slot.schema, validate: slot.validate };
  if (slot.kind === "none") return {};
  const schema = useUpdate ? derived?.instanceUpdate : derived?.instanceCreate;
  const validate = useUpdate ? derived?.validateUpdate : derived?.validateCreate;
  if (schema) return { schema, validate };
  const fixed = plan.inputs.map((input) => input.name);
  return {
    validate: (parameters) =>
      Object.keys(parameters && typeof parameters === "object" ? parameters : {})
        .filter((name) => !blueprintSlotMayOffer(slot, fixed, name))
        .map((name) => `parameters.${name}: is not an accepted parameter`),
  };
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
    throw new BrokerFailure("BadRequest", `Invalid ${what} parameters: ${problems.join("; ")}.`);
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
