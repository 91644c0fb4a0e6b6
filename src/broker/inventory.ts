import type { StateStore } from "../state/index.js";
import {
  BINDINGS,
  type BindingRecord,
  INSTANCES,
  type InstanceRecord,
  type Operation,
} from "./model/records.js";
import { IN_PROGRESS } from "./operations/operation.js";

/** What the broker holds, counted for monitoring: the metrics read this, never the records. */
export interface Inventory {
  /** Operations in progress, by operation type. */
  operationsInProgress(): Map<string, number>;
  /** One row per instance (tombstones included), for counting by plan and status. */
  instances(): { planId: string; status: string }[];
  bindings(): { planId: string; status: string }[];
}

export function inventory(store: StateStore): Inventory {
  const rows = (collection: string) =>
    store
      .list<InstanceRecord | BindingRecord>(collection)
      .map(({ value }) => ({ planId: value.planId, status: value.status }));
  return {
    operationsInProgress: () => {
      const counts = new Map<string, number>();
      for (const collection of [INSTANCES, BINDINGS]) {
        for (const { value } of store.select<{ operation: Operation }>(collection, IN_PROGRESS))
          counts.set(value.operation.type, (counts.get(value.operation.type) ?? 0) + 1);
      }
      return counts;
    },
    instances: () => rows(INSTANCES),
    bindings: () => rows(BINDINGS),
  };
}
