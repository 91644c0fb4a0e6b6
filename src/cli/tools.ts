import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../util/package-root.js";
import { EXIT_USAGE } from "./exit-codes.js";

/**
 * The emulator (`emulator/`) and codegen (`scripts/codegen/`) are development tools: they are not
 * compiled into dist/, not in the npm package and not in the image, and their dependencies are
 * devDependencies. From a checkout they run from their TypeScript sources through tsx (a
 * devDependency); a runtime install lacks both and says so in one line.
 *
 * The module path is computed, never a literal import, so `tsc` does not pull tool code into the
 * runtime build and no runtime command loads it.
 */
export type ToolCommand = (args: string[]) => Promise<number>;

export async function runTool(
  command: string,
  module: string,
  exported: string,
  args: string[],
): Promise<number> {
  const file = join(packageRoot(), module);
  const missing = () => {
    process.stderr.write(
      `cfy-broker ${command}: a development tool, available only in a source checkout after \`npm ci\` (not in a runtime install)\n`,
    );
    return EXIT_USAGE;
  };
  if (!existsSync(file)) return missing();
  // Running from the sources (vitest, tsx), TypeScript already loads; the built CLI registers tsx.
  if (!import.meta.url.endsWith(".ts")) {
    try {
      (await import("tsx/esm/api")).register();
    } catch {
      return missing();
    }
  }
  const loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const run = loaded[exported];
  if (typeof run !== "function") throw new Error(`${module} does not export ${exported}`);
  return (run as ToolCommand)(args);
}
