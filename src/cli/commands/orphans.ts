import { findDiscrepancies } from "../../broker/orphans.js";
import { INSTANCES, type InstanceRecord } from "../../broker/records.js";
import { formatIssue } from "../../config/issues.js";
import { ConfigReadError, loadConfig } from "../../config/load.js";
import { createLogger } from "../../log/logger.js";
import { connectCloudify } from "../../server/cloudify-connection.js";
import { readStateDir } from "../../state/index.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.js";

/**
 * `cfy-broker orphans`: deployments labelled as the broker's that no live instance owns, and
 * provisioned instances whose deployment is gone. Read-only (safe while the broker runs);
 * exits 1 when it finds any, so it can run from cron or CI.
 */
export async function orphansCommand(args: string[]): Promise<number> {
  let file: string;
  let stateDir: string | undefined;
  try {
    const { values } = parseCommandArgs("orphans", args, { state: { type: "string" } });
    file = configPath(values);
    stateDir = values.state;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT_USAGE;
  }
  let loaded: Awaited<ReturnType<typeof loadConfig>>["loaded"];
  try {
    const result = await loadConfig(file, { mode: "serve" });
    loaded = result.loaded;
    if (!loaded?.runtime) {
      for (const issue of result.issues) process.stderr.write(`${formatIssue(issue)}\n`);
      return EXIT_INVALID;
    }
  } catch (error) {
    if (error instanceof ConfigReadError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  const state = await readStateDir(stateDir ?? loaded.runtime.stateDir);
  const instances = Object.values(state[INSTANCES] ?? {}) as unknown as InstanceRecord[];
  const { client, port } = connectCloudify(loaded.runtime.cloudify, createLogger({ level: "warn" }));
  try {
    const found = await findDiscrepancies(port, instances);
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return found.length ? EXIT_INVALID : EXIT_OK;
  } finally {
    await client.close();
  }
}
