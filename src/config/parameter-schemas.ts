import { createRequire } from "node:module";
import { Ajv, type AnySchema, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import Ajv2019 from "ajv/dist/2019.js";
import Ajv2020 from "ajv/dist/2020.js";
import AjvDraft04 from "ajv-draft-04";
import addFormatsModule from "ajv-formats";

// These packages are CommonJS; under NodeNext their classes arrive as `.default` of the import.
const addFormats = addFormatsModule.default;
const require = createRequire(import.meta.url);

/** OSB (C4) caps a plan parameter schema at 64 kB. */
export const MAX_SCHEMA_BYTES = 64 * 1024;

const DRAFTS = {
  "draft-04": /^https?:\/\/json-schema\.org\/draft-04\/schema#?$/,
  "draft-06": /^https?:\/\/json-schema\.org\/draft-06\/schema#?$/,
  "draft-07": /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/,
  "2019-09": /^https?:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/,
  "2020-12": /^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/,
} as const;

type Draft = keyof typeof DRAFTS;

/** Every violation, each naming where in the parameters it is; empty when valid. */
export type ParameterValidator = (parameters: unknown) => string[];

/**
 * Compiles plan parameter schemas. One instance per config load: ajv caches compiled schemas
 * by object identity, so reusing instances across reloads would keep every old schema alive.
 */
export class ParameterSchemaCompiler {
  private readonly instances = new Map<Draft, Ajv>();

  /**
   * Results by the schema's JSON text: plans of one broker.yaml often share a schema, and each
   * copy compiled apart was a quarter of loading 1,000 plans (issue 14). The result depends on
   * the schema alone (callers add where it was).
   */
  private readonly bySource = new Map<string, { validator?: ParameterValidator; problems: string[] }>();

  /** Returns problems with the schema itself, or a validator. */
  compile(schema: unknown): { validator?: ParameterValidator; problems: string[] } {
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
      return { problems: ["must be a JSON Schema object"] };
    }
    const text = JSON.stringify(schema);
    let result = this.bySource.get(text);
    if (!result) {
      result = this.compileNew(schema, text);
      this.bySource.set(text, result);
    }
    return { validator: result.validator, problems: [...result.problems] };
  }

  private compileNew(schema: object, text: string): { validator?: ParameterValidator; problems: string[] } {
    const problems: string[] = [];
    const size = Buffer.byteLength(text);
    if (size > MAX_SCHEMA_BYTES) problems.push(`is ${size} bytes; OSB allows at most ${MAX_SCHEMA_BYTES}`);
    const declared = (schema as { $schema?: unknown }).$schema;
    const draft = typeof declared === "string" ? detectDraft(declared) : undefined;
    if (declared === undefined) problems.push("must declare $schema (OSB C4)");
    else if (!draft)
      problems.push(`$schema ${JSON.stringify(declared)} is not a supported JSON Schema draft`);
    for (const ref of externalRefs(schema))
      problems.push(`uses external $ref ${JSON.stringify(ref)} (OSB C4)`);
    if (problems.length || !draft) return { problems };
    try {
      const validate = this.ajv(draft).compile(schema as AnySchema);
      return { validator: (parameters) => (validate(parameters) ? [] : describeErrors(validate)), problems };
    } catch (error) {
      return { problems: [`is not a valid JSON Schema: ${(error as Error).message}`] };
    }
  }

  private ajv(draft: Draft): Ajv {
    let ajv = this.instances.get(draft);
    if (!ajv) {
      // strict: false because user schemas legitimately carry annotations ajv does not know
      // (title, examples, x-vendor keys); allErrors so every violation is reported at once.
      const options: Options = { allErrors: true, strict: false, validateSchema: true };
      if (draft === "draft-04") ajv = new AjvDraft04.default(options) as unknown as Ajv;
      else if (draft === "2019-09") ajv = new Ajv2019.default(options) as unknown as Ajv;
      else if (draft === "2020-12") ajv = new Ajv2020.default(options) as unknown as Ajv;
      else {
        ajv = new Ajv(options);
        if (draft === "draft-06") ajv.addMetaSchema(require("ajv/dist/refs/json-schema-draft-06.json"));
      }
      addFormats(ajv);
      this.instances.set(draft, ajv);
    }
    return ajv;
  }
}

function detectDraft(uri: string): Draft | undefined {
  return (Object.keys(DRAFTS) as Draft[]).find((draft) => DRAFTS[draft].test(uri));
}

function externalRefs(schema: unknown, found: string[] = []): string[] {
  if (Array.isArray(schema)) for (const item of schema) externalRefs(item, found);
  else if (schema && typeof schema === "object") {
    for (const [key, value] of Object.entries(schema)) {
      if (key === "$ref" && typeof value === "string" && !value.startsWith("#")) found.push(value);
      else externalRefs(value, found);
    }
  }
  return found;
}

/** ajv errors as sentences that name the offending parameter, e.g. `parameters.size: must be <= 35`. */
export function describeErrors(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((error) => `${where(error)}: ${what(error)}`);
}

function where(error: ErrorObject): string {
  const segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (error.keyword === "required") segments.push(String(error.params.missingProperty));
  if (error.keyword === "additionalProperties") segments.push(String(error.params.additionalProperty));
  return ["parameters", ...segments]
    .map((s, i) => (i === 0 ? s : /^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join("");
}

function what(error: ErrorObject): string {
  switch (error.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return "is not an accepted parameter";
    case "enum":
      return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}
