import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The blueprint catalogue that lives beside the emulator's code (`emulator/blueprints.yaml`). */
export function shippedBlueprintsPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "blueprints.yaml");
}
