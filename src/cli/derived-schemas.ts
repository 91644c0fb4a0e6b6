import {
  blueprintsToDerive,
  type CachedInputs,
  type DerivedPlanSchemas,
  deriveSchemas,
} from "../broker/catalog/blueprint-schemas.js";
import type { BlueprintInput } from "../broker/cloudify-port/port.js";
import { BLUEPRINT_CACHE } from "../broker/model/records.js";
import type { CompiledCatalog } from "../config/compile-catalog.js";
import { ConfigError } from "../config/issues.js";
import { loadConfig } from "../config/load.js";
import { resolveConnectionSettings } from "../config/runtime.js";
import { UsageError } from "./args.js";

export interface DerivedSource {
  /** A state directory whose blueprint-input cache is used (works while the broker runs). */
  state?: string;
  /** Fetch the blueprints' inputs from the configured manager. */
  cloudify?: boolean;
  /**
   * Also read the inputs of blueprints whose plans declare their schemas (`validate` checks
   * that every required input is given); by default only those that derive schemas.
   */
  allBlueprints?: boolean;
}

export interface CliDerivedSchemas {
  forPlan: (planId: string) => DerivedPlanSchemas | undefined;
  /** Blueprint inputs by blueprint id, where known. */
  inputsOf: (blueprintId: string) => Record<string, BlueprintInput> | undefined;
  /** Why a `from_blueprint` plan has no derived schemas, one line per plan. */
  omitted: string[];
  /**
   * With `cloudify`: each blueprint the manager does not have, or that could not be read from
   * it, with the reason (every plan's blueprint is checked when `allBlueprints` is set).
   */
  unavailable: Map<string, string>;
}

/**
 * Schemas that plans derive from blueprint inputs, as the broker would have them: from the
 * state's cache (`--state`), from the manager (`--cloudify`), or not at all. The same
 * derivation code the server uses (src/broker/blueprint-schemas.ts).
 */
export async function cliDerivedSchemas(
  file: string,
  catalog: CompiledCatalog,
  source: DerivedSource,
): Promise<CliDerivedSchemas> {
  if (source.state && source.cloudify) throw new UsageError("give either --state or --cloudify, not both");
  const derive = blueprintsToDerive(catalog);
  const blueprints = source.allBlueprints
    ? [...new Set([...derive, ...[...catalog.plansById.values()].map((plan) => plan.blueprintId)])]
    : derive;
  const inputs = new Map<string, Record<string, BlueprintInput>>();
  const why = new Map<string, string>();
  const unavailable = new Map<string, string>();
  if (source.state && blueprints.length) {
    // Loaded when asked for: `validate` without --state/--cloudify needs neither (startup time, issue 14).
    const { readStateDir } = await import("../state/index.js");
    const state = await readStateDir(source.state);
    const cache = state[BLUEPRINT_CACHE] ?? {};
    for (const id of blueprints) {
      const cached = cache[id] as unknown as CachedInputs | undefined;
      if (cached) inputs.set(id, cached.inputs);
      else if (derive.includes(id)) why.set(id, `blueprint ${id} is not in the cache of ${source.state}`);
    }
  } else if (source.cloudify && blueprints.length) {
    // Only the Cloudify connection must resolve (not platform credentials or keys).
    const { loaded, issues } = await loadConfig(file, { mode: "connect" });
    if (!loaded) throw new ConfigError(issues);
    const resolved = await resolveConnectionSettings(loaded.config, loaded.source, loaded.file);
    if (!resolved.settings) throw new ConfigError(resolved.issues);
    const [{ CloudifyConnection }, { createLogger }] = await Promise.all([
      import("../server/cloudify-connection.js"),
      import("../log/logger.js"),
    ]);
    const connection = new CloudifyConnection(resolved.settings.cloudify, createLogger({ level: "silent" }));
    const port = connection.port;
    try {
      for (const id of blueprints) {
        try {
          const found = await port.getBlueprintInputs(id);
          if (found) inputs.set(id, found);
          else why.set(id, `blueprint ${id} does not exist in Cloudify`);
        } catch (error) {
          why.set(id, `cannot read blueprint ${id} from Cloudify: ${port.classify(error).message}`);
        }
        const reason = why.get(id);
        if (reason) unavailable.set(id, reason);
      }
    } finally {
      await connection.close();
    }
  } else {
    for (const id of blueprints)
      why.set(id, "its blueprint's inputs are needed: give --state DIR or --cloudify");
  }
  const derived = deriveSchemas(catalog, (id) => inputs.get(id));
  const omitted: string[] = [];
  for (const service of catalog.services) {
    for (const plan of service.plans) {
      const reason = why.get(plan.blueprintId);
      const derives =
        plan.schemas.instanceCreate.kind === "blueprint" || plan.schemas.instanceUpdate.kind === "blueprint";
      if (reason && derives)
        omitted.push(
          `plan ${service.config.name}/${plan.name}: derived parameter schemas omitted: ${reason}`,
        );
    }
  }
  return { forPlan: (id) => derived.get(id), inputsOf: (id) => inputs.get(id), omitted, unavailable };
}
