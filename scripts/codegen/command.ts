import { parseCommandArgs } from "../../src/cli/args.js";
import { EXIT_INVALID, EXIT_OK } from "../../src/cli/exit-codes.js";
import { runCodegen } from "./codegen.js";

/** `cfy-broker codegen [--check]`: regenerate generated/, or only report stale files. */
export async function codegenCommand(args: string[]): Promise<number> {
  const check = parseCommandArgs("codegen", args, { check: { type: "boolean" } }).values.check === true;
  const stale = await runCodegen({ check });
  for (const path of stale) process.stderr.write(`${check ? "stale" : "wrote"} ${path}\n`);
  if (check && stale.length) {
    process.stderr.write("generated/ is out of date: run `npm run codegen` and commit the result\n");
    return EXIT_INVALID;
  }
  return EXIT_OK;
}
