import { badParameters, ManagerError } from "../errors.js";
import { pyList } from "../util.js";
import type { Reply } from "./request.js";

/**
 * List endpoints (MGR `storage_manager.list` + `rest_decorators`): field filters (repeat a key for
 * OR), `_search`, `_sort` (repeatable, `-` for descending, `label:<key>`), `_include`, `_size`,
 * `_offset`, `_get_all_results`; envelope `{items, metadata: {pagination, filtered}}`.
 */

export const DEFAULT_PAGE_SIZE = 1000;

export type Item = Record<string, unknown>;

export interface ListOptions {
  /** Allowed field names for `_include`, filters and sorting. */
  fields: readonly string[];
  /** Non-underscore query keys the endpoint accepts that are not field filters. */
  ignore?: readonly string[];
  /** Label pairs of an item, for `_sort=label:<key>`. */
  labelsOf?: (item: Item) => ReadonlyArray<{ key: string; value: string }>;
  /** `filtered` metadata; `undefined` omits the key (events). */
  filtered?: number | null;
  defaultSize?: number;
  /** Default sort field (ascending). */
  defaultSort?: string;
}

export function parseInclude(query: URLSearchParams, fields: readonly string[]): string[] | undefined {
  const raw = query.getAll("_include");
  if (raw.length === 0) return undefined;
  const include = raw.flatMap((v) => v.split(",")).filter(Boolean);
  const unknown = include.filter((f) => !fields.includes(f));
  if (unknown.length > 0) {
    throw new ManagerError(
      "no_such_include_field_error",
      `Include keys '${pyList(unknown)}' do not exist. Allowed keys are: ${pyList(fields)}`,
    );
  }
  return include;
}

export function project(item: Item, include: readonly string[] | undefined): Item {
  if (!include) return item;
  return Object.fromEntries(include.map((f) => [f, item[f] ?? null]));
}

function nonNegativeInt(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw badParameters(`${name} must be a non-negative integer, got ${raw}`);
  return Number(raw);
}

/** Query values compare as strings; booleans and nulls the lenient way the manager parses them. */
function fieldMatches(value: unknown, wanted: string): boolean {
  if (typeof value === "boolean") return String(value) === wanted.toLowerCase();
  if (value === null || value === undefined) return wanted === "" || wanted.toLowerCase() === "none";
  if (typeof value === "object") return JSON.stringify(value) === wanted;
  return String(value) === wanted;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : 1;
}

export function listReply(all: readonly Item[], query: URLSearchParams, opts: ListOptions): Reply {
  const include = parseInclude(query, opts.fields);
  const filterKeys = [...new Set(query.keys())].filter(
    (k) => !k.startsWith("_") && !opts.ignore?.includes(k),
  );
  const unknownFilters = filterKeys.filter((k) => !opts.fields.includes(k));
  if (unknownFilters.length > 0) {
    throw badParameters(
      `Filter keys '${pyList(unknownFilters)}' do not exist. Allowed keys are: ${pyList(opts.fields)}`,
    );
  }
  let items = all.filter((item) =>
    filterKeys.every((k) => query.getAll(k).some((wanted) => fieldMatches(item[k], wanted))),
  );
  const search = query.get("_search");
  if (search) items = items.filter((i) => String(i.id ?? "").includes(search));

  const sorts = query.getAll("_sort");
  if (sorts.length === 0 && opts.defaultSort) sorts.push(opts.defaultSort);
  const sorters = sorts.map((raw) => {
    const desc = raw.startsWith("-");
    const field = desc ? raw.slice(1) : raw;
    if (field.startsWith("label:") && opts.labelsOf) {
      const key = field.slice("label:".length);
      const labelsOf = opts.labelsOf;
      return { desc, get: (i: Item) => labelsOf(i).find((l) => l.key === key)?.value ?? null };
    }
    if (!opts.fields.includes(field)) {
      throw badParameters(`Sort key '${field}' does not exist. Allowed keys are: ${pyList(opts.fields)}`);
    }
    return { desc, get: (i: Item) => i[field] };
  });
  if (sorters.length > 0) {
    items = [...items].sort((a, b) => {
      for (const s of sorters) {
        const c = compare(s.get(a), s.get(b));
        if (c !== 0) return s.desc ? -c : c;
      }
      return 0;
    });
  }

  const size = nonNegativeInt(query, "_size", opts.defaultSize ?? DEFAULT_PAGE_SIZE);
  const offset = nonNegativeInt(query, "_offset", 0);
  const getAll = ["true", "1"].includes((query.get("_get_all_results") ?? "").toLowerCase());
  const page = getAll ? items : items.slice(offset, offset + size);
  const metadata: Record<string, unknown> = { pagination: { total: items.length, size, offset } };
  if (opts.filtered !== undefined) metadata.filtered = opts.filtered;
  return { status: 200, body: { items: page.map((i) => project(i, include)), metadata } };
}
