import {
  CloudifyApiError,
  type CloudifyClient,
  CloudifyNetworkError,
  type Deployment,
  type Execution,
  type ExecutionStatus,
  isEnvironmentNotReady,
  isNotFound,
  isTransient,
  isUnauthorized,
  type NetworkErrorKind,
  TERMINAL_EXECUTION_STATUSES,
} from "../../cloudify/index.js";
import { withoutAddresses } from "./addresses.js";
import type {
  CloudifyFailure,
  CloudifyPort,
  DeploymentView,
  ExecutionOutcome,
  ExecutionView,
} from "./port.js";

/** The domain's view of Cloudify, on the REST client: not-found becomes `undefined`. */
export function cloudifyAdapter(client: CloudifyClient): CloudifyPort {
  const orUndefined = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };
  const view = (e: Execution): ExecutionView => ({
    id: e.id,
    workflowId: e.workflow_id,
    parameters: e.parameters ?? undefined,
    outcome: outcomeOf(e.status),
    error: e.error,
    createdAt: e.created_at,
  });

  return {
    async getBlueprintInputs(blueprintId) {
      const blueprint = await orUndefined(() =>
        client.blueprints.get(blueprintId, { include: ["id", "plan"] }),
      );
      return blueprint ? (blueprint.plan?.inputs ?? {}) : undefined;
    },
    async getDeployment(deploymentId) {
      const d = await orUndefined(() =>
        client.deployments.get(deploymentId, {
          include: ["id", "blueprint_id", "create_execution", "labels"],
        }),
      );
      return d ? deploymentView(d) : undefined;
    },
    async findDeployments(labels) {
      const found = await client.deployments.searchByLabels(labels, {
        include: ["id", "blueprint_id", "create_execution", "labels"],
      });
      return found.map(deploymentView);
    },
    async createDeployment(request) {
      const d = await client.deployments.create(request.deploymentId, {
        blueprintId: request.blueprintId,
        inputs: request.inputs,
        labels: request.labels,
        displayName: request.displayName,
        asyncCreate: true,
      });
      if (!d.create_execution)
        throw new Error(`Cloudify created deployment ${d.id} without a create execution`);
      return { createExecutionId: d.create_execution };
    },
    async deleteDeployment(deploymentId, force) {
      await client.deployments.delete(deploymentId, { force });
    },
    async startExecution(request) {
      return view(
        await client.executions.start({
          deploymentId: request.deploymentId,
          workflowId: request.workflowId,
          parameters: request.parameters,
          queue: request.queue,
          force: request.force,
          allowCustomParameters: request.allowCustomParameters,
        }),
      );
    },
    async getExecution(executionId) {
      const e = await orUndefined(() => client.executions.get(executionId));
      return e ? view(e) : undefined;
    },
    async listExecutions(deploymentId, workflowId) {
      // System workflows (delete_deployment_environment) are listed only when asked for.
      const list = await client.executions.list({
        deploymentId,
        workflowId,
        sort: ["created_at"],
        includeSystemWorkflows: true,
      });
      return list.map(view);
    },
    async liveNodeInstances(deploymentId) {
      const nodes = await client.nodeInstances.list({ deploymentId, include: ["id", "state"] });
      return nodes.filter((n) => n.state !== "uninitialized" && n.state !== "deleted").map((n) => n.id);
    },
    async cancelExecution(executionId) {
      await client.executions.cancel(executionId);
    },
    failureReason(execution) {
      return client.explainFailure(execution.id);
    },
    async updateDeployment(request) {
      const update = await client.deploymentUpdates.initiate(request.deploymentId, {
        blueprintId: request.blueprintId,
        inputs: request.inputs,
      });
      if (!update.execution_id)
        throw new Error(`Cloudify started deployment update ${update.id} without an execution`);
      return { executionId: update.execution_id };
    },
    outputs: (deploymentId) => client.deployments.outputs(deploymentId),
    capabilities: (deploymentId) => client.deployments.capabilities(deploymentId),
    async secret(key) {
      const secret = await orUndefined(() => client.secrets.get(key));
      return secret?.value;
    },
    classify,
  };
}

