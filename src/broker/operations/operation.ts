import type { CompiledPlan } from "../../config/compile-catalog.js";
import type { StateStore } from "../../state/index.js";
import { newOperationId } from "../model/ids.js";
import type { Operation, OperationType, StepName } from "../model/records.js";
import type { OperationEngine } from "./operation-engine.js";

/**
 * A new operation in progress at `step`. It fails if unfinished after the plan's
 * maximum_polling_duration (OSB A9), or the broker's default when the plan sets none.
 */
export function startOperation(
  type: OperationType,
  step: StepName,
  fingerprint: string,
  plan: CompiledPlan | undefined,
  defaultTimeoutSeconds: number,
  now: number,
): Operation {
  const limitSeconds = plan?.config.maximum_polling_duration ?? defaultTimeoutSeconds;
  const at = new Date(now).toISOString();
  return {
    id: newOperationId(type),
    type,
    state: "in progress",
    step,
    fingerprint,
    attempts: 0,
    startedAt: at,
    updatedAt: at,
    deadline: new Date(now + limitSeconds * 1000).toISOString(),
  };
}

interface Tombstone {
  status: string;
  deletedAt?: string;
  operation: Operation;
}

function deletedAt(record: Tombstone): number {
  return Date.parse(record.deletedAt ?? record.operation.updatedAt);
}

/**
 * Whether a deleted resource still answers last_operation with `succeeded` (OSB A8, X7:
 * platforms poll again after an async delete finished), rather than 410.
 */
export function tombstoneAnswers(record: Tombstone, now: number, tombstoneSeconds: number): boolean {
  return now - deletedAt(record) < tombstoneSeconds * 1000;
}

/** Forgets tombstones deleted before `before` (ms); returns how many. */
export async function purgeTombstones(
  store: StateStore,
  collection: string,
  before: number,
): Promise<number> {
  const expired = store
    .list<Tombstone>(collection)
    .filter(({ value }) => value.status === "deleted" && deletedAt(value) < before);
  if (expired.length) await store.commit(expired.map(({ id }) => ({ type: "delete", collection, id })));
  return expired.length;
}

/** Durable before the request is answered; then the engine starts on it at once. */
export async function saveAndRun<R extends { id: string; operation: Operation }>(
  store: StateStore,
  engine: OperationEngine,
  collection: string,
  record: R,
): Promise<void> {
  await store.commit([{ type: "put", collection, id: record.id, value: record }]);
  void engine.kick(collection, record.id);
}
