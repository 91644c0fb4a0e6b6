import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { packageRoot } from "../util/package-root.js";
import { type ConfigIssue, pathToString } from "./issues.js";
import type { ConfigSource, Path } from "./source.js";

let validator: ValidateFunction | undefined;

/** Compiled once per process: the schema ships with the package and never changes at run time. */
function brokerSchemaValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(join(packageRoot(), "schema/broker.schema.json"), "utf8"));
    // coerceTypes: `${VAR}` always yields a string; where the schema wants a number or a boolean
    // (ports, intervals, flags) it is converted, while secrets stay strings whatever they spell.
    const ajv = new Ajv({
      allErrors: true,
      strict: true,
      allowUnionTypes: true,
      useDefaults: false,
      verbose: true,
      coerceTypes: true,
    });
    ajv.addKeyword("tsType");
    validator = ajv.compile(schema);
  }
  return validator;
}

/**
 * Validates (and coerces) `value` in place. Coercion is for `${VAR}` results only: a value
 * written in the file must already have its type, so `bindable:` (null) or `bindable: 1` is a
 * type error rather than a silent false or true. `interpolated` holds the dotted paths of
 * values that came from interpolation.
 */
export function validateAgainstSchema(
  value: unknown,
  source: ConfigSource,
  interpolated: ReadonlySet<string> = new Set(),
): ConfigIssue[] {
  const validate = brokerSchemaValidator();
  const written = structuredClone(value);
  let issues = validate(value) ? [] : collapse(validate.errors ?? []).map((error) => toIssue(error, source));
  for (const { path, from, to } of coercions(written, value)) {
    const where = pathToString(path);
    if (interpolated.has(where)) continue;
    // Whatever else was said about this value was said about its coerced form.
    issues = issues.filter((issue) => issue.path !== where);
    const type = to === null ? "null" : typeof to;
    const message =
      from === null
        ? `has no value; must be ${article(type)}`
        : // Never the value itself: this may be a secret written in the file.
          `must be ${article(type)}, not ${article(typeof from)}${type === "string" ? " (quote it)" : ""}`;
    // An empty value has no text of its own: point at its key.
    issues.push(source.issue("error", path, message, from === null ? source.keyPosition(path) : undefined));
  }
  return issues;
}

/** Scalars whose type the validator changed, comparing the document as written with the result. */
function coercions(
  written: unknown,
  result: unknown,
  path: Path = [],
  out: { path: Path; from: unknown; to: unknown }[] = [],
): { path: Path; from: unknown; to: unknown }[] {
  if (written !== null && typeof written === "object") {
    if (result === null || typeof result !== "object") return out;
    for (const [key, child] of Object.entries(written)) {
      const segment = Array.isArray(written) ? Number(key) : key;
      coercions(child, (result as Record<string, unknown>)[key], [...path, segment], out);
    }
  } else if (written !== result && (written === null || typeof written !== typeof result)) {
    out.push({ path, from: written, to: result });
  }
  return out;
}

/**
 * ajv reports every branch of a failed oneOf; users want one sentence. Keep the oneOf error
 * itself only when no branch error sits at a deeper path (which would be more precise).
 */
function collapse(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === "oneOf").map((e) => e.instancePath));
  for (const error of errors) {
    // Branch errors of a oneOf at the same location are noise ("must be string", "must be object").
    if (
      error.keyword !== "oneOf" &&
      oneOfPaths.has(error.instancePath) &&
      error.schemaPath.includes("oneOf")
    ) {
      if (["type", "required", "additionalProperties", "enum"].includes(error.keyword)) continue;
    }
    const key = `${error.instancePath}|${error.keyword}|${JSON.stringify(error.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(error);
  }
  return out;
}

function toIssue(error: ErrorObject, source: ConfigSource): ConfigIssue {
  const path = pointerToPath(error.instancePath);
  switch (error.keyword) {
    case "additionalProperties": {
      const key = String(error.params.additionalProperty);
      const at = source.keyPosition([...path, key]);
      return source.issue("error", [...path, key], `unknown property "${key}"${suggestion(error)}`, at);
    }
    case "required":
      return source.issue("error", path, `missing required property "${error.params.missingProperty}"`);
    case "type":
      return source.issue("error", path, `must be ${article(String(error.params.type))}`);
    case "enum":
      return source.issue(
        "error",
        path,
        `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`,
      );
    case "oneOf":
      return source.issue("error", path, describeOneOf(error));
    case "minItems":
      return source.issue("error", path, `must have at least ${error.params.limit} item(s)`);
    case "minLength":
      return source.issue("error", path, "must not be empty");
    case "uniqueItems":
      return source.issue("error", path, "must not contain duplicates");
    default:
      return source.issue("error", path, error.message ?? `fails ${error.keyword}`);
  }
}

function describeOneOf(error: ErrorObject): string {
  const where = error.schemaPath;
  if (where.includes("secretValue")) return "must be a string or {file: path}";
  if (where.includes("inputSpec")) return "must be a template or literal, or {value, updatable}";
  if (where.includes("parameterSchema"))
    return "must be {parameters: <JSON Schema>} or {from_blueprint: true}";
  if (where.includes("auth")) return "must be {username, password} or {token}";
  return "does not match any allowed form";
}

function suggestion(error: ErrorObject): string {
  const allowed = error.parentSchema?.properties ? Object.keys(error.parentSchema.properties) : [];
  return allowed.length ? ` (allowed: ${allowed.join(", ")})` : "";
}

function article(type: string): string {
  return type
    .split(",")
    .map((t) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`))
    .join(" or ");
}

function pointerToPath(pointer: string): Path {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}
