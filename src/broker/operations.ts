import type { StateStore } from "../state/index.js";
import { newOperationId } from "./ids.js";
import type { Operation, OperationType } from "./records.js";

/** A new operation in progress at `step`, failing if unfinished after `limitSeconds`. */
export function startOperation(
  type: OperationType,
  step: string,
  fingerprint: string,
  limitSeconds: number,
  now: number,
): Operation {
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
