import { ConfigError } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { renderCatalog } from "../../osb/catalog.js";
import { configPath, parseCommandArgs } from "../args.js";
import { EXIT_OK } from "../exit-codes.js";

/**
 * `cfy-broker catalog`: the catalog JSON the broker would serve for this config. Schemas
 * derived from blueprint inputs need Cloudify and appear only in the served catalog.
 */
export async function catalogCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("catalog", args, {}, 1);
  const { loaded, issues } = await loadConfig(configPath(values, positionals[0]), { mode: "validate" });
  if (!loaded) throw new ConfigError(issues);
  process.stdout.write(`${JSON.stringify(renderCatalog(loaded.catalog), null, 2)}\n`);
  return EXIT_OK;
}
