/** Public API of the Cloudify Manager emulator. */
export { type Fault, type FaultSpec, parseFaultSpec } from "./faults.js";
export { type BlueprintDef, type Catalogue, loadCatalogueFile, parseCatalogue } from "./model/blueprints.js";
export { shippedBlueprintsPath } from "./paths.js";
export {
  type EmulatorHandle,
  type EmulatorOptions,
  type EmulatorState,
  type EmulatorUser,
  type ExecutionHistoryEntry,
  type NodeInstanceSnapshot,
  type RequestFilter,
  type RequestRecord,
  startEmulator,
} from "./server.js";
export { DEFAULT_TIMINGS, type EmulatorTimings } from "./timings.js";