function deploymentView(d: Deployment): DeploymentView {
  return {
    id: d.id,
    blueprintId: d.blueprint_id,
    createExecutionId: d.create_execution ?? undefined,
    labels: (d.labels ?? []).map((l) => ({ key: l.key, value: l.value })),
  };
}

/** Answers after which the manager may still have performed the request (CFY-GW). */
const OUTCOME_UNKNOWN_STATUSES = new Set([500, 502, 504]);

function outcomeUnknown(error: unknown): boolean {
  if (error instanceof CloudifyNetworkError) return error.kind !== "refused";
  return error instanceof CloudifyApiError && OUTCOME_UNKNOWN_STATUSES.has(error.status);
}
const UNREACHABLE: Record<NetworkErrorKind, string> = {
  refused: "Cloudify is unreachable (connection refused)",
  reset: "Cloudify is unreachable (connection reset)",
  timeout: "Cloudify did not answer in time",
  other: "Cloudify is unreachable",
};

function classify(error: unknown): CloudifyFailure {
  const detail = error instanceof Error ? error.message : String(error);
  const failure = (kind: CloudifyFailure["kind"], message: string, code?: string): CloudifyFailure => ({
    kind,
    ...(code ? { code } : {}),
    message: withoutAddresses(message),
    detail,
  });
  if (error instanceof CloudifyNetworkError)
    return { ...failure("transient", UNREACHABLE[error.kind]), outcomeUnknown: outcomeUnknown(error) };
  // CFY-AUTH: the broker's own credentials were refused even after reading them again (an
  // expired token nobody rotated yet). Not a refusal of the work: operations wait, within
  // their deadline, for an operator to fix the credentials (readiness reports it meanwhile).
  if (isUnauthorized(error) && error instanceof CloudifyApiError) {
    return {
      ...failure("transient", `Cloudify refuses the broker's credentials: ${error.serverMessage}`),
      outcomeUnknown: false,
    };
  }
  if (isTransient(error)) {
    // 502/503/504: a proxy's page says nothing a platform needs; the manager's envelope may
    // (maintenance mode).
    if (error instanceof CloudifyApiError) {
      const own = error.errorCode ? `: ${error.serverMessage}` : "";
      return {
        ...failure("transient", `Cloudify answered ${error.status}${own}`, error.errorCode ?? undefined),
        outcomeUnknown: outcomeUnknown(error),
        ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      };
    }
    return { ...failure("transient", "Cloudify is unreachable"), outcomeUnknown: outcomeUnknown(error) };
  }
  if (isNotFound(error)) return failure("not_found", detail, "not_found_error");
  // A 500 is the manager failing, not refusing (e.g. a workflow worker restarting): retry.
  // Steps look up before they act, so running one again never repeats Cloudify work, and the
  // operation's deadline still bounds the retries.
  if (error instanceof CloudifyApiError && error.status === 500) {
    return {
      ...failure(
        "transient",
        `Cloudify failed with 500: ${error.serverMessage}`,
        error.errorCode ?? undefined,
      ),
      outcomeUnknown: true,
    };
  }
  if (error instanceof CloudifyApiError) {
    const rejected = failure("rejected", detail, error.errorCode ?? undefined);
    if (isEnvironmentNotReady(error)) rejected.environmentNotReady = true;
    return rejected;
  }
  // A bug or an unexpected answer: not Cloudify refusing, so do not fail the operation on it.
  return failure("transient", "unexpected failure talking to Cloudify (details in the broker log)");
}

/** Cloudify's execution status as the domain decides on it: ended or not, and how. */
export function outcomeOf(status: ExecutionStatus): ExecutionOutcome {
  if (!TERMINAL_EXECUTION_STATUSES.has(status)) return "running";
  return status === "terminated" ? "succeeded" : status === "failed" ? "failed" : "cancelled";
}
