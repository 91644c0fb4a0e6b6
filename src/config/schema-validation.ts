import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { setOwn } from "../util/own-property.js";
import { packageRoot } from "../util/package-root.js";
import { runInSlices } from "../util/slices.js";
import { type ConfigIssue, pathToString } from "./issues.js";
import type { ConfigSource, Path } from "./source.js";

let ajv: Ajv | undefined;
let schema: { $id: string; definitions: Record<string, unknown> } | undefined;
let validator: ValidateFunction | undefined;

/** Compiled once per process: the schema ships with the package and never changes at run time. */
function brokerSchemaValidator(): ValidateFunction {
  if (!validator) {
    schema = JSON.parse(readFileSync(join(packageRoot(), "schema/broker.schema.json"), "utf8"));
    // coerceTypes: `${VAR}` always yields a string; where the schema wants a number or a boolean
    // (ports, intervals, flags) it is converted, while secrets stay strings whatever they spell.
    ajv = new Ajv({
      allErrors: true,
      strict: true,
      allowUnionTypes: true,
      useDefaults: false,
      verbose: true,
      coerceTypes: true,
      // The project's own schema, checked against its meta-schema by a test
      // (test/config-validate.test.ts): compiling the meta-schema cost every validate ~5 % (issue 14).
      validateSchema: false,
    });
    ajv.addKeyword("tsType");
    validator = ajv.compile(schema as object);
  }
  return validator;
}

/**
 * The schema split in two for validateCleanInSlices: its plan definition alone, and the whole
 * schema with the plan definition accepting anything (the "skeleton"). Compiled once per
 * process, at the first reload, one per step.
 */
let sliceValidators: { plan: ValidateFunction; skeleton: ValidateFunction } | undefined;

function* compileSliceValidators(): Generator<void, NonNullable<typeof sliceValidators>> {
  if (!sliceValidators) {
    brokerSchemaValidator();
    const whole = schema!;
    const skeleton = ajv!.compile({
      ...whole,
      $id: whole.$id.replace(/\.json$/, ".skeleton.json"),
      definitions: { ...whole.definitions, plan: true },
    });
    yield;
    const plan = ajv!.getSchema(`${whole.$id}#/definitions/plan`);
    if (!plan) throw new Error("broker.schema.json has no plan definition");
    sliceValidators = { plan, skeleton };
    yield;
  }
  return sliceValidators;
}

/**
 * validateAgainstSchema for a running broker (a reload), for the usual case of a document the
 * schema accepts as it is: each plan is validated (and coerced) on its own against the schema's
 * plan definition, one plan per step, then the rest of the document against the skeleton. The
 * two check together exactly what the whole schema checks: the plan definition is referenced
 * once, as the items of a service's `plans`, under no oneOf, uniqueItems or other keyword that
 * would see a plan with its siblings. Steps are paused with `pause` when they have run 10 ms.
 *
 * Resolves true when the value is valid and nothing is to be reported (it is then coerced in
 * place as validateAgainstSchema would coerce it), false as soon as anything would be reported
 * (an error, or a coerced value written in the file): the value may then be coerced in part,
 * and the caller must validate a fresh copy with validateAgainstSchema, which reports as it
 * always has (the same messages, positions and order).
 */
export function validateCleanInSlices(
  value: unknown,
  interpolated: ReadonlySet<string>,
  pause: () => Promise<void>,
): Promise<boolean> {
  return runInSlices(cleanValidationSteps(value, interpolated), pause);
}

function* cleanValidationSteps(value: unknown, interpolated: ReadonlySet<string>): Generator<void, boolean> {
  const { plan, skeleton } = yield* compileSliceValidators();
  if (!isObject(value)) return false;
  const reported = (written: unknown, result: unknown, at: Path) =>
    coercions(written, result, at).some(({ path }) => !interpolated.has(pathToString(path)));
  const services = Array.isArray(value.services) ? value.services : [];
  for (const [s, service] of services.entries()) {
    const plans = isObject(service) && Array.isArray(service.plans) ? service.plans : [];
    for (const [p, one] of plans.entries()) {
      const written = structuredClone(one);
      if (!plan(one) || reported(written, one, ["services", s, "plans", p])) return false;
      yield;
    }
  }
  // The document without its plans, as written, to find what the skeleton coerces.
  const written = structuredClone({
    ...value,
    services: Array.isArray(value.services)
      ? value.services.map((service) =>
          isObject(service) && Array.isArray(service.plans) ? { ...service, plans: [] } : service,
        )
      : value.services,
  });
  return skeleton(value) && !reported(written, value, []);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
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
): SchemaResult {
  const validate = brokerSchemaValidator();
  const written = copyOfDocument(value);
  const errors = validate(value) ? [] : collapse(validate.errors ?? []);
  let issues = errors.map((error) => toIssue(error, source));
  const broken = errors.flatMap(brokenPath);
  for (const { path, from, to } of coercions(written, value)) {
    const where = pathToString(path);
    if (interpolated.has(where)) continue;
    broken.push(path);
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
  return { issues, broken };
}

export interface SchemaResult {
  issues: ConfigIssue[];
  /**
   * The values whose shape is wrong, so that checks which read them must not run on them. An
   * unknown property breaks nothing (no check reads it); a missing one breaks its own path, not
   * the object that lacks it (a service without `plans` breaks `services[0].plans`).
   */
  broken: Path[];
}

function brokenPath(error: ErrorObject): Path[] {
  const path = pointerToPath(error.instancePath);
  if (error.keyword === "additionalProperties") return [];
  if (error.keyword === "required") return [[...path, String(error.params.missingProperty)]];
  return [path];
}

/**
 * A deep copy of a parsed document, to compare with what ajv's coercion leaves of it. Plain
 * objects and arrays are copied by hand (~8× faster than structuredClone on 1,000 plans, ~5 %
 * of a validate; issue 14); anything else (a `!!binary` Buffer) by structuredClone.
 */
function copyOfDocument(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(copyOfDocument);
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    setOwn(copy, key, copyOfDocument((value as Record<string, unknown>)[key]));
  return copy;
}

/** Scalars whose type the validator changed, comparing the document as written with the result. */
function coercions(
  written: unknown,
  result: unknown,
  path: Path = [],
  out: { path: Path; from: unknown; to: unknown }[] = [],
): { path: Path; from: unknown; to: unknown }[] {
  // One path array for the whole walk (copied only for a coercion found): the document of a
  // large catalog has hundreds of thousands of values.
  if (written !== null && typeof written === "object") {
    if (result === null || typeof result !== "object") return out;
    const list = Array.isArray(written);
    for (const key in written) {
      path.push(list ? Number(key) : key);
      coercions(
        (written as Record<string, unknown>)[key],
        (result as Record<string, unknown>)[key],
        path,
        out,
      );
      path.pop();
    }
  } else if (written !== result && (written === null || typeof written !== typeof result)) {
    out.push({ path: [...path], from: written, to: result });
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
  // A oneOf error with a branch error deeper inside its value says the same, less precisely.
  return out.filter(
    (error) =>
      error.keyword !== "oneOf" ||
      !out.some((other) => other.instancePath.startsWith(`${error.instancePath}/`)),
  );
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
