import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import type { components } from "../../generated/osb.js";
import { packageRoot } from "../util/package-root.js";
import { OsbError } from "./errors.js";

type Schemas = components["schemas"];
export type ProvisionBody = Schemas["ProvisionRequest"];
export type UpdateBody = Schemas["UpdateRequest"];
export type BindingBody = Schemas["BindingRequest"];
export type RotationBody = Schemas["BindingRotationRequest"] & Partial<BindingBody>;

/**
 * Request bodies are checked against the component schemas of the project's OSB OpenAPI
 * document (schema/osb-openapi.yaml), the same document `generated/osb.ts` is generated from:
 * a change to the document is a change to what the broker accepts. The validators are compiled
 * once, when this module is first used, never per request.
 */
const DOCUMENT = "urn:cloudify-osb-broker:osb-openapi-requests";

let compiled: Record<"provision" | "update" | "binding" | "rotation", ValidateFunction> | undefined;

function validators() {
  if (compiled) return compiled;
  const document = parse(readFileSync(join(packageRoot(), "schema", "osb-openapi.yaml"), "utf8")) as {
    components: { schemas: Record<string, unknown> };
  };
  // OpenAPI 3.1 schemas are JSON Schema 2020-12; `deprecated` and `examples` are annotations.
  const ajv = new Ajv2020({ allErrors: false, strict: false, validateFormats: false });
  ajv.addSchema({ $id: DOCUMENT, $defs: rewriteRefs(document.components.schemas) });
  const of = (name: string) => ajv.compile({ $ref: `${DOCUMENT}#/$defs/${name}` });
  compiled = {
    provision: of("ProvisionRequest"),
    update: of("UpdateRequest"),
    binding: of("BindingRequest"),
    rotation: of("BindingRotationRequest"),
  };
  return compiled;
}

// The document's `$ref`s point at `#/components/schemas/...`; under `$defs` they must follow.
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key === "$ref" && typeof item === "string"
        ? item.replace("#/components/schemas/", "#/$defs/")
        : rewriteRefs(item),
    ]),
  );
}

/**
 * A top-level optional field sent as `null` counts as absent (platforms serialise unset fields
 * that way); a required one is then reported missing.
 */
function withoutNulls(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
}

function check<T>(validate: ValidateFunction, body: Record<string, unknown>): T {
  const value = withoutNulls(body);
  if (!validate(value)) throw new OsbError("BadRequest", describe(validate.errors![0]!, value));
  return value as T;
}

export const checkProvision = (body: Record<string, unknown>) =>
  check<ProvisionBody>(validators().provision, body);
export const checkUpdate = (body: Record<string, unknown>) => check<UpdateBody>(validators().update, body);

/** A rotation carries predecessor_binding_id and may leave out service and plan (OSB 2.17). */
export function checkBind(body: Record<string, unknown>): BindingBody | RotationBody {
  const rotation = body.predecessor_binding_id !== undefined && body.predecessor_binding_id !== null;
  const value = check<RotationBody>(rotation ? validators().rotation : validators().binding, body);
  if (rotation) {
    // The rest of the body, when present, must still be a valid binding request's.
    const rest = { service_id: "-", plan_id: "-", ...value };
    check<BindingBody>(validators().binding, rest);
  }
  return value;
}

/** One error as the OSB description: the field, dotted from the body's top (H14). */
function describe(error: ErrorObject, body: Record<string, unknown>): string {
  const path = error.instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .join(".");
  const at = (name?: string) => [path, name].filter(Boolean).join(".");
  const value = error.instancePath
    .split("/")
    .slice(1)
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], body);
  switch (error.keyword) {
    case "required":
      return `Field ${at(error.params.missingProperty as string)} is required.`;
    case "minLength":
      // Empty counts as missing (osb-checker X4).
      return `Field ${at()} is required and must be a non-empty string.`;
    case "type":
      return `Field ${at() || "(body)"} must be ${article(String(error.params.type))}, got ${describeType(value)}.`;
    default:
      return `Field ${at() || "(body)"} is invalid: ${error.message ?? error.keyword}.`;
  }
}

function article(type: string): string {
  if (type === "object") return "a JSON object";
  if (type === "array") return "a JSON array";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return article(typeof value);
}
