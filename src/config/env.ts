import { setOwn } from "../util/own-property.js";
import { runAtOnce, runInSlices } from "../util/slices.js";
import type { ConfigIssue } from "./issues.js";
import { pathToString } from "./issues.js";
import type { ConfigSource, Path } from "./source.js";

/**
 * `${NAME}`, `${NAME:-default}`; `$${` is a literal `${`. Any other `${` matches with no name:
 * it is malformed (`${NAME:default}`, `${NAME`), reported instead of silently kept as text.
 */
const REFERENCE = /\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})?/g;

export interface InterpolationResult {
  value: unknown;
  issues: ConfigIssue[];
  /** Dotted paths of values that referenced an unset variable (left empty). */
  unresolved: Set<string>;
  /** Dotted paths of values with at least one reference replaced: only these may be type-coerced. */
  interpolated: Set<string>;
}

/**
 * Replaces environment references in every string of the document. Unset variables without a
 * default are warnings when merely validating (CI rarely holds the secrets) and errors when
 * the config is about to be used. The message names the variable, never a value.
 */
export function interpolateEnv(
  value: unknown,
  source: ConfigSource,
  env: NodeJS.ProcessEnv,
  unsetSeverity: UnsetSeverity,
): InterpolationResult {
  return runAtOnce(interpolationSteps(value, source, env, unsetSeverity));
}

/**
 * interpolateEnv for a running broker (a reload): the same walk in the same order (so the same
 * issues in the same order), paused with `pause` whenever it has run 10 ms on end.
 */
export function interpolateEnvInSlices(
  value: unknown,
  source: ConfigSource,
  env: NodeJS.ProcessEnv,
  unsetSeverity: UnsetSeverity,
  pause: () => Promise<void>,
): Promise<InterpolationResult> {
  return runInSlices(interpolationSteps(value, source, env, unsetSeverity), pause);
}

/** How grave an unset variable is: one severity, or one per place (dotted path). */
export type UnsetSeverity = ConfigIssue["severity"] | ((path: string) => ConfigIssue["severity"]);

/**
 * Containers less deep than this (the document, its sections, `services`, a service, its
 * `plans`) are walked one child per step; anything deeper (a plan) is one step.
 */
const STEP_DEPTH = 4;

function* interpolationSteps(
  value: unknown,
  source: ConfigSource,
  env: NodeJS.ProcessEnv,
  unsetSeverity: UnsetSeverity,
): Generator<void, InterpolationResult> {
  const severityAt = (path: string) =>
    typeof unsetSeverity === "function" ? unsetSeverity(path) : unsetSeverity;
  const issues: ConfigIssue[] = [];
  const unresolved = new Set<string>();
  const interpolated = new Set<string>();

  const visit = (node: unknown, path: Path): unknown => {
    if (typeof node === "string") {
      if (!node.includes("${")) return node;
      return node.replace(
        REFERENCE,
        (match: string, name: string | undefined, fallback: string | undefined, offset: number) => {
          if (match === "$${") return "${";
          if (name === undefined) {
            // Up to the first character that breaks the reference: what follows may be a secret.
            const head = node.slice(offset).match(/^\$\{[A-Za-z0-9_]*/)?.[0] ?? match;
            const text = node.length > offset + head.length ? `${head}${node[offset + head.length]}…` : head;
            issues.push(
              source.issue(
                "error",
                path,
                `malformed environment reference ${JSON.stringify(text)}: write \${NAME} or \${NAME:-default}, or $\${ for a literal \${`,
              ),
            );
            return match;
          }
          interpolated.add(pathToString(path));
          const set = env[name];
          if (set !== undefined && set !== "") return set;
          if (fallback !== undefined) return fallback;
          unresolved.add(pathToString(path));
          issues.push(
            source.issue(severityAt(pathToString(path)), path, `environment variable ${name} is not set`),
          );
          return "";
        },
      );
    }
    if (node === null || typeof node !== "object") return node;
    // One path array for the subtree, extended in place and read only synchronously above: a
    // copy per value was a tenth of validating 1,000 plans (issue 14).
    if (Array.isArray(node)) {
      const out: unknown[] = new Array(node.length);
      for (let index = 0; index < node.length; index++) {
        path.push(index);
        out[index] = visit(node[index], path);
        path.pop();
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(node)) {
      path.push(key);
      setOwn(out, key, visit((node as Record<string, unknown>)[key], path));
      path.pop();
    }
    return out;
  };

  // visit's walk, with a step after each child of a shallow container.
  function* walk(node: unknown, path: Path): Generator<void, unknown> {
    if (path.length >= STEP_DEPTH || node === null || typeof node !== "object") return visit(node, path);
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      for (let index = 0; index < node.length; index++) {
        out.push(yield* walk(node[index], [...path, index]));
        yield;
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      setOwn(out, key, yield* walk(child, [...path, key]));
      yield;
    }
    return out;
  }

  return { value: yield* walk(value, []), issues, unresolved, interpolated };
}
