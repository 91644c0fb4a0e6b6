import { withoutAddresses } from "../cloudify-port/addresses.js";
import type { CloudifyPort, ExecutionView } from "../cloudify-port/port.js";
import { canonicalJson } from "../model/ids.js";

/**
 * The latest execution of `workflowId` on the deployment that the resource has not recorded
 * (`known`): one an earlier run of the same step started before a crash or a lost answer
 * (M16: executions are not idempotent, so a lost answer is looked up, never blindly repeated).
 * With `parameters`, only an execution started with those (Cloudify adds declared defaults
 * to an execution's parameters, so only the given keys are compared).
 */
export async function unrecordedExecution(
  cloudify: CloudifyPort,
  deploymentId: string,
  workflowId: string,
  known: readonly string[],
  parameters?: Record<string, unknown>,
): Promise<ExecutionView | undefined> {
  const seen = new Set(known);
  const wanted = parameters && canonicalJson(parameters);
  return (await cloudify.listExecutions(deploymentId, workflowId))
    .filter((e) => !seen.has(e.id))
    .filter((e) => wanted === undefined || canonicalJson(pick(e.parameters ?? {}, parameters!)) === wanted)
    .at(-1);
}

export type Started =
  | { kind: "started"; executionId: string }
  /** The deployment's environment is still being created: try again later. */
  | { kind: "not_ready"; message: string }
  | { kind: "refused"; message: string };

/**
 * Starts a workflow queued behind whatever runs on the deployment, unless an earlier run of
 * the step already started it (then that execution is adopted): Cloudify work is never done
 * twice. Transient failures are thrown for the engine's backoff.
 */
export async function adoptOrStart(
  cloudify: CloudifyPort,
  request: {
    deploymentId: string;
    workflowId: string;
    parameters: Record<string, unknown>;
    known: readonly string[];
    /** Adopt only executions with these parameters (several bindings run one workflow). */
    matchParameters: boolean;
  },
): Promise<Started> {
  const { deploymentId, workflowId, parameters, known } = request;
  const adopted = await unrecordedExecution(
    cloudify,
    deploymentId,
    workflowId,
    known,
    request.matchParameters ? parameters : undefined,
  );
  if (adopted) return { kind: "started", executionId: adopted.id };
  try {
    const execution = await cloudify.startExecution({ deploymentId, workflowId, parameters, queue: true });
    return { kind: "started", executionId: execution.id };
  } catch (error) {
    const failure = cloudify.classify(error);
    if (failure.kind === "transient") throw error;
    if (failure.environmentNotReady) return { kind: "not_ready", message: failure.message };
    return { kind: "refused", message: `Cloudify refused to start ${workflowId}: ${failure.message}` };
  }
}

/** Why an execution did not succeed, in Cloudify's own words, for an operation's description. */
export async function executionFailure(
  cloudify: CloudifyPort,
  execution: ExecutionView,
  doing: string,
): Promise<string> {
  // The workflow's own error may name hosts behind the manager; platforms get it without them.
  const reason = withoutAddresses(await cloudify.failureReason(execution));
  const what = execution.status === "cancelled" ? "was cancelled" : "failed";
  return `Cloudify ${execution.workflowId} ${what} while ${doing}: ${reason}`;
}

function pick(actual: Record<string, unknown>, wanted: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(wanted).map((key) => [key, actual[key]]));
}
