import { renderCatalog } from "../../broker/catalog.js";
import { formatIssue } from "../../config/issues.js";
import { ConfigReadError, loadConfig } from "../../config/load.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.js";

/**
 * `cfy-broker catalog`: the catalog JSON the broker would serve for this config. Schemas
 * derived from blueprint inputs need Cloudify and appear only in the served catalog.
 */
export async function catalogCommand(args: string[]): Promise<number> {
  let file: string;
  try {
    const { values, positionals } = parseCommandArgs("catalog", args, {}, 1);
    file = configPath(values, positionals[0]);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT_USAGE;
  }
  try {
    const { loaded, issues } = await loadConfig(file, { mode: "validate" });
    if (!loaded) {
      for (const issue of issues) process.stderr.write(`${formatIssue(issue)}\n`);
      return EXIT_INVALID;
    }
    process.stdout.write(`${JSON.stringify(renderCatalog(loaded.catalog), null, 2)}\n`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof ConfigReadError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
