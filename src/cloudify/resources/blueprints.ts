import type { Query, Transport } from "../transport.js";
import type { Blueprint } from "../types.js";

export interface ListOptions {
  /** Fields to return (`_include`); others are omitted by the manager. */
  include?: readonly string[];
  /** `_sort` fields, `-field` for descending. */
  sort?: readonly string[];
  /** Equality filters on fields; an array means any of the values. */
  filters?: Query;
}

export function listQuery(options: ListOptions = {}): Query {
  return {
    ...options.filters,
    ...(options.include ? { _include: options.include.join(",") } : {}),
    ...(options.sort ? { _sort: options.sort } : {}),
  };
}

export function includeQuery(include: readonly string[] | undefined): Query {
  return include ? { _include: include.join(",") } : {};
}

export class BlueprintsApi {
  constructor(private readonly http: Transport) {}

  get(id: string, options: { include?: readonly string[] } = {}): Promise<Blueprint> {
    return this.http.request({
      method: "GET",
      path: `/blueprints/${encodeURIComponent(id)}`,
      query: includeQuery(options.include),
    });
  }

  /** Every blueprint (all pages). */
  list(options: ListOptions = {}): Promise<Blueprint[]> {
    return this.http.list("GET", "/blueprints", listQuery(options));
  }
}
