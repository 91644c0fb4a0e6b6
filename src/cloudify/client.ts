import { isTransient } from "./errors.js";
import { describeFailure } from "./failure.js";
import { BlueprintsApi } from "./resources/blueprints.js";
import { DeploymentsApi } from "./resources/deployments.js";
import { ExecutionsApi } from "./resources/executions.js";
import {
  DeploymentUpdatesApi,
  EventsApi,
  NodeInstancesApi,
  SecretsApi,
  TokensApi,
} from "./resources/misc.js";
import { Transport, type TransportOptions } from "./transport.js";
import type { CloudifyEvent, Execution, ManagerStatus, VersionInfo } from "./types.js";

export type CloudifyClientOptions = TransportOptions;

/**
 * Client for one Cloudify Manager tenant (REST API v3.1). Calls are grouped like the official
 * Python client (`client.deployments.get(...)`); lists are collected across all pages.
 */
export class CloudifyClient {
  readonly blueprints: BlueprintsApi;
  readonly deployments: DeploymentsApi;
  readonly executions: ExecutionsApi;
  readonly deploymentUpdates: DeploymentUpdatesApi;
  readonly events: EventsApi;
  readonly secrets: SecretsApi;
  readonly tokens: TokensApi;
  readonly nodeInstances: NodeInstancesApi;
  private readonly http: Transport;

  constructor(options: CloudifyClientOptions) {
    this.http = new Transport(options);
    this.blueprints = new BlueprintsApi(this.http);
    this.deployments = new DeploymentsApi(this.http);
    this.executions = new ExecutionsApi(this.http);
    this.deploymentUpdates = new DeploymentUpdatesApi(this.http);
    this.events = new EventsApi(this.http);
    this.secrets = new SecretsApi(this.http);
    this.tokens = new TokensApi(this.http);
    this.nodeInstances = new NodeInstancesApi(this.http);
  }

  /** GET /api/version (un-versioned path). */
  version(): Promise<VersionInfo> {
    return this.http.request({ method: "GET", path: "/api/version" });
  }

  status(options: { summary?: boolean } = {}): Promise<ManagerStatus> {
    return this.http.request({
      method: "GET",
      path: "/status",
      query: { summary: options.summary ?? false },
    });
  }

  /**
   * Why an execution did not succeed, in one line: the last line of its error plus the distinct
   * messages of its error logs and failure events. If the events cannot be read right now, the
   * error line alone is returned.
   */
  async explainFailure(execution: Execution | string): Promise<string> {
    const exec = typeof execution === "string" ? await this.executions.get(execution) : execution;
    let events: CloudifyEvent[] = [];
    try {
      events = await this.events.list({ executionId: exec.id });
    } catch (error) {
      if (!isTransient(error)) throw error;
    }
    return describeFailure(exec, events);
  }

  /** Closes pooled connections; the client is unusable afterwards. */
  close(): Promise<void> {
    return this.http.close();
  }
}
