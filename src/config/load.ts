import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { BrokerConfig } from "../../generated/broker-config.js";
import { type CompiledCatalog, compileCatalog } from "./compile-catalog.js";
import { interpolateEnv } from "./env.js";
import { type ConfigIssue, ConfigReadError, hasErrors, pathToString } from "./issues.js";
import { type RuntimeSettings, resolveRuntimeSettings } from "./runtime.js";
import { validateAgainstSchema } from "./schema-validation.js";
import { checkSemantics } from "./semantics.js";
import { ConfigSource } from "./source.js";

export interface LoadOptions {
  /**
   * `validate`: unset environment variables are warnings (CI rarely holds the secrets) and
   * secrets are not read. `serve`: everything must resolve, secret files are read.
   */
  mode: "validate" | "serve";
  env?: NodeJS.ProcessEnv;
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
  const parsed = ConfigSource.parse(file, text);
  const issues = [...parsed.issues];
  if (hasErrors(issues)) return { issues };
  const { source } = parsed;

  const interpolated = interpolateEnv(
    parsed.value,
    source,
    env,
    options.mode === "serve" ? "error" : "warning",
  );
  issues.push(...interpolated.issues);

  // A value left empty by an unset variable is already reported; do not report it twice.
  const schemaIssues = validateAgainstSchema(interpolated.value, source, interpolated.interpolated).filter(
    (issue) => !interpolated.unresolved.has(issue.path),
  );
  issues.push(...schemaIssues);
  if (schemaIssues.length) {
    issues.push(...checksDespiteSchemaErrors(interpolated.value, source, schemaIssues));
    return { issues: sortIssues(issues) };
  }

  const config = interpolated.value as BrokerConfig;
  issues.push(...checkSemantics(config, source));
  const { catalog, issues: compileIssues } = compileCatalog(config, source);
  issues.push(...compileIssues);

  let runtime: RuntimeSettings | undefined;
  if (options.mode === "serve" && !hasErrors(issues)) {
    const resolved = await resolveRuntimeSettings(config, catalog, source, path);
    issues.push(...resolved.issues);
    runtime = resolved.settings;
  }
  if (hasErrors(issues)) return { issues: sortIssues(issues) };
  return { loaded: { file: path, config, catalog, source, runtime }, issues: sortIssues(issues) };
}

/**
 * With schema errors the config cannot be used, but users should not fix it in two rounds:
 * the semantic and template checks still run on every service whose own subtree passed the
 * schema (indices unchanged, so positions stay exact). Best effort: a shape the checks do
 * not expect elsewhere in the file just ends this pass.
 */
function checksDespiteSchemaErrors(
  value: unknown,
  source: ConfigSource,
  schemaIssues: ConfigIssue[],
): ConfigIssue[] {
  const services = (value as { services?: unknown } | undefined)?.services;
  if (!Array.isArray(services)) return [];
  const broken = new Set<number>();
  for (const issue of schemaIssues) {
    const index = /^services\[(\d+)\]/.exec(issue.path)?.[1];
    if (index !== undefined) broken.add(Number(index));
    else if (issue.path === "services" || issue.path === "") return [];
  }
  const include = (i: number) => !broken.has(i);
  // The broker/cloudify sections may be the broken part: check the services only.
  const servicesOnly = { services, broker: {} } as unknown as BrokerConfig;
  try {
    return [
      ...checkSemantics(servicesOnly, source, include),
      ...compileCatalog(servicesOnly, source, include).issues,
    ];
  } catch {
    return [];
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

export { ConfigReadError, pathToString };
