import {
  CloudifyApiError,
  type CloudifyClient,
  CloudifyNetworkError,
  type Deployment,
  type Execution,
  isEnvironmentNotReady,
  isNotFound,
  isTransient,
} from "../../cloudify/index.js";
import type { CloudifyFailure, CloudifyPort, DeploymentView, ExecutionView } from "./port.js";

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
    status: e.status,
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
          allowCustomParameters: request.allowCustomParameters,
        }),
      );
    },
    async getExecution(executionId) {
      const e = await orUndefined(() => client.executions.get(executionId));
      return e ? view(e) : undefined;
    },
    async listExecutions(deploymentId, workflowId) {
      const list = await client.executions.list({ deploymentId, workflowId, sort: ["created_at"] });
      return list.map(view);
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

function classify(error: unknown): CloudifyFailure {
  if (isTransient(error)) {
    const message =
      error instanceof CloudifyNetworkError ? `${error.kind}: ${error.message}` : (error as Error).message;
    return {
      kind: "transient",
      code: error instanceof CloudifyApiError ? (error.errorCode ?? undefined) : undefined,
      message,
    };
  }
  if (isNotFound(error))
    return { kind: "not_found", code: "not_found_error", message: (error as Error).message };
  // A 500 is the manager failing, not refusing (e.g. a workflow worker restarting): retry.
  // Steps look up before they act, so running one again never repeats Cloudify work, and the
  // operation's deadline still bounds the retries.
  if (error instanceof CloudifyApiError && error.status === 500) {
    return { kind: "transient", code: error.errorCode ?? undefined, message: error.message };
  }
  if (error instanceof CloudifyApiError) {
    const failure: CloudifyFailure = {
      kind: "rejected",
      code: error.errorCode ?? undefined,
      message: error.message,
    };
    if (isEnvironmentNotReady(error)) failure.environmentNotReady = true;
    return failure;
  }
  // A bug or an unexpected answer: not Cloudify refusing, so do not fail the operation on it.
  return { kind: "transient", message: error instanceof Error ? error.message : String(error) };
}
