import { runCodegen } from "../../codegen/codegen.js";
import { parseCommandArgs, UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.js";

/** `cfy-broker codegen [--check]`: regenerate generated/, or only report stale files. */
export async function codegenCommand(args: string[]): Promise<number> {
  let check: boolean;
  try {
    check = parseCommandArgs("codegen", args, { check: { type: "boolean" } }).values.check === true;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT_USAGE;
  }
  const stale = await runCodegen({ check });
  for (const path of stale) process.stderr.write(`${check ? "stale" : "wrote"} ${path}\n`);
  if (check && stale.length) {
    process.stderr.write("generated/ is out of date: run `npm run codegen` and commit the result\n");
    return EXIT_INVALID;
  }
  return EXIT_OK;
}
