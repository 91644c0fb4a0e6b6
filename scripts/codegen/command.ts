import { parseCommandArgs } from "../../src/cli/args.js";
import { EXIT_INVALID, EXIT_OK } from "../../src/cli/exit-codes.js";
import { UndocumentedPropertiesError } from "./broker-yaml-docs.js";
import { runCodegen } from "./codegen.js";

/**
 * `cfy-broker codegen [--check]`: regenerate generated/ and docs/broker-yaml.md, or only report
 * stale files. A schema property without a description or example fails it (exit 1, each named).
 */
export async function codegenCommand(args: string[]): Promise<number> {
  const check = parseCommandArgs("codegen", args, { check: { type: "boolean" } }).values.check === true;
  let stale: string[];
  try {
    stale = await runCodegen({ check });
  } catch (error) {
    if (!(error instanceof UndocumentedPropertiesError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT_INVALID;
  }
  for (const path of stale) process.stderr.write(`${check ? "stale" : "wrote"} ${path}\n`);
  if (check && stale.length) {
    process.stderr.write(
      "generated/ or docs/broker-yaml.md is out of date: run `npm run codegen` and commit the result\n",
    );
    return EXIT_INVALID;
  }
  return EXIT_OK;
}
