import { InvalidChangeError } from "./errors.js";
import type { JsonValue } from "./types.js";

/** Deeper than any sane record; also turns a cyclic value into an error instead of a stack overflow. */
const MAX_DEPTH = 256;

/**
 * Validates that `value` is plain JSON data and returns a deeply frozen copy. Being strict here
 * (rather than letting JSON.stringify silently turn a Date into a string or drop a function) means
 * what `get` returns after a restart is exactly what was committed.
 */
export function frozenJsonCopy(value: unknown, where: string): JsonValue {
  return copy(value, where, 0);
}

function copy(value: unknown, path: string, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new InvalidChangeError(`${path}: nested too deeply (or cyclic)`);
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value))
        throw new InvalidChangeError(`${path}: ${value} is not representable in JSON`);
      return value;
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const out: JsonValue[] = [];
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || value[i] === undefined) {
            throw new InvalidChangeError(`${path}[${i}]: arrays cannot hold undefined or holes`);
          }
          out.push(copy(value[i], `${path}[${i}]`, depth + 1));
        }
        return Object.freeze(out) as JsonValue;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        const kind = (value as object).constructor?.name ?? "object";
        throw new InvalidChangeError(`${path}: ${kind} is not plain JSON data`);
      }
      const entries: [string, JsonValue][] = [];
      for (const [key, item] of Object.entries(value)) {
        // Like JSON, an undefined property means "absent": convenient for optional fields.
        if (item !== undefined) entries.push([key, copy(item, `${path}.${key}`, depth + 1)]);
      }
      // fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
      return Object.freeze(Object.fromEntries(entries));
    }
    default:
      throw new InvalidChangeError(`${path}: ${typeof value} is not representable in JSON`);
  }
}

/** Strings longer than this are rarely equal across records (sealed values, long messages). */
const MAX_POOLED_LENGTH = 96;
/** Bounds the pool: it costs at most a few MiB. */
const MAX_POOLED = 65_536;

/**
 * Shares equal short strings among the values one load reads (issue 14: RSS at 100,000
 * instances). Every record repeats plan and service ids, statuses, steps, timestamps and input
 * values, and JSON.parse makes each its own string: sharing them took the heap of 100,000
 * instance records from 213 to ~130 MiB. The pool keeps the first of each string it sees and
 * hands it out for the equal ones after; when full it starts afresh, so the unique strings
 * (record ids) it also sees never pile up.
 */
export class StringPool {
  #strings = new Map<string, string>();

  share(value: string): string {
    if (value.length > MAX_POOLED_LENGTH) return value;
    const first = this.#strings.get(value);
    if (first !== undefined) return first;
    if (this.#strings.size >= MAX_POOLED) this.#strings = new Map();
    this.#strings.set(value, value);
    return value;
  }
}

/**
 * Freezes a freshly parsed JSON value in place (values read from disk need no copy), replacing
 * its strings with `pool`'s equal ones when given.
 */
export function deepFreeze<T>(value: T, pool?: StringPool): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  const items = value as Record<string, unknown>;
  for (const key of Object.keys(items)) {
    const item = items[key];
    if (typeof item === "string") {
      if (pool) items[key] = pool.share(item);
    } else deepFreeze(item, pool);
  }
  Object.freeze(value);
  return value;
}
