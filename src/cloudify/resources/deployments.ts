import { isNotFound } from "../errors.js";
import { pollUntil, type WaitOptions } from "../poll.js";
import type { Query, Transport } from "../transport.js";
import type { Deployment, FilterRule, LabelInput, Visibility } from "../types.js";
import { includeQuery, type ListOptions, listQuery } from "./blueprints.js";

export interface CreateDeploymentOptions {
  blueprintId: string;
  inputs?: Record<string, unknown>;
  /** Write format: a list of one-key maps, e.g. `[{"osb-instance-id": "x"}, {"env": ["a", "b"]}]`. */
  labels?: LabelInput[];
  displayName?: string;
  visibility?: Visibility;
  skipPluginsValidation?: boolean;
  runtimeOnlyEvaluation?: boolean;
  siteName?: string;
  /**
   * Default true: answer at once and let create_deployment_environment run in the background
   * (poll `create_execution`). False makes the manager block until the environment exists.
   */
  asyncCreate?: boolean;
}

export interface DeleteDeploymentOptions {
  /** Delete even with live nodes (and even if the delete workflow fails). */
  force?: boolean;
  deleteLogs?: boolean;
  recursive?: boolean;
}

/** Turns `{key: value | [values]}` into the manager's label write format. */
export function toLabelList(labels: Record<string, string | readonly string[]>): LabelInput[] {
  return Object.entries(labels).map(([key, value]) => ({
    [key]: Array.isArray(value) ? [...value] : (value as string),
  }));
}

export class DeploymentsApi {
  constructor(private readonly http: Transport) {}

  private path(id: string, suffix = ""): string {
    return `/deployments/${encodeURIComponent(id)}${suffix}`;
  }

  /**
   * PUT /deployments/{id}. Never retried automatically: after a network failure, look the
   * deployment up with `get` (a 409 conflict_error on a retry also means it exists).
   */
  create(id: string, options: CreateDeploymentOptions): Promise<Deployment> {
    const body: Record<string, unknown> = {
      blueprint_id: options.blueprintId,
      inputs: options.inputs ?? {},
      visibility: options.visibility ?? "tenant",
      skip_plugins_validation: options.skipPluginsValidation ?? false,
      runtime_only_evaluation: options.runtimeOnlyEvaluation ?? false,
    };
    if (options.labels) body.labels = options.labels;
    if (options.displayName !== undefined) body.display_name = options.displayName;
    if (options.siteName !== undefined) body.site_name = options.siteName;
    return this.http.request({
      method: "PUT",
      path: this.path(id),
      query: { async_create: options.asyncCreate ?? true },
      body,
    });
  }

  get(id: string, options: { include?: readonly string[] } = {}): Promise<Deployment> {
    return this.http.request({ method: "GET", path: this.path(id), query: includeQuery(options.include) });
  }

  /** Every deployment matching the filters (all pages). */
  list(options: ListOptions & { blueprintId?: string; search?: string } = {}): Promise<Deployment[]> {
    const query: Query = listQuery(options);
    if (options.blueprintId !== undefined) query.blueprint_id = options.blueprintId;
    if (options.search !== undefined) query._search = options.search;
    return this.http.list("GET", "/deployments", query);
  }

  /** Starts the asynchronous removal (delete_deployment_environment); see `waitUntilGone`. */
  async delete(id: string, options: DeleteDeploymentOptions = {}): Promise<void> {
    await this.http.request({
      method: "DELETE",
      path: this.path(id),
      query: {
        force: options.force ?? false,
        delete_logs: options.deleteLogs ?? false,
        recursive: options.recursive ?? false,
      },
    });
  }

  /** Polls GET /deployments/{id} until it answers 404. */
  async waitUntilGone(id: string, options: WaitOptions = {}): Promise<void> {
    await pollUntil(
      { method: "GET", path: this.path(id), description: `deployment ${id} to be deleted` },
      async () => {
        try {
          await this.get(id, { include: ["id"] });
          return undefined;
        } catch (error) {
          if (isNotFound(error)) return true;
          throw error;
        }
      },
      options,
    );
  }

  /** Evaluated outputs (name → value). */
  async outputs(id: string): Promise<Record<string, unknown>> {
    const body = await this.http.request<{ outputs: Record<string, unknown> }>({
      method: "GET",
      path: this.path(id, "/outputs"),
    });
    return body.outputs ?? {};
  }

  /** Evaluated capabilities (name → value), secrets resolved. */
  async capabilities(id: string): Promise<Record<string, unknown>> {
    const body = await this.http.request<{ capabilities: Record<string, unknown> }>({
      method: "GET",
      path: this.path(id, "/capabilities"),
    });
    return body.capabilities ?? {};
  }

  /** POST /searches/deployments with filter rules (all pages). */
  search(rules: readonly FilterRule[], options: Omit<ListOptions, "filters"> = {}): Promise<Deployment[]> {
    return this.http.list("POST", "/searches/deployments", listQuery(options), { filter_rules: rules });
  }

  /** Deployments carrying all these labels (a list value means any of them). */
  searchByLabels(
    labels: Record<string, string | readonly string[]>,
    options: Omit<ListOptions, "filters"> & { attributes?: FilterRule[] } = {},
  ): Promise<Deployment[]> {
    const rules: FilterRule[] = Object.entries(labels).map(([key, value]) => ({
      type: "label",
      key,
      operator: "any_of",
      values: Array.isArray(value) ? [...value] : [value as string],
    }));
    return this.search([...rules, ...(options.attributes ?? [])], options);
  }

  /** Replaces the deployment's labels (PATCH). */
  setLabels(id: string, labels: LabelInput[]): Promise<Deployment> {
    return this.http.request({ method: "PATCH", path: this.path(id), body: { labels } });
  }
}
