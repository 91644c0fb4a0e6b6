import type { Logger } from "../src/log/logger.js";
import type { Engine } from "./engine/execution-engine.js";
import type { Faults } from "./faults.js";
import type { Store } from "./state/store.js";
import type { EmulatorTimings } from "./timings.js";

/** Everything a route handler may touch. */
export interface App {
  store: Store;
  engine: Engine;
  faults: Faults;
  timings: EmulatorTimings;
  log: Logger;
  version: { version: string; edition: string };
  /** A sync PUT /deployments gives up (500) after this long, like the manager's 120 polls. */
  syncCreateTimeoutMs: number;
}
