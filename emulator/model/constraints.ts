import { isPlainObject, pyRepr, pyStr } from "../util.js";

/**
 * DSL input/parameter types and constraints, checked the way the Cloudify DSL parser does
 * (COMMON `dsl_parser/constraints.py`, `dsl_parser/elements/inputs.py`).
 */

export const CONSTRAINT_NAMES = [
  "equal",
  "greater_than",
  "greater_or_equal",
  "less_than",
  "less_or_equal",
  "in_range",
  "valid_values",
  "length",
  "min_length",
  "max_length",
  "pattern",
] as const;
export type ConstraintName = (typeof CONSTRAINT_NAMES)[number];

export interface Constraint {
  name: ConstraintName;
  arg: unknown;
}

/** Types whose values are plain strings (object types such as `deployment_id` are ids). */
const STRING_TYPES = new Set([
  "string",
  "regex",
  "textarea",
  "blueprint_id",
  "deployment_id",
  "capability_value",
  "scaling_group",
  "node_id",
  "node_type",
  "node_instance",
  "secret_key",
  "operation_name",
]);
export const KNOWN_TYPES = new Set([...STRING_TYPES, "integer", "float", "boolean", "list", "dict"]);

export function isStringType(type: string | undefined): boolean {
  return type !== undefined && STRING_TYPES.has(type);
}

const NUMERIC = new Set<ConstraintName>(["greater_than", "greater_or_equal", "less_than", "less_or_equal"]);
const LENGTHS = new Set<ConstraintName>(["length", "min_length", "max_length"]);

/** Parses `[{pattern: "x"}, {max_length: 3}]`; throws a readable message on anything malformed. */
export function parseConstraints(raw: unknown, where: string, type: string | undefined): Constraint[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Error(`${where}: constraints must be a list of one-key maps`);
  return raw.map((entry) => {
    if (!isPlainObject(entry)) throw new Error(`${where}: each constraint must be a one-key map`);
    const keys = Object.keys(entry).filter((k) => k !== "error_message");
    if (keys.length !== 1) throw new Error(`${where}: each constraint must have exactly one operator`);
    const name = keys[0] as ConstraintName;
    if (!CONSTRAINT_NAMES.includes(name)) throw new Error(`${where}: unknown constraint '${name}'`);
    const arg = entry[name];
    checkConstraintArg(name, arg, `${where}: constraint ${name}`, type);
    return { name, arg };
  });
}

function checkConstraintArg(
  name: ConstraintName,
  arg: unknown,
  where: string,
  type: string | undefined,
): void {
  const numericType = type === "integer" || type === "float";
  const sized = isStringType(type) || type === "list" || type === "dict" || type === undefined;
  if (NUMERIC.has(name)) {
    if (typeof arg !== "number") throw new Error(`${where} needs a number`);
    if (type !== undefined && !numericType) throw new Error(`${where} only applies to integer/float inputs`);
  } else if (LENGTHS.has(name)) {
    if (!Number.isInteger(arg) || (arg as number) < 0)
      throw new Error(`${where} needs a non-negative integer`);
    if (!sized) throw new Error(`${where} only applies to string, list or dict inputs`);
  } else if (name === "in_range") {
    if (!Array.isArray(arg) || arg.length !== 2 || arg.some((v) => typeof v !== "number")) {
      throw new Error(`${where} needs [min, max]`);
    }
    if ((arg[0] as number) > (arg[1] as number)) throw new Error(`${where}: min is greater than max`);
  } else if (name === "valid_values") {
    if (!Array.isArray(arg)) throw new Error(`${where} needs a list`);
  } else if (name === "pattern") {
    if (typeof arg !== "string") throw new Error(`${where} needs a string`);
    if (type !== undefined && !isStringType(type)) throw new Error(`${where} only applies to string inputs`);
    compilePattern(arg);
  }
}

/** Python's `re.match` anchors at the start only; mirror that. */
function compilePattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})`, "u");
}

function sizeOf(value: unknown): number | undefined {
  if (typeof value === "string" || Array.isArray(value)) return value.length;
  if (isPlainObject(value)) return Object.keys(value).length;
  return undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function satisfies(c: Constraint, value: unknown): boolean {
  const n = typeof value === "number" ? value : undefined;
  switch (c.name) {
    case "equal":
      return deepEqual(value, c.arg);
    case "greater_than":
      return n !== undefined && n > (c.arg as number);
    case "greater_or_equal":
      return n !== undefined && n >= (c.arg as number);
    case "less_than":
      return n !== undefined && n < (c.arg as number);
    case "less_or_equal":
      return n !== undefined && n <= (c.arg as number);
    case "in_range": {
      const [min, max] = c.arg as [number, number];
      return n !== undefined && n >= min && n <= max;
    }
    case "valid_values":
      return (c.arg as unknown[]).some((v) => deepEqual(v, value));
    case "length":
      return sizeOf(value) === c.arg;
    case "min_length": {
      const size = sizeOf(value);
      return size !== undefined && size >= (c.arg as number);
    }
    case "max_length": {
      const size = sizeOf(value);
      return size !== undefined && size <= (c.arg as number);
    }
    case "pattern":
      return typeof value === "string" && compilePattern(c.arg as string).test(value);
  }
}

/** How the DSL parser prints a constraint in its messages, e.g. `pattern('^a') operator`. */
export function describeConstraint(c: Constraint): string {
  const args = Array.isArray(c.arg) ? c.arg.map(pyRepr).join(", ") : pyRepr(c.arg);
  return `${c.name}(${args}) operator`;
}

export function matchesType(type: string | undefined, value: unknown, itemType?: string): boolean {
  if (type === undefined) return true;
  if (isStringType(type)) return typeof value === "string";
  switch (type) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "float":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "dict":
      return isPlainObject(value);
    case "list":
      return Array.isArray(value) && (itemType === undefined || value.every((v) => matchesType(itemType, v)));
    default:
      return false;
  }
}

/** A value/type mismatch or constraint violation, carrying the DSL parser's exception class name. */
export class DslValidationError extends Error {
  constructor(
    readonly exceptionType: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ValueSpec {
  type?: string;
  item_type?: string;
  constraints: Constraint[];
  hidden?: boolean;
}

/** Checks one value; `kind` is "input" or "parameter" for the wording. Hidden values are masked. */
export function validateValue(kind: string, name: string, spec: ValueSpec, value: unknown): void {
  const shown = spec.hidden ? "'********'" : pyRepr(value);
  if (!matchesType(spec.type, value, spec.item_type)) {
    throw new DslValidationError(
      "DSLParsingLogicException",
      `Property type validation failed in '${name}': property '${name}' type is '${spec.type}', ` +
        `yet it was assigned with the value '${spec.hidden ? "********" : pyStr(value)}'`,
    );
  }
  for (const c of spec.constraints) {
    if (!satisfies(c, value)) {
      throw new DslValidationError(
        "ConstraintException",
        `Value ${shown} of ${kind} ${name} violates constraint ${describeConstraint(c)}.`,
      );
    }
  }
}
