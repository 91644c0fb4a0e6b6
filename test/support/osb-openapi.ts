/**
 * Validates OSB request and response bodies against the project's own OpenAPI 3.1 description,
 * `schema/osb-openapi.yaml`. The document is loaded once; JSON Schemas are compiled lazily with
 * Ajv (JSON Schema 2020-12, the OpenAPI 3.1 dialect) and cached.
 *
 * Path templates are written as in the document, e.g. `/v2/service_instances/{instance_id}`;
 * `pathTemplateFor()` maps a concrete request path onto its template.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ErrorObject, ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";

// ajv-formats is CommonJS; under NodeNext its plugin arrives as `.default` of the import.
const addFormats = addFormatsModule.default;

/** Absolute path of the OpenAPI document. */
export const OSB_OPENAPI_PATH = fileURLToPath(new URL("../../schema/osb-openapi.yaml", import.meta.url));

/** `$id` of the registered schema holding the component schemas as `$defs`. */
const DOC_KEY = "urn:cloudify-osb-broker:osb-openapi";

export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** JSON media type used by every OSB body (H7). */
const JSON_MEDIA_TYPE = "application/json";

/** OpenAPI keywords that may appear in schemas but are not JSON Schema 2020-12 vocabulary. */
const OPENAPI_SCHEMA_KEYWORDS = ["example", "discriminator", "xml", "externalDocs"];

type Json = Record<string, unknown>;

export interface MediaTypeObject {
  schema?: unknown;
  examples?: Record<string, unknown>;
  example?: unknown;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaTypeObject>;
}

export interface RequestBodyObject {
  description?: string;
  required?: boolean;
  content: Record<string, MediaTypeObject>;
}

export interface ParameterObject {
  name: string;
  in: "query" | "header" | "path" | "cookie";
  required?: boolean;
  description?: string;
  schema?: unknown;
  deprecated?: boolean;
}

export interface OperationObject {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  "x-osb-endpoint-id"?: string;
  [key: string]: unknown;
}

export interface OpenApiDocument {
  openapi: string;
  info: Json;
  paths: Record<string, Json>;
  components: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

let cachedDocument: OpenApiDocument | undefined;
let cachedAjv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();
/** Document pointer of every schema object handed to Ajv, for readable error locations. */
const locations = new WeakMap<object, string>();

/** The parsed OpenAPI document (loaded once). Treat it as read-only. */
export function openApiDocument(): OpenApiDocument {
  if (!cachedDocument) {
    cachedDocument = parse(readFileSync(OSB_OPENAPI_PATH, "utf8")) as OpenApiDocument;
  }
  return cachedDocument;
}

function ajv(): Ajv2020 {
  if (cachedAjv) return cachedAjv;
  const doc = openApiDocument();
  const instance = new Ajv2020({
    allErrors: true,
    strict: true,
    // `type: [string, "null"]` is how OpenAPI 3.1 spells nullable.
    allowUnionTypes: true,
    // Errors then carry `parentSchema`, which `locations` maps back to a document pointer.
    verbose: true,
  });
  addFormats(instance);
  for (const keyword of [...OPENAPI_SCHEMA_KEYWORDS, ...extensionKeywords(doc.components?.schemas)]) {
    instance.addKeyword({ keyword, schemaType: ["string", "number", "boolean", "object", "array", "null"] });
  }
  // The document itself is not a JSON Schema, so register a schema holding the component schemas
  // as `$defs` (references rewritten from `#/components/schemas/X` to `#/$defs/X`).
  const defs = rewriteRefs(doc.components?.schemas ?? {}, "#", "/components/schemas") as Json;
  instance.addSchema({ $id: DOC_KEY, $defs: defs });
  cachedAjv = instance;
  return instance;
}

const SCHEMA_REF_PREFIX = "#/components/schemas/";

/** Deep copy of `value` with `#/components/schemas/X` references rewritten to `${base}/$defs/X` (base ends in `#`). */
function rewriteRefs(value: unknown, base: string, pointer: string): unknown {
  if (Array.isArray(value)) return value.map((item, index) => rewriteRefs(item, base, `${pointer}/${index}`));
  if (!value || typeof value !== "object") return value;
  const copy: Json = {};
  locations.set(copy, pointer);
  for (const [key, child] of Object.entries(value)) {
    if (key === "$ref" && typeof child === "string") {
      if (!child.startsWith(SCHEMA_REF_PREFIX)) {
        throw new Error(`schema reference ${child} does not point into #/components/schemas`);
      }
      copy[key] = `${base}/$defs/${child.slice(SCHEMA_REF_PREFIX.length)}`;
    } else copy[key] = rewriteRefs(child, base, `${pointer}/${escapePointer(key)}`);
  }
  return copy;
}

/** `x-*` keys used inside component schemas, registered as annotation keywords for strict mode. */
function extensionKeywords(schemas: unknown): string[] {
  const found = new Set<string>();
  walk(schemas, (node) => {
    for (const key of Object.keys(node)) if (key.startsWith("x-")) found.add(key);
  });
  return [...found];
}

function walk(value: unknown, visit: (node: Json, pointer: string) => void, pointer = ""): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      walk(item, visit, `${pointer}/${index}`);
    });
  } else if (value && typeof value === "object") {
    visit(value as Json, pointer);
    for (const [key, child] of Object.entries(value)) walk(child, visit, `${pointer}/${escapePointer(key)}`);
  }
}

