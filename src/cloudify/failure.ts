import type { CloudifyEvent, Execution } from "./types.js";

const MAX_LENGTH = 1000;

/** The last non-empty line of a traceback: the exception, which is the meaningful part. */
export function lastErrorLine(error: string | null | undefined): string {
  const lines = (error ?? "").split("\n").map((l) => l.trim());
  return lines.filter((l) => l !== "").pop() ?? "";
}

/**
 * The most useful one-line explanation of an execution that did not succeed: the last line of
 * its `error`, followed by the distinct messages of its error logs, failure events and their
 * error causes (which usually name the task and node that failed).
 */
export function describeFailure(execution: Execution, events: readonly CloudifyEvent[] = []): string {
  if (execution.status === "cancelled") return `'${execution.workflow_id}' execution was cancelled`;
  const primary = lastErrorLine(execution.error);
  const details: string[] = [];
  const add = (text: string | undefined | null) => {
    const t = text?.trim();
    if (!t || t === primary || primary.includes(t) || details.some((d) => d.includes(t))) return;
    details.push(t);
  };
  for (const event of events) {
    const failed =
      event.level === "error" || event.event_type === "workflow_failed" || event.event_type === "task_failed";
    if (!failed) continue;
    for (const cause of event.error_causes ?? []) add(cause.message);
    if (event.event_type !== "workflow_failed") add(event.message);
  }
  const text =
    [primary || `'${execution.workflow_id}' execution ${execution.status}`, ...details].join(" | ") ||
    "unknown error";
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH - 1)}…` : text;
}
