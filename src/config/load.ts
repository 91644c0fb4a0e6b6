import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { BrokerConfig } from "../../generated/broker-config.js";
import { letRequestsRun } from "../util/slices.js";
import { type CheckScope, EVERYTHING, scopeAround } from "./check-scope.js";
import { type CompiledCatalog, compileCatalog, compileCatalogInSlices } from "./compile-catalog.js";
import { interpolateEnv, interpolateEnvInSlices, type UnsetSeverity } from "./env.js";
import { type ConfigIssue, ConfigReadError, hasErrors, pathToString } from "./issues.js";
import { parseOffThread } from "./parse-off-thread.js";
import { type RuntimeSettings, resolveRuntimeSettings } from "./runtime.js";
import { validateAgainstSchema, validateCleanInSlices } from "./schema-validation.js";
import { checkSemantics } from "./semantics.js";
import { ConfigSource, type Path } from "./source.js";

export interface LoadOptions {
  /**
   * `validate`: unset environment variables are warnings (CI rarely holds the secrets) and
   * secrets are not read. `serve`: everything must resolve, secret files are read.
   */
  /**
   * `serve`: everything must resolve; `validate`: unset variables are warnings; `connect`: only
   * what reaches Cloudify and the state must resolve (`cloudify`, `broker.state`), for commands
   * such as `cfy-broker orphans` run where the platform credentials and keys are not set.
   */
  mode: "validate" | "serve" | "connect";
  env?: NodeJS.ProcessEnv;
  /**
   * A reload of a running broker: parse the YAML on a worker thread and let the event loop run
   * between the checks, so requests are served while a large file loads (issue 14).
   */
  offEventLoop?: boolean;
}

export interface LoadedConfig {
  file: string;
  config: BrokerConfig;
  catalog: CompiledCatalog;
  /** Where every value came from, to point at a template that fails when rendered. */
  source: ConfigSource;
  /** Present in serve mode only. */
  runtime?: RuntimeSettings;
}

export interface LoadResult {
  loaded?: LoadedConfig;
  issues: ConfigIssue[];
  /**
   * An invalid file's catalog as far as it could be compiled (without the plans a schema error
   * breaks), so `validate` can still check the plans' examples: every problem in one run.
   */
  partial?: { catalog: CompiledCatalog; source: ConfigSource; scope: CheckScope };
}

export async function loadConfig(file: string, options: LoadOptions): Promise<LoadResult> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigReadError(file, error);
  }
  return loadConfigText(file, text, options);
}

