import { InvalidChangeError } from "./errors.js";
import type { JsonValue } from "./types.js";

/** Deeper than any sane record; also turns a cyclic value into an error instead of a stack overflow. */
const MAX_DEPTH = 256;

/**
 * Validates that `value` is plain JSON data and returns a copy of it (the store freezes it when
 * it applies it: MemoryState.put). Being strict here (rather than letting JSON.stringify silently
 * turn a Date into a string or drop a function) means what `get` returns after a restart is
 * exactly what was committed.
 */
export function jsonCopy(value: unknown, where: string): JsonValue {
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
        return out;
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
      return Object.fromEntries(entries);
    }
    default:
      throw new InvalidChangeError(`${path}: ${typeof value} is not representable in JSON`);
  }
}

/**
 * Freezes a fresh JSON value in place (parsed from disk or copied from a commit) and returns
 * it. Given `like` (MemoryState.put passes the record's previous value, or else the collection's
 * latest record), the value shares what it has in common with `like` (issue 14: RSS at 100,000
 * instances): a string equal to the one at the same place is replaced by that one, and an object
 * or array equal to the one at the same place (same keys in the same order, each entry shared)
 * is replaced by it, so the result may be `like` itself or hold parts of it. Both are deeply
 * frozen, so nobody can tell. Records of one collection repeat plan and service ids, statuses,
 * steps, contexts, parameters and input values in the same places, and JSON.parse makes each its
 * own copy. Comparing with one neighbour costs no hashing, unlike a table of every string (which
 * cost a fifth of the load).
 */
export function deepFreeze<T>(value: T, like?: unknown): T {
  return shareWith(value, like) as T;
}

function shareWith(value: unknown, like: unknown): unknown {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  const items = value as Record<string, unknown>;
  const keys = Object.keys(items);
  const likeItems =
    typeof like === "object" && like !== null && Array.isArray(like) === Array.isArray(value)
      ? (like as Record<string, unknown>)
      : undefined;
  const likeKeys = likeItems ? Object.keys(likeItems) : undefined;
  let same = likeKeys?.length === keys.length;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    // Only the neighbour's own entries: an inherited member (constructor, __proto__) is none.
    const prior = likeItems && Object.hasOwn(likeItems, key) ? likeItems[key] : undefined;
    const item = items[key];
    let shared = item;
    // Equal strings compare equal whatever their storage, so an equal one is always written back.
    if (typeof item === "string") {
      if (item === prior) items[key] = shared = prior;
    } else {
      shared = shareWith(item, prior);
      if (shared !== item) items[key] = shared;
    }
    if (same && (shared !== prior || likeKeys![i] !== key)) same = false;
  }
  Object.freeze(value);
  return same ? like : value;
}
