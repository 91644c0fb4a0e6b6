import type { Transport } from "../transport.js";
import type { CloudifyEvent, DeploymentUpdate, NodeInstance, Secret, Token, Visibility } from "../types.js";

export interface InitiateUpdateOptions {
  /** Omit to keep the current blueprint. */
  blueprintId?: string;
  /** Merged over the deployment's current inputs: send only what changes. */
  inputs?: Record<string, unknown>;
  skipInstall?: boolean;
  skipUninstall?: boolean;
  skipReinstall?: boolean;
  force?: boolean;
  preview?: boolean;
}

export class DeploymentUpdatesApi {
  constructor(private readonly http: Transport) {}

  /** Starts an `update` execution (it may overlap running ones); track its `execution_id`. */
  initiate(deploymentId: string, options: InitiateUpdateOptions = {}): Promise<DeploymentUpdate> {
    return this.http.request({
      method: "POST",
      path: `/deployment-updates/${encodeURIComponent(deploymentId)}/update/initiate`,
      body: {
        ...(options.blueprintId !== undefined ? { blueprint_id: options.blueprintId } : {}),
        inputs: options.inputs ?? {},
        skip_install: options.skipInstall ?? false,
        skip_uninstall: options.skipUninstall ?? false,
        skip_reinstall: options.skipReinstall ?? false,
        force: options.force ?? false,
        preview: options.preview ?? false,
      },
    });
  }

  get(updateId: string): Promise<DeploymentUpdate> {
    return this.http.request({ method: "GET", path: `/deployment-updates/${encodeURIComponent(updateId)}` });
  }

  list(options: { deploymentId?: string } = {}): Promise<DeploymentUpdate[]> {
    return this.http.list("GET", "/deployment-updates", { deployment_id: options.deploymentId });
  }
}

export interface ListEventsOptions {
  executionId?: string;
  deploymentId?: string;
  /** Include `cloudify_log` entries as well as events. Default true. */
  includeLogs?: boolean;
  eventTypes?: readonly string[];
  levels?: readonly string[];
}

export class EventsApi {
  constructor(private readonly http: Transport) {}

  /** Events (and logs) in timestamp order, all pages. */
  list(options: ListEventsOptions = {}): Promise<CloudifyEvent[]> {
    return this.http.list("GET", "/events", {
      execution_id: options.executionId,
      deployment_id: options.deploymentId,
      type: options.includeLogs === false ? ["cloudify_event"] : ["cloudify_event", "cloudify_log"],
      event_type: options.eventTypes,
      level: options.levels,
      _sort: "timestamp",
    });
  }
}

export class SecretsApi {
  constructor(private readonly http: Transport) {}

  /** The secret with its value ("" if it is hidden from this user). */
  get(key: string): Promise<Secret> {
    return this.http.request({ method: "GET", path: `/secrets/${encodeURIComponent(key)}` });
  }

  create(
    key: string,
    value: string,
    options: { updateIfExists?: boolean; visibility?: Visibility; hidden?: boolean } = {},
  ): Promise<Secret> {
    return this.http.request({
      method: "PUT",
      path: `/secrets/${encodeURIComponent(key)}`,
      body: {
        value,
        update_if_exists: options.updateIfExists ?? false,
        visibility: options.visibility ?? "tenant",
        is_hidden_value: options.hidden ?? false,
      },
    });
  }

  async delete(key: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: `/secrets/${encodeURIComponent(key)}` });
  }

  /** Keys and metadata, without values. */
  list(): Promise<Secret[]> {
    return this.http.list("GET", "/secrets");
  }
}

export class TokensApi {
  constructor(private readonly http: Transport) {}

  /** Mints an API token; its `value` (the only time the secret is shown) goes in `{token}` auth. */
  create(options: { description?: string; expirationDate?: string } = {}): Promise<Token> {
    return this.http.request({
      method: "POST",
      path: "/tokens",
      body: { description: options.description ?? null, expiration_date: options.expirationDate ?? null },
    });
  }

  async delete(id: string): Promise<void> {
    await this.http.request({ method: "DELETE", path: `/tokens/${encodeURIComponent(id)}` });
  }
}

export class NodeInstancesApi {
  constructor(private readonly http: Transport) {}

  /** GET /node-instances of one deployment (all pages). */
  list(options: { deploymentId: string; include?: readonly string[] }): Promise<NodeInstance[]> {
    return this.http.list("GET", "/node-instances", {
      deployment_id: options.deploymentId,
      ...(options.include ? { _include: options.include.join(",") } : {}),
    });
  }
}
