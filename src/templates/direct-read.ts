import type { Analysis } from "./analyze.js";

/**
 * Most deployment-input templates are a single variable, `{{parameters.size}}`. Running those through the
 * Handlebars runtime costs a few microseconds and a few dozen allocations per render (it re-wraps every
 * registered helper on each call), so they are read directly instead, with the same lookup rules
 * Handlebars applies (runtime.js lookupProperty with the default prototype-access controls):
 * - a null/undefined step ends the walk with that value (so `a.b` with a = null is null, not missing);
 * - only own properties are read (inherited ones, e.g. `toString`, are undefined).
 * Prototype-reaching segments such as `constructor` never get here: the analyzer rejects them.
 */

export function readPath(root: unknown, parts: readonly string[]): unknown {
  let current = root;
  for (const part of parts) {
    if (current === null || current === undefined) return current;
    const value = (current as Record<string, unknown>)[part];
    current =
      value === null || value === undefined || Object.hasOwn(current as object, part) ? value : undefined;
  }
  return current;
}

export interface DirectRead {
  /** Segments to read from the context. */
  parts: readonly string[];
  /** The variable as written, for the "not set" error. */
  variable: string;
}

/** How to read a single-variable template directly, if it is one. */
export function directRead(analysis: Analysis): DirectRead | undefined {
  const single = analysis.singleExpression;
  if (!single || !analysis.plainVariables.has(single) || single.path.type !== "PathExpression")
    return undefined;
  const path = single.path;
  // Top level: no block parameters; `../` has nowhere to go, which Handlebars resolves differently.
  if (path.depth !== 0) return undefined;
  if (!path.data) return { parts: path.parts, variable: path.original };
  return path.parts[0] === "root" ? { parts: path.parts.slice(1), variable: path.original } : undefined;
}