export async function loadConfigText(file: string, text: string, options: LoadOptions): Promise<LoadResult> {
  const env = options.env ?? process.env;
  const path = resolve(file);
  const elsewhere = options.offEventLoop ? await parseOffThread(text) : undefined;
  const parsed = elsewhere
    ? { source: ConfigSource.parsedElsewhere(file, text), value: elsewhere.value, issues: [] }
    : ConfigSource.parse(file, text);
  const breathe = options.offEventLoop ? letRequestsRun : async () => {};
  await breathe();
  const issues = [...parsed.issues];
  if (parsed.value === undefined && hasErrors(issues)) return { issues: sortIssues(issues) };
  const { source } = parsed;

  const unsetSeverity: UnsetSeverity =
    options.mode === "serve"
      ? "error"
      : options.mode === "connect"
        ? (at) => (/^(cloudify|broker\.state)\b/.test(at) ? "error" : "warning")
        : "warning";
  const interpolate = () =>
    options.offEventLoop
      ? interpolateEnvInSlices(parsed.value, source, env, unsetSeverity, letRequestsRun)
      : interpolateEnv(parsed.value, source, env, unsetSeverity);
  const interpolated = await interpolate();
  issues.push(...interpolated.issues);
  await breathe();

  // A reload validates in slices while nothing is to be reported; anything else (and startup,
  // validate) goes through the one validation that reports, on a value not coerced yet.
  let value = interpolated.value;
  const clean =
    options.offEventLoop && (await validateCleanInSlices(value, interpolated.interpolated, letRequestsRun));
  if (options.offEventLoop && !clean) value = (await interpolate()).value;
  const schema = clean
    ? { issues: [], broken: [] }
    : validateAgainstSchema(value, source, interpolated.interpolated);
  // A value left empty by an unset variable is already reported; do not report it twice.
  const unresolved = (path: string) => interpolated.unresolved.has(path);
  const schemaIssues = schema.issues.filter((issue) => !unresolved(issue.path));
  issues.push(...schemaIssues);
  if (schemaIssues.length) {
    const broken = schema.broken.filter((path) => !unresolved(pathToString(path)));
    const despite = checksDespiteSchemaErrors(value, source, broken);
    issues.push(...despite.issues);
    const partial = despite.catalog &&
      despite.scope && { catalog: despite.catalog, source, scope: despite.scope };
    return { issues: sortIssues(issues), partial };
  }

  const config = value as BrokerConfig;
  await breathe();
  issues.push(...checkSemantics(config, source));
  await breathe();
  const { catalog, issues: compileIssues } = options.offEventLoop
    ? await compileCatalogInSlices(config, source, letRequestsRun)
    : compileCatalog(config, source);
  issues.push(...compileIssues);
  await breathe();

  let runtime: RuntimeSettings | undefined;
  // The runtime settings (secret files, keys, state) are checked beside catalog errors, so that
  // serve lists every error in one run; not after an unset variable, whose empty value would
  // only be reported again (no usable credentials, no key).
  if (options.mode === "serve" && !hasErrors(interpolated.issues)) {
    const resolved = await resolveRuntimeSettings(config, catalog, source, path);
    issues.push(...resolved.issues);
    runtime = resolved.settings;
  }
  if (hasErrors(issues))
    return { issues: sortIssues(issues), partial: { catalog, source, scope: EVERYTHING } };
  return { loaded: { file: path, config, catalog, source, runtime }, issues: sortIssues(issues) };
}

/**
 * With schema errors the config cannot be used, but users should not fix it in two rounds:
 * the semantic and template checks still run on everything the schema errors leave intact
 * (what no check reads a bad value from; see scopeAround), with indices unchanged so positions
 * stay exact. Best effort: a shape the checks do not expect just ends this pass.
 */
function checksDespiteSchemaErrors(
  value: unknown,
  source: ConfigSource,
  broken: Path[],
): { issues: ConfigIssue[]; catalog?: CompiledCatalog; scope?: CheckScope } {
  const document = value as { services?: unknown; broker?: unknown } | undefined;
  const scope = scopeAround(broken);
  if (!scope || !Array.isArray(document?.services)) return { issues: [] };
  // The broker/cloudify sections may be the broken part: then check the services only.
  const brokerIntact = !broken.some((path) => path[0] === "broker");
  const partial = {
    services: withoutBrokenProperties(document.services, scope),
    broker: brokerIntact && document.broker ? document.broker : {},
  } as unknown as BrokerConfig;
  try {
    const semantic = checkSemantics(partial, source, scope);
    const compiled = compileCatalog(partial, source, scope);
    return { issues: [...semantic, ...compiled.issues], catalog: compiled.catalog, scope };
  } catch {
    return { issues: [] };
  }
}

/** `services` with each plan's properties that `scope` says to check it without left out (copies; indices kept). */
function withoutBrokenProperties(services: unknown[], scope: CheckScope): unknown[] {
  return services.map((service, s) => {
    const plans = (service as { plans?: unknown } | null)?.plans;
    if (!scope.plans(s) || !Array.isArray(plans)) return service;
    return {
      ...(service as object),
      plans: plans.map((plan, p) => {
        const without = scope.without(s, p);
        if (!without.length) return plan;
        const copy = { ...(plan as Record<string, unknown>) };
        for (const property of without) delete copy[property];
        return copy;
      }),
    };
  });
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

export { ConfigReadError, pathToString };
