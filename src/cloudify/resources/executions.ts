import { pollUntil, type WaitOptions } from "../poll.js";
import type { Query, Transport } from "../transport.js";
import { type Execution, type ExecutionStatus, TERMINAL_EXECUTION_STATUSES } from "../types.js";
import { includeQuery } from "./blueprints.js";

export interface StartExecutionOptions {
  deploymentId: string;
  workflowId: string;
  parameters?: Record<string, unknown>;
  /** Wait in `queued` behind running executions instead of failing. */
  queue?: boolean;
  /** Run in parallel with other executions of the deployment. */
  force?: boolean;
  allowCustomParameters?: boolean;
  dryRun?: boolean;
}

export interface ListExecutionsOptions {
  deploymentId?: string;
  workflowId?: string;
  status?: ExecutionStatus | readonly ExecutionStatus[];
  includeSystemWorkflows?: boolean;
  include?: readonly string[];
  sort?: readonly string[];
}

export class ExecutionsApi {
  constructor(private readonly http: Transport) {}

  /**
   * POST /executions. Never retried automatically: after a network failure, find out whether it
   * started with `list({deploymentId, workflowId})`.
   */
  start(options: StartExecutionOptions): Promise<Execution> {
    return this.http.request({
      method: "POST",
      path: "/executions",
      body: {
        deployment_id: options.deploymentId,
        workflow_id: options.workflowId,
        parameters: options.parameters ?? {},
        allow_custom_parameters: options.allowCustomParameters ?? false,
        force: options.force ?? false,
        dry_run: options.dryRun ?? false,
        queue: options.queue ?? false,
      },
    });
  }

  get(id: string, options: { include?: readonly string[] } = {}): Promise<Execution> {
    return this.http.request({
      method: "GET",
      path: `/executions/${encodeURIComponent(id)}`,
      query: includeQuery(options.include),
    });
  }

  /** Every matching execution, oldest first (all pages). */
  list(options: ListExecutionsOptions = {}): Promise<Execution[]> {
    const query: Query = {
      deployment_id: options.deploymentId,
      workflow_id: options.workflowId,
      status: options.status as Query[string],
      _include_system_workflows: options.includeSystemWorkflows ?? false,
      _sort: options.sort ?? ["created_at"],
      ...includeQuery(options.include),
    };
    return this.http.list("GET", "/executions", query);
  }

  /** Asks the execution to stop; it passes through `cancelling` before `cancelled`. */
  cancel(id: string, options: { kind?: "cancel" | "force-cancel" | "kill" } = {}): Promise<Execution> {
    return this.action(id, options.kind ?? "cancel");
  }

  resume(id: string, options: { force?: boolean } = {}): Promise<Execution> {
    return this.action(id, options.force ? "force-resume" : "resume");
  }

  private action(id: string, action: string): Promise<Execution> {
    return this.http.request({
      method: "POST",
      path: `/executions/${encodeURIComponent(id)}`,
      body: { action },
    });
  }

  /** Polls until the execution is terminated, failed or cancelled, and returns it. */
  waitForEnd(id: string, options: WaitOptions = {}): Promise<Execution> {
    return pollUntil(
      { method: "GET", path: `/executions/${id}`, description: `execution ${id} to end` },
      async () => {
        const execution = await this.get(id);
        return TERMINAL_EXECUTION_STATUSES.has(execution.status) ? execution : undefined;
      },
      options,
    );
  }
}
