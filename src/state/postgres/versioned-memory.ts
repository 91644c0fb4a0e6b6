import { MemoryState } from "../memory-image.js";
import type { JsonValue } from "../types.js";

const keyOf = (collection: string, id: string) => `${collection}\u0000${id}`;

/**
 * The replica's cache of the shared records: the memory image plus, per record, the commit seq
 * that wrote the value held. Catch-up queries and this replica's own commits can arrive in either
 * order; applying a value only when its seq is newer than the one held makes the order irrelevant
 * (an old snapshot can never overwrite a newer commit).
 */
export class VersionedMemory {
  readonly state = new MemoryState();
  readonly #versions = new Map<string, number>();

  /** `value` null = deleted. Returns whether it was newer than what the cache held. */
  apply(collection: string, id: string, value: JsonValue | null, seq: number): boolean {
    const key = keyOf(collection, id);
    if ((this.#versions.get(key) ?? 0) >= seq) return false;
    this.#versions.set(key, seq);
    if (value === null) this.state.delete(collection, id);
    else this.state.put(collection, id, value);
    return true;
  }

  /**
   * After loading every live record as of seq `head`: forgets records the load did not contain
   * unless a commit newer than `head` wrote them (they were deleted in the meantime).
   */
  forgetAbsent(present: Set<string>, head: number): void {
    for (const [key, seq] of this.#versions) {
      if (seq > head || present.has(key)) continue;
      const [collection, id] = key.split("\u0000") as [string, string];
      this.state.delete(collection, id);
      this.#versions.set(key, head);
    }
  }

  static key = keyOf;
}
