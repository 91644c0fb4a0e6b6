import { ConfigError } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { renderCatalog } from "../../osb/catalog.js";
import { configPath, parseCommandArgs } from "../args.js";
import { cliDerivedSchemas } from "../derived-schemas.js";
import { EXIT_OK } from "../exit-codes.js";

/**
 * `cfy-broker catalog`: the catalog JSON the broker serves for this config, rendered by the
 * server's own function. Plans that derive parameter schemas from blueprint inputs get them
 * from a state directory's cache (`--state`) or from the manager (`--cloudify`), as the server
 * does; without either, stderr says which plans go without and why. `--compact` prints the
 * served bytes exactly (GET /v2/catalog's body); the default indents them.
 */
export async function catalogCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "catalog",
    args,
    { state: { type: "string" }, cloudify: { type: "boolean" }, compact: { type: "boolean" } },
    1,
  );
  const file = configPath(values, positionals[0]);
  const { loaded, issues } = await loadConfig(file, { mode: "validate" });
  if (!loaded) throw new ConfigError(issues);
  const derived = await cliDerivedSchemas(file, loaded.catalog, {
    state: values.state,
    cloudify: values.cloudify,
  });
  for (const line of derived.omitted) process.stderr.write(`${line}\n`);
  const catalog = renderCatalog(loaded.catalog, derived.forPlan);
  process.stdout.write(`${values.compact ? JSON.stringify(catalog) : JSON.stringify(catalog, null, 2)}\n`);
  return EXIT_OK;
}
