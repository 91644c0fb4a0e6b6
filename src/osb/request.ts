import type { Context } from "hono";
import { definedFor, type VersionedBody } from "./api-versions.js";
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
  const unstorable = unstorableValue(value);
  if (unstorable?.problem === "depth") {
    throw new OsbError(
      "BadRequest",
      `Field ${unstorable.field} is nested more than ${MAX_NESTING} levels deep (at ${unstorable.path}); flatten it.`,
    );
  }
  if (unstorable) {
    throw new OsbError(
      "BadRequest",
      `Field ${unstorable.field} holds a number too large to represent (at ${unstorable.path}); send a smaller number or a string.`,
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
 * The first place where parsed JSON `value` holds what cannot be accepted, as the top-level field
 * and a readable path; undefined if there is none: nesting deeper than MAX_NESTING, or a number
 * outside the range of a double (`1e400` parses to Infinity, which JSON cannot write back, so the
 * state store would refuse the record: a 500 after the request was checked). Iterative: the input
 * may be nested arbitrarily deep.
 */
export function unstorableValue(
  value: object,
): { field: string; path: string; problem: "depth" | "number" } | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string[] }> = [{ value, depth: 1, path: [] }];
  const where = (path: string[]) => {
    const shown = path.length > 6 ? [...path.slice(0, 3), "…", ...path.slice(-2)] : path;
    return { field: path[0] ?? "(body)", path: shown.join(".") };
  };
  while (stack.length > 0) {
    const { value: node, depth, path } = stack.pop()!;
    if (typeof node === "number" && !Number.isFinite(node)) return { ...where(path), problem: "number" };
    if (node === null || typeof node !== "object") continue;
    if (depth > MAX_NESTING) return { ...where(path), problem: "depth" };
    for (const [key, child] of Object.entries(node)) {
      if ((child !== null && typeof child === "object") || typeof child === "number") {
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

/**
 * A boolean query parameter that versions before the one introducing it do not define: there it
 * is an unknown parameter, ignored (false), whatever it says (H17).
 */
export function versionedBooleanQuery(c: Context<OsbEnv>, body: VersionedBody, name: string): boolean {
  return definedFor(c, body, name) && booleanQuery(c, name);
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

/**
 * `maintenance_info.version` if given. osb-checker always sends `"maintenance_info": {}`: an
 * object without a version counts as absent (X5), never as a conflict.
 */
export function maintenanceVersion(info: { version?: string } | undefined): string | undefined {
  if (!info || info.version === undefined) return undefined;
  if (!info.version)
    throw new OsbError("BadRequest", "Field maintenance_info.version must be a non-empty string.");
  return info.version;
}
