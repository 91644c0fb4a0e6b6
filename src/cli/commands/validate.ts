import { formatIssue, hasErrors } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { configPath, parseCommandArgs } from "../args.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";

/**
 * `cfy-broker validate [file]`: every problem as `file:line:column: severity: message (path)`.
 * Unset environment variables are warnings here, since CI rarely holds the secrets.
 */
export async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("validate", args, { json: { type: "boolean" } }, 1);
  const file = configPath(values, positionals[0]);
  const json = values.json === true;
  const { issues } = await loadConfig(file, { mode: "validate" });
  if (json) process.stdout.write(`${JSON.stringify({ valid: !hasErrors(issues), issues }, null, 2)}\n`);
  else {
    for (const issue of issues) process.stderr.write(`${formatIssue(issue)}\n`);
    const errors = issues.filter((i) => i.severity === "error").length;
    const warnings = issues.length - errors;
    process.stderr.write(
      errors
        ? `${file}: invalid, ${errors} error(s), ${warnings} warning(s)\n`
        : `${file}: valid${warnings ? `, ${warnings} warning(s)` : ""}\n`,
    );
  }
  return hasErrors(issues) ? EXIT_INVALID : EXIT_OK;
}
