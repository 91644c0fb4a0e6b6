import type { Context } from "hono";
import type { OsbEnv } from "./context.js";
import { OsbError } from "./errors.js";

/**
 * Reads the body as a JSON object. Content-Type is not enforced (OSB H7 lets a broker parse
 * bodies without it); unparseable or non-object bodies are 400 saying exactly what is wrong.
 */
export async function readJsonObject(c: Context<OsbEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (!text.trim()) throw new OsbError("BadRequest", "The request body is empty; a JSON object is required.");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OsbError("BadRequest", `The request body is not valid JSON: ${(error as Error).message}.`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new OsbError(
      "BadRequest",
      `The request body must be a JSON object, not ${Array.isArray(value) ? "an array" : typeof value === "object" ? "null" : `a ${typeof value}`}.`,
    );
  }
  const tooDeep = tooDeeplyNested(value);
  if (tooDeep) {
    throw new OsbError(
      "BadRequest",
      `Field ${tooDeep.field} is nested more than ${MAX_NESTING} levels deep (at ${tooDeep.path}); flatten it.`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * How deeply objects and arrays may nest in a request body (the body itself is level 1). Checked
 * once here, at the edge, so everything accepted can be fingerprinted, merged and stored (the
 * state store allows far deeper records) and no later step meets a value it cannot handle.
 */
export const MAX_NESTING = 32;

/**
 * The first place where `value` nests deeper than MAX_NESTING, as the top-level field and a
 * readable path; undefined if it does not. Iterative: the input may be nested arbitrarily deep.
 */
export function tooDeeplyNested(value: object): { field: string; path: string } | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string[] }> = [{ value, depth: 1, path: [] }];
  while (stack.length > 0) {
    const { value: node, depth, path } = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > MAX_NESTING) {
      const shown = path.length > 6 ? [...path.slice(0, 3), "…", ...path.slice(-2)] : path;
      return { field: path[0] ?? "(body)", path: shown.join(".") };
    }
    for (const [key, child] of Object.entries(node)) {
      if (child !== null && typeof child === "object") {
        stack.push({
          value: child,
          depth: depth + 1,
          path: [...path, key.length > 40 ? `${key.slice(0, 40)}…` : key],
        });
      }
    }
  }
  return undefined;
}

/** `accepts_incomplete` and friends: absent is false; anything but true/false is a 400. */
export function booleanQuery(c: Context<OsbEnv>, name: string): boolean {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "false") return false;
  if (raw === "true") return true;
  throw new OsbError(
    "BadRequest",
    `Query parameter ${name} must be true or false, got ${JSON.stringify(raw)}.`,
  );
}

/** A required query parameter; empty counts as missing (osb-checker X4). */
export function requiredQuery(c: Context<OsbEnv>, name: string): string {
  const value = c.req.query(name);
  if (!value) throw new OsbError("BadRequest", `Query parameter ${name} is required and must not be empty.`);
  return value;
}

export function optionalQuery(c: Context<OsbEnv>, name: string): string | undefined {
  return c.req.query(name) || undefined;
}

/** A required, non-empty string field of a request body (OSB H14, X4). */
export function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== "string" || value === "") {
    throw new OsbError(
      "BadRequest",
      value === undefined || value === ""
        ? `Field ${field} is required and must be a non-empty string.`
        : `Field ${field} must be a string, got ${describeType(value)}.`,
    );
  }
  return value;
}

/** An optional field that, when present, must be a non-empty string. */
export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new OsbError("BadRequest", `Field ${field} must be a non-empty string when present.`);
  }
  return value;
}

/** An optional JSON object field (parameters, context, bind_resource...). */
export function optionalObject(
  body: Record<string, unknown>,
  field: string,
): Record<string, unknown> | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new OsbError("BadRequest", `Field ${field} must be a JSON object, got ${describeType(value)}.`);
  }
  return value as Record<string, unknown>;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/**
 * `maintenance_info.version` if given. osb-checker always sends `"maintenance_info": {}`: an
 * object without a version counts as absent (X5), never as a conflict.
 */
export function maintenanceVersion(body: Record<string, unknown> | undefined): string | undefined {
  const info = body ? optionalObject(body, "maintenance_info") : undefined;
  if (!info || info.version === undefined) return undefined;
  if (typeof info.version !== "string" || !info.version) {
    throw new OsbError("BadRequest", "Field maintenance_info.version must be a non-empty string.");
  }
  return info.version;
}
