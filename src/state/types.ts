/**
 * The state store contract. The domain (instances, bindings, operations, tombstones, schema
 * cache...) decides record shapes; the store only knows named collections of JSON records keyed by
 * string id. The file backend implements it; a database backend (e.g. PostgreSQL: one table
 * `(collection, id, value jsonb)`, `commit` = one transaction) can implement it later.
 */

/** Values the store accepts and returns: exactly what JSON can represent. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type Change =
  /** Create or replace record `id`. `value` must be plain JSON data (see validation in json.ts). */
  | { type: "put"; collection: string; id: string; value: unknown }
  /** Remove record `id`; deleting an absent record is not an error. */
  | { type: "delete"; collection: string; id: string };

/**
 * A named, pure predicate over a collection's records, for `StateStore.select`. The store keeps
 * the set of ids it selects current as it applies changes, so the name must always stand for
 * the same predicate.
 */
export interface RecordFilter {
  readonly name: string;
  matches(value: JsonValue): boolean;
}

export interface StateRecord<T = JsonValue> {
  id: string;
  value: T;
}

/** Everything in the store: `{ [collection]: { [id]: value } }`. */
export type StateExport = Record<string, Record<string, JsonValue>>;

/**
 * Whether commits can currently succeed. Cheap (no I/O): for health endpoints and for refusing
 * mutating requests early. `reason` says why not, in words an operator can act on, and never holds
 * secrets.
 */
export interface StateHealth {
  writable: boolean;
  reason?: string;
  /**
   * Set while a store that cannot write retries by itself (a full disk, an unreachable
   * database): the broker is not ready, but a restart would not help, so it is still live.
   */
  recovering?: boolean;
}

/**
 * What a store shared by several broker processes (PostgreSQL) adds. A store used by one process
 * (file, memory) has none: the in-process mutex and engine suffice.
 */
export interface SharedStateCoordination {
  /**
   * Runs `work` holding `key` exclusively across every process sharing the store, with the
   * in-memory reads brought up to date once the lock is held (so a decision sees every commit
   * made under the lock before).
   */
  exclusive<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Brings reads up to date with every commit made anywhere before the call. */
  sync(): Promise<void>;
  /** Takes or renews this process's lease on driving `key`; false while another process holds it. */
  claim(key: string): Promise<boolean>;
  /** Whether this process still certainly holds the lease on `key`. */
  holds(key: string): boolean;
  /** Gives the lease on `key` up (the work is done). */
  release(key: string): Promise<void>;
}

export interface StateStore {
  /** Acquire exclusive use of the backing storage and load it. Call once, before anything else. */
  open(): Promise<void>;
  /** Wait for in-flight commits, then release the storage. Later calls fail. */
  close(): Promise<void>;

  /**
   * Reads are synchronous from memory and reflect every acknowledged (resolved) commit. Returned
   * values are deeply frozen: callers cannot corrupt the store by mutating them (in strict-mode
   * code a write throws). `T` is an unchecked assertion; validate if the data may be foreign.
   */
  get<T = JsonValue>(collection: string, id: string): T | undefined;
  /** The records of one collection, sorted by id so output is deterministic. */
  list<T = JsonValue>(collection: string): StateRecord<T>[];
  /**
   * The records of one collection that `filter` matches, sorted by id, at O(selected) per call:
   * the first call per filter walks the collection once, then the store keeps the selection
   * current. For what runs often over few records (operations in progress) in large states.
   */
  select<T = JsonValue>(collection: string, filter: RecordFilter): StateRecord<T>[];
  /** Names of the collections that hold at least one record, sorted. */
  collections(): string[];

  /**
   * Apply changes atomically (all or none, across collections) and durably: resolves only once the
   * changes are on stable storage, after which they are visible to reads. Concurrent commits are
   * applied in call order. Rejects without applying anything if a change is invalid.
   */
  commit(changes: readonly Change[]): Promise<void>;

  /** A plain JSON copy of all state. */
  export(): StateExport;

  /** Whether a commit can succeed now; no I/O. A store that cannot write recovers by itself. */
  health(): StateHealth;
}