/** Visits every object in the document with its JSON pointer (e.g. `/components/schemas/Catalog`). */
export function walkDocument(visit: (node: Json, pointer: string) => void): void {
  walk(openApiDocument(), visit);
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Builds a JSON pointer from unescaped segments. */
export function jsonPointer(...segments: (string | number)[]): string {
  return segments.map((segment) => `/${escapePointer(String(segment))}`).join("");
}

/** Resolves a local reference (`#/components/...`) or JSON pointer; undefined when it does not resolve. */
export function resolvePointer(ref: string): unknown {
  const pointer = ref.startsWith("#") ? ref.slice(1) : ref;
  if (pointer === "") return openApiDocument();
  if (!pointer.startsWith("/")) return undefined;
  let node: unknown = openApiDocument();
  for (const raw of pointer.slice(1).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!node || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

/** Follows `$ref` chains of OpenAPI objects (responses, parameters, request bodies, examples). */
export function deref<T>(value: unknown): T {
  let current = value;
  const seen = new Set<string>();
  while (current && typeof current === "object" && typeof (current as Json).$ref === "string") {
    const ref = (current as Json).$ref as string;
    if (seen.has(ref)) throw new Error(`circular $ref ${ref}`);
    seen.add(ref);
    const target = resolvePointer(ref);
    if (target === undefined) throw new Error(`unresolvable $ref ${ref}`);
    current = target;
  }
  return current as T;
}

function validatorAt(pointer: string): ValidateFunction {
  let validate = compiled.get(pointer);
  if (!validate) {
    const componentPrefix = "/components/schemas/";
    if (pointer.startsWith(componentPrefix)) {
      // Inside a component schema: address it within the registered `$defs` schema.
      const fragment = `/$defs/${pointer.slice(componentPrefix.length)}`
        .split("/")
        .map((segment) => encodeURIComponent(segment))
        .join("/");
      validate = ajv().compile({ $ref: `${DOC_KEY}#${fragment}` });
    } else {
      // A schema elsewhere (e.g. inline in an operation): compile a copy whose component
      // references point at the registered `$defs` schema.
      validate = ajv().compile(rewriteRefs(resolvePointer(pointer), `${DOC_KEY}#`, pointer) as Json);
    }
    compiled.set(pointer, validate);
  }
  return validate;
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((error) => {
    const where = error.instancePath === "" ? "(body)" : error.instancePath;
    const params = error.params as Record<string, unknown>;
    let detail = "";
    if (typeof params.additionalProperty === "string") detail = ` '${params.additionalProperty}'`;
    else if (Array.isArray(params.allowedValues)) detail = ` ${JSON.stringify(params.allowedValues)}`;
    else if (error.keyword === "const") detail = ` ${JSON.stringify(params.allowedValue)}`;
    return `${where} ${error.message ?? error.keyword}${detail} (${documentLocation(error)})`;
  });
}

/** Where in the document the failing keyword is, e.g. `#/components/schemas/ServicePlan/required`. */
function documentLocation(error: ErrorObject): string {
  const parent = error.parentSchema && locations.get(error.parentSchema);
  return parent === undefined ? error.schemaPath : `#${parent}/${error.keyword}`;
}

/** Validates `value` against the JSON Schema at `pointer` in the document; readable errors, empty when valid. */
export function validateAt(pointer: string, value: unknown): string[] {
  if (resolvePointer(pointer) === undefined) return [`the document has no schema at ${pointer}`];
  const validate = validatorAt(pointer);
  return validate(value) ? [] : describe(validate.errors);
}

/** The component schema `name` (`#/components/schemas/<name>`), or undefined. */
export function componentSchema(name: string): Json | undefined {
  return resolvePointer(jsonPointer("components", "schemas", name)) as Json | undefined;
}

/** Validates `value` against component schema `name`; errors as readable strings, empty when valid. */
export function validateComponent(name: string, value: unknown): string[] {
  if (!componentSchema(name)) return [`the document has no component schema ${name}`];
  return validateAt(jsonPointer("components", "schemas", name), value);
}

/** The operation for `method` and `pathTemplate`, or undefined. */
export function operation(method: string, pathTemplate: string): OperationObject | undefined {
  const item = openApiDocument().paths[pathTemplate];
  const op = item?.[method.toLowerCase()];
  return op && typeof op === "object" ? (op as OperationObject) : undefined;
}

/** Every operation of the document with its method and path template. */
export function operations(): { method: string; path: string; operation: OperationObject }[] {
  const list: { method: string; path: string; operation: OperationObject }[] = [];
  for (const [path, item] of Object.entries(openApiDocument().paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (op && typeof op === "object") list.push({ method, path, operation: op as OperationObject });
    }
  }
  return list;
}

/** Response status keys declared for an operation (`"200"`, `"5XX"`, …); empty for unknown operations. */
export function declaredStatuses(method: string, pathTemplate: string): string[] {
  return Object.keys(operation(method, pathTemplate)?.responses ?? {});
}

/** All parameters of an operation (path-item level merged with operation level, operation wins). */
export function operationParameters(method: string, pathTemplate: string): ParameterObject[] {
  const item = openApiDocument().paths[pathTemplate];
  const op = operation(method, pathTemplate);
  if (!item || !op) return [];
  const merged = new Map<string, ParameterObject>();
  for (const raw of [...((item.parameters as unknown[]) ?? []), ...(op.parameters ?? [])]) {
    const parameter = deref<ParameterObject>(raw);
    merged.set(`${parameter.in}:${parameter.name.toLowerCase()}`, parameter);
  }
  return [...merged.values()];
}

/** Status key of the response the document declares for `status`: exact code, then `NXX` range, then `default`. */
function responseKey(responses: Record<string, unknown>, status: number): string | undefined {
  const exact = String(status);
  if (Object.hasOwn(responses, exact)) return exact;
  const range = `${Math.floor(status / 100)}XX`;
  if (Object.hasOwn(responses, range)) return range;
  if (Object.hasOwn(responses, "default")) return "default";
  return undefined;
}

/** The response object (after `$ref`) declared for a status, or undefined. */
export function responseFor(
  method: string,
  pathTemplate: string,
  status: number,
): ResponseObject | undefined {
  const op = operation(method, pathTemplate);
  if (!op) return undefined;
  const key = responseKey(op.responses, status);
  return key === undefined ? undefined : deref<ResponseObject>(op.responses[key]);
}

function label(method: string, pathTemplate: string): string {
  return `${method.toUpperCase()} ${pathTemplate}`;
}

/**
 * Validates a response body. Returns readable errors; empty means valid. It is an error when the
 * document declares no such operation or no response for the status, when a JSON body is declared
 * but `body` is undefined, or when the response declares no body but one is given.
 */
export function validateResponse(
  method: string,
  pathTemplate: string,
  status: number,
  body: unknown,
): string[] {
  const op = operation(method, pathTemplate);
  if (!op) return [`the document declares no operation ${label(method, pathTemplate)}`];
  const key = responseKey(op.responses, status);
  if (key === undefined) {
    return [`the document declares no ${status} response for ${label(method, pathTemplate)}`];
  }
  const response = deref<ResponseObject>(op.responses[key]);
  const media = response.content?.[JSON_MEDIA_TYPE];
  if (!media) {
    if (!response.content && (body === undefined || body === "")) return [];
    return [`${status} of ${label(method, pathTemplate)} declares no ${JSON_MEDIA_TYPE} body`];
  }
  if (body === undefined) return [`${status} of ${label(method, pathTemplate)} requires a JSON body`];
  const pointer = jsonPointer("paths", pathTemplate, method.toLowerCase(), "responses", key);
  const target = resolveMediaSchemaPointer(pointer);
  return validateAt(target, body).map((error) => `${status} ${error}`);
}

/**
 * Validates a request body. Returns readable errors; empty means valid. Operations without a
 * request body accept only `undefined`.
 */
export function validateRequest(method: string, pathTemplate: string, body: unknown): string[] {
  const op = operation(method, pathTemplate);
  if (!op) return [`the document declares no operation ${label(method, pathTemplate)}`];
  if (op.requestBody === undefined) {
    return body === undefined ? [] : [`${label(method, pathTemplate)} takes no request body`];
  }
  const requestBody = deref<RequestBodyObject>(op.requestBody);
  if (body === undefined) {
    return requestBody.required ? [`${label(method, pathTemplate)} requires a request body`] : [];
  }
  if (!requestBody.content[JSON_MEDIA_TYPE]) {
    return [`${label(method, pathTemplate)} declares no ${JSON_MEDIA_TYPE} request body`];
  }
  let pointer = jsonPointer("paths", pathTemplate, method.toLowerCase(), "requestBody");
  // Follow a `$ref`'d request body to its definition so the schema pointer is concrete.
  const raw = resolvePointer(pointer) as Json;
  if (typeof raw.$ref === "string") pointer = finalPointer(raw.$ref);
  return validateAt(jsonPointer(...splitPointer(pointer), "content", JSON_MEDIA_TYPE, "schema"), body);
}

/** For a response at `pointer` (possibly a `$ref`), the pointer of its JSON media schema. */
function resolveMediaSchemaPointer(pointer: string): string {
  const raw = resolvePointer(pointer) as Json;
  const concrete = typeof raw.$ref === "string" ? finalPointer(raw.$ref) : pointer;
  return jsonPointer(...splitPointer(concrete), "content", JSON_MEDIA_TYPE, "schema");
}

/** Follows a `$ref` chain and returns the pointer of the final (non-reference) object. */
function finalPointer(ref: string): string {
  let current = ref;
  for (let hops = 0; hops < 32; hops++) {
    const target = resolvePointer(current) as Json | undefined;
    if (!target) throw new Error(`unresolvable $ref ${current}`);
    if (typeof target.$ref !== "string") return current.startsWith("#") ? current.slice(1) : current;
    current = target.$ref;
  }
  throw new Error(`$ref chain too long at ${ref}`);
}

function splitPointer(pointer: string): string[] {
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/**
 * Maps a concrete request path (e.g. `/v2/service_instances/abc/last_operation`, query ignored)
 * onto the document's path template, or undefined when none matches.
 */
export function pathTemplateFor(requestPath: string): string | undefined {
  const path = requestPath.split("?")[0] ?? "";
  for (const template of Object.keys(openApiDocument().paths)) {
    const pattern = new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`,
    );
    if (pattern.test(path)) return template;
  }
  return undefined;
}
