import { prepareCommit } from "./changes.js";
import { StateNotOpenError } from "./errors.js";
import { MemoryState } from "./memory-image.js";
import type {
  Change,
  JsonValue,
  RecordFilter,
  StateExport,
  StateHealth,
  StateRecord,
  StateStore,
} from "./types.js";

/**
 * A non-durable StateStore with the same validation, freezing and ordering as the file store:
 * for unit tests of code built on the store, and for `--state :memory:`-style demos.
 */
export class MemoryStateStore implements StateStore {
  readonly #memory = new MemoryState();
  #open = false;
  #tail: Promise<void> = Promise.resolve();

  async open(): Promise<void> {
    this.#open = true;
  }

  async close(): Promise<void> {
    await this.#tail;
    this.#open = false;
  }

  get<T = JsonValue>(collection: string, id: string): T | undefined {
    return this.#memory.get(collection, id) as T | undefined;
  }

  list<T = JsonValue>(collection: string): StateRecord<T>[] {
    return this.#memory.list(collection) as StateRecord<T>[];
  }

  select<T = JsonValue>(collection: string, filter: RecordFilter): StateRecord<T>[] {
    return this.#memory.select(collection, filter) as StateRecord<T>[];
  }

  collections(): string[] {
    return this.#memory.collections();
  }

  export(): StateExport {
    return this.#memory.export();
  }

  health(): StateHealth {
    return this.#open ? { writable: true } : { writable: false, reason: "state store is not open" };
  }

  commit(changes: readonly Change[]): Promise<void> {
    if (!this.#open) return Promise.reject(new StateNotOpenError("commit"));
    try {
      const { changes: prepared } = prepareCommit(changes);
      // Applied asynchronously, in call order, like the file store (visible once resolved).
      const done = this.#tail.then(() => {
        for (const change of prepared) this.#memory.apply(change);
      });
      this.#tail = done;
      return done;
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
