/**
 * Loading shares what a record has in common with the record loaded before it (deepFreeze with
 * `like`): the loaded value must stay exactly what was stored (same JSON, same key order, deeply
 * frozen), whatever the neighbour holds, and equal parts must really be shared.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deepFreeze } from "../src/state/json.js";
import { MemoryState } from "../src/state/memory-image.js";

function isDeeplyFrozen(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeeplyFrozen);
}

/** A neighbour that shares some of the value's parts: the value itself, a tweaked copy, or another. */
const pairs = fc.jsonValue().chain((value) =>
  fc.record({
    text: fc.constant(JSON.stringify(value)),
    like: fc.oneof(
      fc.constant(value),
      fc.jsonValue(),
      fc.constant(
        value && typeof value === "object" && !Array.isArray(value) ? { ...value, extra: 1 } : [value, value],
      ),
    ),
  }),
);

describe("deepFreeze with a neighbour", () => {
  it("returns exactly the stored value, deeply frozen, whatever the neighbour", () => {
    fc.assert(
      fc.property(pairs, ({ text, like }) => {
        const neighbour = deepFreeze(JSON.parse(JSON.stringify(like)));
        const loaded = deepFreeze(JSON.parse(text), neighbour);
        expect(JSON.stringify(loaded)).toBe(text);
        expect(isDeeplyFrozen(loaded)).toBe(true);
        expect(JSON.stringify(neighbour)).toBe(JSON.stringify(like));
      }),
      { numRuns: 500 },
    );
  });

  it("shares equal parts in the same place, and nothing whose key order differs", () => {
    const memory = new MemoryState();
    const put = (collection: string, id: string, text: string) => {
      memory.put(collection, id, JSON.parse(text));
      return memory.get(collection, id) as { context: object; list: unknown[] };
    };
    const first = put("c", "a", '{"context":{"org":"o","space":"s"},"list":[1,[]]}');
    // A new record shares with the collection's latest one.
    const second = put("c", "b", '{"context":{"org":"o","space":"s"},"list":[2,[]]}');
    expect(second.context).toBe(first.context);
    expect(second.list).not.toBe(first.list);
    expect(second.list[1]).toBe(first.list[1]);
    const reordered = put("c", "c", '{"context":{"space":"s","org":"o"},"list":[1,[]]}');
    expect(reordered.context).not.toBe(second.context);
    expect(JSON.stringify(reordered.context)).toBe('{"space":"s","org":"o"}');
    // Another collection has its own neighbours.
    expect(put("d", "a", '{"context":{"org":"o","space":"s"}}').context).not.toBe(first.context);
    // A new value of a record shares with its previous value before any other record.
    put("c", "x", '{"context":{"org":"x","space":"y"}}');
    const again = put("c", "a", '{"context":{"org":"o","space":"s"},"list":[1,[]]}');
    expect(again).toBe(first);
    // Values are frozen when stored.
    expect(Object.isFrozen(again.context)).toBe(true);
  });
});
