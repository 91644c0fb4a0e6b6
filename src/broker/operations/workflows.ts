import { withoutAddresses } from "../cloudify-port/addresses.js";
import type { ExecutionView } from "../cloudify-port/port.js";
import { canonicalJson } from "../model/ids.js";
import type { PendingStart } from "../model/records.js";
import type { StepContext } from "./steps.js";

export type Started =
  | { kind: "started"; executionId: string }
  /** Not now: the environment is still being created, or a lost start is being looked for. */
  | { kind: "waiting"; message: string }
  /** Cloudify refused the start; `message` is its reason. */
  | { kind: "refused"; message: string; code?: string }
  /** The operation was replaced while the step ran: stop without an outcome. */
  | { kind: "replaced" };

export interface StartRequest {
  deploymentId: string;
  workflowId: string;
  /** Adopt only executions started with these parameters (only the given keys are compared). */
  parameters?: Record<string, unknown>;
  /** Executions other resources own (other bindings of the instance): never adopted. */
  claimed?: readonly string[];
  /** Sends the start to Cloudify; resolves to the execution id. */
  send(): Promise<string>;
}

/**
 * Starts Cloudify work at most once (CFY-GW). A POST whose answer was lost (504 from a
 * gateway, dropped connection, timeout) may still be performed by the manager, later; a second
 * POST would start a second execution. So:
 *
 * 1. Before the first attempt the step records which executions of the workflow already exist
 *    (`baseline`); none of them is ever adopted, however similar its parameters.
 * 2. Before each attempt it records the time it sends (`sentAt`), so a crash between sending
 *    and recording the answer is treated like a lost answer.
 * 3. On each run it looks for an execution that is not in the baseline, not owned by another
 *    resource, and has the parameters it sends: that is its own, and it is adopted.
 * 4. While the last attempt's outcome is unknown and younger than the lookup window, it only
 *    looks; it sends again only after the window (the manager did not perform it).
 */
export async function startOnce(
  ctx: StepContext<{ executionIds: string[] }>,
  request: StartRequest,
): Promise<Started> {
  const { cloudify } = ctx;
  const { deploymentId, workflowId } = request;
  const executions = await cloudify.listExecutions(deploymentId, workflowId);
  let pending = ctx.operation.pendingStart;
  if (pending?.workflowId !== workflowId) {
    pending = { workflowId, baseline: executions.map((e) => e.id) };
    if (!(await ctx.checkpoint({ pendingStart: pending }))) return { kind: "replaced" };
  } else {
    const mine = ownExecution(executions, pending, ctx.record.executionIds, request);
    if (mine) return { kind: "started", executionId: mine.id };
    if (pending.sentAt !== undefined && ctx.now() < Date.parse(pending.sentAt) + ctx.lookupWindowMs) {
      return {
        kind: "waiting",
        message: `The answer to starting ${workflowId} was lost; looking for the execution it may have created before starting it again.`,
      };
    }
  }
  const base: PendingStart = { workflowId, baseline: pending.baseline };
  if (!(await ctx.checkpoint({ pendingStart: { ...base, sentAt: iso(ctx.now()) } })))
    return { kind: "replaced" };
  try {
    return { kind: "started", executionId: await request.send() };
  } catch (error) {
    const failure = cloudify.classify(error);
    if (failure.kind === "transient" && failure.outcomeUnknown) {
      // Maybe done: the window starts now, when the answer was lost.
      if (!(await ctx.checkpoint({ pendingStart: { ...base, sentAt: iso(ctx.now()) } })))
        return { kind: "replaced" };
      return {
        kind: "waiting",
        message: `Starting ${workflowId} got no usable answer (${failure.message}); looking for the execution it may have created.`,
      };
    }
    // Certainly not performed: the next attempt need not wait.
    if (!(await ctx.checkpoint({ pendingStart: base }))) return { kind: "replaced" };
    if (failure.kind === "transient") throw error;
    if (failure.environmentNotReady) return { kind: "waiting", message: failure.message };
    return {
      kind: "refused",
      message: failure.message,
      ...(failure.code ? { code: failure.code } : {}),
    };
  }
}

/** The oldest execution this start made: new since the baseline, nobody else's, same parameters. */
function ownExecution(
  executions: readonly ExecutionView[],
  pending: PendingStart,
  known: readonly string[],
  request: StartRequest,
): ExecutionView | undefined {
  const excluded = new Set([...pending.baseline, ...known, ...(request.claimed ?? [])]);
  const wanted = request.parameters && canonicalJson(request.parameters);
  return executions.find(
    (e) =>
      !excluded.has(e.id) &&
      (wanted === undefined || canonicalJson(pick(e.parameters ?? {}, request.parameters!)) === wanted),
  );
}

/** Cloudify's refusal of a workflow whose availability rules are not met (CFY-AVAIL-1). */
export const UNAVAILABLE_WORKFLOW = "unavailable_workflow_error";

/**
 * A queued execution that Cloudify failed when dequeuing it, because its workflow was no longer
 * available (CFY-AVAIL-4): "Error dequeueing execution: Workflow not available: <name>".
 */
export function isDequeuedUnavailable(execution: ExecutionView): boolean {
  return execution.outcome === "failed" && /Workflow not available/.test(execution.error ?? "");
}

/** Why an execution did not succeed, in Cloudify's own words, for an operation's description. */
export async function executionFailure(
  cloudify: StepContext<unknown>["cloudify"],
  execution: ExecutionView,
  doing: string,
): Promise<string> {
  // The workflow's own error may name hosts behind the manager; platforms get it without them.
  const reason = withoutAddresses(await cloudify.failureReason(execution));
  const what = execution.outcome === "cancelled" ? "was cancelled" : "failed";
  return `Cloudify ${execution.workflowId} ${what} while ${doing}: ${reason}`;
}

function pick(actual: Record<string, unknown>, wanted: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(wanted).map((key) => [key, actual[key]]));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
