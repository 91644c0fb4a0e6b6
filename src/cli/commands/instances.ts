import { INSTANCES, type InstanceRecord } from "../../broker/model/records.js";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../log/logger.js";
import { configPath, parseCommandArgs } from "../args.js";
import { EXIT_OK } from "../exit-codes.js";
import { readState, stateLocation } from "../state-location.js";
import { age, table } from "../table.js";

/**
 * `cfy-broker instances`: every service instance in the state, with its plan, status,
 * deployment and last operation. Read-only and lock-free (safe beside a running broker);
 * needs only the state's location (`--state`, or broker.state of broker.yaml), and uses
 * broker.yaml for plan names when it loads.
 */
export async function instancesCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("instances", args, {
    state: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  });
  const file = configPath(values);
  const where = await stateLocation(file, values.state);
  const state = await readState(where, createLogger({ level: "warn", destination: process.stderr }));
  const planName = await planNames(file);
  const instances = (Object.values(state[INSTANCES] ?? {}) as unknown as InstanceRecord[])
    .filter((i) => values.all || i.status !== "deleted")
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  if (values.json) {
    const rows = instances.map((i) => ({
      instance_id: i.id,
      service_id: i.serviceId,
      plan_id: i.planId,
      plan: planName(i.planId),
      status: i.status,
      deployment_id: i.deploymentId,
      maintenance_version: i.maintenanceVersion,
      created_at: i.createdAt,
      last_operation: {
        type: i.operation.type,
        state: i.operation.state,
        step: i.operation.step,
        started_at: i.operation.startedAt,
        updated_at: i.operation.updatedAt,
        description: i.operation.description,
      },
    }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_OK;
  }
  const now = Date.now();
  process.stdout.write(
    table(
      ["INSTANCE", "PLAN", "STATUS", "DEPLOYMENT", "LAST OPERATION", "AGE"],
      instances.map((i) => [
        i.id,
        planName(i.planId) ?? i.planId,
        i.status,
        i.deploymentId,
        `${i.operation.type} ${i.operation.state}${i.operation.state === "in progress" ? ` (${i.operation.step})` : ""}, ${age(i.operation.updatedAt, now)} ago`,
        age(i.createdAt, now),
      ]),
    ),
  );
  return EXIT_OK;
}

/** `service/plan` names from broker.yaml when it loads (without secrets), else nothing. */
async function planNames(file: string): Promise<(planId: string) => string | undefined> {
  try {
    const { loaded } = await loadConfig(file, { mode: "validate" });
    if (!loaded) return () => undefined;
    return (id) => {
      const plan = loaded.catalog.plansById.get(id);
      return plan ? `${plan.service.config.name}/${plan.name}` : undefined;
    };
  } catch {
    return () => undefined;
  }
}
