import { createInterface } from "node:readline/promises";
import {
  BINDINGS,
  type BindingRecord,
  INSTANCES,
  type InstanceRecord,
  type Operation,
} from "../../broker/model/records.js";
import { bindingStatusAfter } from "../../broker/operations/binding-machines.js";
import { instanceStatusAfter } from "../../broker/operations/instance-machines.js";
import { ConfigError } from "../../config/issues.js";
import { loadConfig } from "../../config/load.js";
import { resolveConnectionSettings } from "../../config/runtime.js";
import { createLogger } from "../../log/logger.js";
import { CloudifyConnection } from "../../server/cloudify-connection.js";
import type { StateExport, StateStore } from "../../state/index.js";
import { configPath, parseCommandArgs, UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.js";
import { openStopped, readState, stateLocation } from "../state-location.js";
import { age, table } from "../table.js";

/** An operation still in progress after this long is reported by --stuck (default). */
const STUCK_AFTER_MINUTES = 60;
/** Transient failures in a row after which an operation counts as stuck. */
const STUCK_ATTEMPTS = 5;

interface Row {
  kind: "instance" | "binding";
  id: string;
  instanceId: string;
  operation: Operation;
  stuck?: string;
}

/**
 * `cfy-broker operations`: operations in progress, `--stuck` those that look stuck, and the
 * ways out: `fail ID --reason TEXT` ends an operation the engine cannot finish (the platform
 * then sees it failed and may retry or deprovision), `purge ID` forgets an instance whose
 * deployment is gone from Cloudify. Listing is read-only beside a running broker; fail and
 * purge change the state, so the broker must be stopped (a locked directory refuses).
 */
export async function operationsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "operations",
    args,
    {
      state: { type: "string" },
      stuck: { type: "boolean" },
      "older-than": { type: "string" },
      json: { type: "boolean" },
      fail: { type: "string" },
      purge: { type: "string" },
      reason: { type: "string" },
      yes: { type: "boolean", short: "y" },
    },
    2,
  );
  const [sub, id] = positionals;
  const file = configPath(values);
  const log = createLogger({ level: "warn", destination: process.stderr });
  if (sub === "fail" || values.fail !== undefined) {
    const target = values.fail ?? id;
    if (!target) throw new UsageError("cfy-broker operations fail: give the instance or binding id");
    if (!values.reason)
      throw new UsageError("cfy-broker operations fail: --reason TEXT is required (the platform shows it)");
    return failOperation(file, values.state, target, values.reason, values.yes === true, log);
  }
  if (sub === "purge" || values.purge !== undefined) {
    const target = values.purge ?? id;
    if (!target) throw new UsageError("cfy-broker operations purge: give the instance id");
    return purgeInstance(file, values.state, target, values.yes === true, log);
  }
  if (sub !== undefined && sub !== "list")
    throw new UsageError(`cfy-broker operations: unknown subcommand "${sub}"`);

  const olderThan = Number(values["older-than"] ?? STUCK_AFTER_MINUTES);
  if (!(olderThan >= 0))
    throw new UsageError("cfy-broker operations: --older-than must be a number of minutes");
  const state = await readState(await stateLocation(file, values.state), log);
  const now = Date.now();
  let rows = inProgress(state).map((row) => ({ ...row, stuck: stuckReason(row.operation, now, olderThan) }));
  if (values.stuck) rows = rows.filter((row) => row.stuck);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify(
        rows.map((r) => ({
          kind: r.kind,
          id: r.id,
          instance_id: r.instanceId,
          type: r.operation.type,
          step: r.operation.step,
          operation_id: r.operation.id,
          started_at: r.operation.startedAt,
          updated_at: r.operation.updatedAt,
          deadline: r.operation.deadline,
          attempts: r.operation.attempts,
          execution_id: r.operation.executionId,
          description: r.operation.description,
          ...(r.stuck ? { stuck: r.stuck } : {}),
        })),
        null,
        2,
      )}\n`,
    );
  } else {
    process.stdout.write(
      table(
        ["KIND", "ID", "OPERATION", "STEP", "STARTED", "ATTEMPTS", "STUCK"],
        rows.map((r) => [
          r.kind,
          r.id,
          r.operation.type,
          r.operation.step,
          `${age(r.operation.startedAt, now)} ago`,
          String(r.operation.attempts),
          r.stuck ?? "",
        ]),
      ),
    );
  }
  // Like `orphans`: finding stuck operations is exit 1, so cron and CI can alert on it.
  return values.stuck && rows.length ? EXIT_INVALID : EXIT_OK;
}

function inProgress(state: StateExport): Row[] {
  const rows: Row[] = [];
  for (const record of Object.values(state[INSTANCES] ?? {}) as unknown as InstanceRecord[])
    if (record.operation.state === "in progress")
      rows.push({ kind: "instance", id: record.id, instanceId: record.id, operation: record.operation });
  for (const record of Object.values(state[BINDINGS] ?? {}) as unknown as BindingRecord[])
    if (record.operation?.state === "in progress")
      rows.push({
        kind: "binding",
        id: record.id,
        instanceId: record.instanceId,
        operation: record.operation,
      });
  return rows.sort((a, b) => a.operation.startedAt.localeCompare(b.operation.startedAt));
}

function stuckReason(operation: Operation, now: number, olderThanMinutes: number): string | undefined {
  if (now > Date.parse(operation.deadline)) return "past its deadline";
  if (operation.attempts >= STUCK_ATTEMPTS) return `${operation.attempts} failed attempts in a row`;
  if (now - Date.parse(operation.startedAt) > olderThanMinutes * 60_000)
    return `running for more than ${olderThanMinutes} min`;
  return undefined;
}

/** Asks on the terminal; without one, only --yes confirms. */
async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new UsageError(`${question}: no terminal to ask on; add --yes to confirm`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function failOperation(
  file: string,
  state: string | undefined,
  id: string,
  reason: string,
  yes: boolean,
  log: ReturnType<typeof createLogger>,
): Promise<number> {
  const where = await stateLocation(file, state);
  const store = await openStopped(where, log);
  try {
    const instance = store.get<InstanceRecord>(INSTANCES, id);
    const binding = instance ? undefined : store.get<BindingRecord>(BINDINGS, id);
    const record = instance ?? binding;
    if (!record) throw new UsageError(`cfy-broker operations fail: no instance or binding ${id}`);
    const operation = record.operation;
    if (operation?.state !== "in progress") {
      process.stderr.write(`cfy-broker operations fail: ${id} has no operation in progress\n`);
      return EXIT_INVALID;
    }
    const what = `${instance ? "instance" : "binding"} ${id}: ${operation.type} (step ${operation.step})`;
    if (!(await confirm(`Mark ${what} failed`, yes))) return EXIT_INVALID;
    const now = new Date().toISOString();
    const failed: Operation = {
      ...operation,
      state: "failed",
      description: `failed by an operator: ${reason}`,
      updatedAt: now,
      finishedAt: now,
      pendingStart: undefined,
      notBefore: undefined,
    };
    const value = instance
      ? instanceStatusAfter({ ...instance, operation: failed }, failed)
      : bindingStatusAfter({ ...binding!, operation: failed }, failed);
    await store.commit([
      { type: "put", collection: instance ? INSTANCES : BINDINGS, id, value: strip(value) },
    ]);
    process.stderr.write(`${what}: failed (status now ${value.status})\n`);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

async function purgeInstance(
  file: string,
  state: string | undefined,
  id: string,
  yes: boolean,
  log: ReturnType<typeof createLogger>,
): Promise<number> {
  // The deployment must really be gone: this needs the Cloudify connection of broker.yaml
  // (only that: no platform credentials or encryption keys).
  const { loaded, issues } = await loadConfig(file, { mode: "connect" });
  if (!loaded) throw new ConfigError(issues);
  const resolved = await resolveConnectionSettings(loaded.config, loaded.source, loaded.file);
  if (!resolved.settings) throw new ConfigError(resolved.issues);
  const where = await stateLocation(file, state);
  const store: StateStore = await openStopped(where, log);
  const connection = new CloudifyConnection(resolved.settings.cloudify, log);
  try {
    const instance = store.get<InstanceRecord>(INSTANCES, id);
    if (!instance) throw new UsageError(`cfy-broker operations purge: no instance ${id}`);
    const deployment = await connection.port.getDeployment(instance.deploymentId);
    if (deployment) {
      process.stderr.write(
        `cfy-broker operations purge: deployment ${instance.deploymentId} of instance ${id} still exists in Cloudify; deprovision the instance, or delete the deployment in Cloudify first\n`,
      );
      return EXIT_INVALID;
    }
    const bindings = store
      .list<BindingRecord>(BINDINGS)
      .filter((b) => b.value.instanceId === id)
      .map((b) => b.id);
    const what = `instance ${id} (${instance.status}, deployment ${instance.deploymentId} is gone) and its ${bindings.length} binding(s)`;
    if (!(await confirm(`Forget ${what}`, yes))) return EXIT_INVALID;
    await store.commit([
      { type: "delete", collection: INSTANCES, id },
      ...bindings.map((b) => ({ type: "delete" as const, collection: BINDINGS, id: b })),
    ]);
    process.stderr.write(`forgot ${what}\n`);
    return EXIT_OK;
  } finally {
    await connection.close();
    await store.close();
  }
}

/** Records are plain JSON: no undefined members. */
function strip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
