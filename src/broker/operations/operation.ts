import type { CompiledPlan } from "../../config/compile-catalog.js";
import type { RecordFilter, StateStore } from "../../state/index.js";
import { newOperationId } from "../model/ids.js";
import type { Operation, OperationType, StepName } from "../model/records.js";
import type { OperationEngine } from "./operation-engine.js";

/**
 * A new operation in progress at `step`. It fails if unfinished after the plan's
 * maximum_polling_duration (OSB A9), or the broker's default when the plan sets none.
 */
function startOperation(
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

/**
 * Records whose latest operation is in progress: what the engine's sweep, the busy checks and
 * the metrics look at. The store keeps this selection current, so none of them walks every
 * record (issue 14: a sweep over 100,000 records blocked the event loop for ~100 ms).
 */
export const IN_PROGRESS: RecordFilter = {
  name: "operation-in-progress",
  matches: (value) => (value as { operation?: Operation }).operation?.state === "in progress",
};

/** Deleted resources kept to answer last_operation for a while (see tombstoneAnswers). */
export const TOMBSTONES: RecordFilter = {
  name: "tombstone",
  matches: (value) => (value as { status?: string }).status === "deleted",
};

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
function tombstoneAnswers(record: Tombstone, now: number, tombstoneSeconds: number): boolean {
  return now - deletedAt(record) < tombstoneSeconds * 1000;
}

/** Forgets tombstones deleted before `before` (ms); returns how many. */
async function purgeTombstones(store: StateStore, collection: string, before: number): Promise<number> {
  const expired = store
    .select<Tombstone>(collection, TOMBSTONES)
    .filter(({ value }) => deletedAt(value) < before);
  if (expired.length) await store.commit(expired.map(({ id }) => ({ type: "delete", collection, id })));
  return expired.length;
}

/** The time the domain decides by (ms since the epoch); tests move their own. */
export type Clock = () => number;

interface Resource {
  status: string;
  deletedAt?: string;
  operation: Operation;
}

/**
 * What both services need of their operations, on one clock: new operations with their
 * deadline, the record of a resource that exists, and the tombstone rules (A8, X7).
 */
export class Operations<R extends Resource> {
  constructor(
    private readonly store: StateStore,
    private readonly collection: string,
    readonly now: Clock,
    private readonly settings: () => { defaultTimeoutSeconds: number; tombstoneSeconds: number },
  ) {}

  start(type: OperationType, step: StepName, print: string, plan: CompiledPlan | undefined): Operation {
    return startOperation(type, step, print, plan, this.settings().defaultTimeoutSeconds, this.now());
  }

  /** The record of a resource that exists (tombstones do not). */
  live(id: string): R | undefined {
    const record = this.store.get<R>(this.collection, id);
    return record && record.status !== "deleted" ? record : undefined;
  }

  /** Whether a tombstone still answers last_operation with `succeeded` (A8, X7), rather than 410. */
  tombstoneAnswers(record: R): boolean {
    return tombstoneAnswers(record, this.now(), this.settings().tombstoneSeconds);
  }

  /** Forgets tombstones that have answered long enough (their 410 period included). */
  purgeTombstones(goneRetentionSeconds: number): Promise<number> {
    const before = this.now() - (this.settings().tombstoneSeconds + goneRetentionSeconds) * 1000;
    return purgeTombstones(this.store, this.collection, before);
  }
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
