import { checkPlanExamples } from "../../broker/catalog/plan-examples.js";
import { checkBlueprintsExist, checkUnfedInputs } from "../../broker/catalog/unfed-inputs.js";
import { formatIssue, hasErrors } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { configPath, parseCommandArgs } from "../args.js";
import { cliDerivedSchemas } from "../derived-schemas.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";

/**
 * `cfy-broker validate [file]`: every problem as `file:line:column: severity: message (path)`.
 * Unset environment variables are warnings here, since CI rarely holds the secrets.
 */
export async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "validate",
    args,
    { json: { type: "boolean" }, state: { type: "string" }, cloudify: { type: "boolean" } },
    1,
  );
  const file = configPath(values, positionals[0]);
  const json = values.json === true;
  const loaded = await loadConfig(file, { mode: "validate" });
  const issues = [...loaded.issues];
  if (loaded.loaded) {
    // Examples are checked against the schemas the broker would apply: with --state or
    // --cloudify those derived from blueprint inputs too.
    const { catalog, source } = loaded.loaded;
    const derived =
      values.state || values.cloudify
        ? await cliDerivedSchemas(file, catalog, {
            state: values.state,
            cloudify: values.cloudify,
            allBlueprints: true,
          })
        : undefined;
    issues.push(...checkPlanExamples(catalog, source, derived?.forPlan));
    // With the blueprints' inputs at hand: required inputs that no provision would give.
    if (derived) issues.push(...checkUnfedInputs(catalog, source, derived.inputsOf, derived.forPlan));
    // With --cloudify: a plan whose blueprint the manager does not have could never provision.
    if (derived) issues.push(...checkBlueprintsExist(catalog, source, derived.unavailable));
  } else if (loaded.partial) {
    // An invalid file: its examples are still checked (statically), so no error waits for the next run.
    const { catalog, source, scope } = loaded.partial;
    issues.push(...checkPlanExamples(catalog, source, undefined, scope));
  }
  issues.sort((a, b) => a.line - b.line || a.column - b.column);
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
