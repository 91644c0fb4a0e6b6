import { setOwn } from "../util/own-property.js";
import { deepFreeze } from "./json.js";
import type { JsonValue, RecordFilter, StateExport, StateRecord } from "./types.js";

/** A change validated and ready to apply/write: `value` is the store's own copy (frozen when applied). */
export type PreparedChange =
  | { type: "put"; collection: string; id: string; value: JsonValue }
  | { type: "delete"; collection: string; id: string };

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The record's own `id` string when it equals the key: records usually carry their id, and a
 * loaded record's copy and the key parsed beside it are two strings (5 MiB at 100,000 records).
 */
function ownId(id: string, value: JsonValue): string {
  const own = typeof value === "object" && value !== null && !Array.isArray(value) ? value.id : undefined;
  return own === id ? own : id;
}

/**
 * The in-memory image of the store: collection -> id -> deeply frozen value. Because values are
 * immutable, reads hand them out without copying and a snapshot view is a shallow copy of the maps.
 */
export class MemoryState {
  readonly #collections = new Map<string, Map<string, JsonValue>>();
  /** The id of each collection's latest record: what a new record shares its equal parts with. */
  readonly #latestId = new Map<string, string>();
  /** collection -> filter name -> the ids its filter selects, kept current by put and delete. */
  readonly #selections = new Map<string, Map<string, { filter: RecordFilter; ids: Set<string> }>>();

  get(collection: string, id: string): JsonValue | undefined {
    return this.#collections.get(collection)?.get(id);
  }

  list(collection: string): StateRecord[] {
    const records = this.#collections.get(collection);
    if (!records) return [];
    return [...records.keys()].sort(byId).map((id) => ({ id, value: records.get(id)! }));
  }

  /**
   * The records `filter` selects, sorted by id. The first call per (collection, filter name)
   * walks the collection once; later changes keep the selection current, so a call costs
   * O(selected), never O(collection) (issue 14: the engine's sweep at 100,000 records).
   */
  select(collection: string, filter: RecordFilter): StateRecord[] {
    let byName = this.#selections.get(collection);
    if (!byName) {
      byName = new Map();
      this.#selections.set(collection, byName);
    }
    let selection = byName.get(filter.name);
    const records = this.#collections.get(collection);
    if (!selection) {
      selection = { filter, ids: new Set() };
      for (const [id, value] of records ?? []) if (filter.matches(value)) selection.ids.add(id);
      byName.set(filter.name, selection);
    }
    if (!records) return [];
    return [...selection.ids].sort(byId).map((id) => ({ id, value: records.get(id)! }));
  }

  collections(): string[] {
    return [...this.#collections.keys()].sort(byId);
  }

  put(collection: string, givenId: string, value: JsonValue): void {
    const id = ownId(givenId, value);
    let records = this.#collections.get(collection);
    if (!records) {
      records = new Map();
      this.#collections.set(collection, records);
    }
    // The value shares what it has in common with the record's previous value, or else with the
    // collection's latest record (issue 14: RSS at 100,000 instances; see deepFreeze).
    const latestId = this.#latestId.get(collection);
    const frozen = deepFreeze(
      value,
      records.get(id) ?? (latestId === undefined ? undefined : records.get(latestId)),
    );
    records.set(id, frozen);
    this.#latestId.set(collection, id);
    const selections = this.#selections.get(collection);
    if (selections) {
      for (const { filter, ids } of selections.values()) {
        if (filter.matches(frozen)) ids.add(id);
        else ids.delete(id);
      }
    }
  }

  delete(collection: string, id: string): void {
    const records = this.#collections.get(collection);
    if (records?.delete(id) && records.size === 0) this.#collections.delete(collection);
    if (this.#latestId.get(collection) === id) this.#latestId.delete(collection);
    const selections = this.#selections.get(collection);
    if (selections) for (const { ids } of selections.values()) ids.delete(id);
  }

  apply(change: PreparedChange): void {
    if (change.type === "put") this.put(change.collection, change.id, change.value);
    else this.delete(change.collection, change.id);
  }

  get size(): number {
    let n = 0;
    for (const records of this.#collections.values()) n += records.size;
    return n;
  }

  /** A point-in-time view that later changes do not affect (values are shared: they are frozen). */
  view(): Array<[string, Map<string, JsonValue>]> {
    return [...this.#collections].map(([name, records]) => [name, new Map(records)]);
  }

  export(): StateExport {
    const out: StateExport = {};
    for (const name of this.collections()) {
      const records = this.#collections.get(name)!;
      // setOwn: a collection or id named "__proto__" must stay an ordinary key.
      const byKey: Record<string, JsonValue> = {};
      for (const id of [...records.keys()].sort(byId)) setOwn(byKey, id, records.get(id));
      setOwn(out, name, byKey);
    }
    return out;
  }
}
