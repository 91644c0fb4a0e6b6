import { findDiscrepancies } from "../../broker/instances/orphans.js";
import { INSTANCES, type InstanceRecord } from "../../broker/model/records.js";
import { ConfigError } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { resolveConnectionSettings } from "../../config/runtime.js";
import { createLogger } from "../../log/logger.js";
import { CloudifyConnection } from "../../server/cloudify-connection.js";
import { postgresOptions } from "../../server/state-backend.js";
import { readPostgresState, readStateDir } from "../../state/index.js";
import { configPath, parseCommandArgs } from "../args.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";

/**
 * `cfy-broker orphans`: deployments labelled as the broker's that no live instance owns, and
 * provisioned instances whose deployment is gone. Read-only (safe while the broker runs);
 * exits 1 when it finds any, so it can run from cron or CI.
 */
export async function orphansCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("orphans", args, { state: { type: "string" } });
  // Only the Cloudify connection and the state must resolve: platform credentials and
  // encryption keys are not needed (records are read, never opened).
  const { loaded, issues } = await loadConfig(configPath(values), { mode: "connect" });
  if (!loaded) throw new ConfigError(issues);
  const resolved = await resolveConnectionSettings(loaded.config, loaded.source, loaded.file);
  if (!resolved.settings) throw new ConfigError(resolved.issues);
  const { postgres, stateDir, cloudify } = resolved.settings;
  // The configured store (a --state DIR overrides it, as for serve).
  const state =
    postgres && values.state === undefined
      ? await readPostgresState(postgresOptions(postgres))
      : await readStateDir(values.state ?? stateDir);
  const instances = Object.values(state[INSTANCES] ?? {}) as unknown as InstanceRecord[];
  const connection = new CloudifyConnection(cloudify, createLogger({ level: "warn" }));
  try {
    const found = await findDiscrepancies(connection.port, instances);
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return found.length ? EXIT_INVALID : EXIT_OK;
  } finally {
    await connection.close();
  }
}
