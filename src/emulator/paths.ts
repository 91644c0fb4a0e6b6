import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAME = "cloudify-osb-broker";

/**
 * The package root, found by walking up from this module: the same code runs from `src/` (tsx) and
 * `dist/src/` (built), so a fixed number of `..` would be wrong in one of them.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, "utf8")).name === PACKAGE_NAME) return dir;
      } catch {
        // Not our manifest; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot locate the ${PACKAGE_NAME} package root`);
    dir = parent;
  }
}

/** The blueprint catalogue shipped with the package (`emulator/blueprints.yaml`). */
export function shippedBlueprintsPath(): string {
  return join(packageRoot(), "emulator", "blueprints.yaml");
}
