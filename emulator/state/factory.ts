import { newId, nowIso } from "../util.js";
import type { ExecutionRecord } from "./records.js";

/** A new execution row: the caller names what differs, the rest starts as the manager starts it. */
export function newExecution(
  fields: Pick<
    ExecutionRecord,
    "tenant" | "kind" | "workflowId" | "deploymentId" | "blueprintId" | "createdBy"
  > &
    Partial<ExecutionRecord>,
): ExecutionRecord {
  return {
    id: newId(),
    status: "pending",
    error: null,
    createdAt: nowIso(),
    startedAt: null,
    endedAt: null,
    parameters: {},
    isDryRun: false,
    allowCustomParameters: false,
    totalOperations: 0,
    finishedOperations: 0,
    ...fields,
  };
}
