/**
 * Loading shares what a record has in common with the record loaded before it (deepFreeze with
 * `like`): the loaded value must stay exactly what was stored (same JSON, same key order, deeply
 * frozen), whatever the neighbour holds, and equal parts must really be shared.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deepFreeze, StringSharing } from "../src/state/json.js";

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
    const sharing = new StringSharing();
    const first = sharing.freeze(
      "c",
      JSON.parse('{"id":"a","context":{"org":"o","space":"s"},"list":[1,[]]}'),
    );
    const second = sharing.freeze(
      "c",
      JSON.parse('{"id":"b","context":{"org":"o","space":"s"},"list":[1,[]]}'),
    );
    expect(second).not.toBe(first);
    expect(second.context).toBe(first.context);
    expect(second.list).toBe(first.list);
    const reordered = sharing.freeze(
      "c",
      JSON.parse('{"id":"c","context":{"space":"s","org":"o"},"list":[1,[]]}'),
    );
    expect(reordered.context).not.toBe(second.context);
    expect(JSON.stringify(reordered.context)).toBe('{"space":"s","org":"o"}');
    expect(reordered.list).toBe(first.list);
    // Another collection has its own neighbour.
    const other = sharing.freeze("d", JSON.parse('{"id":"a","context":{"org":"o","space":"s"}}'));
    expect(other.context).not.toBe(first.context);
    // A record equal to its neighbour is the neighbour.
    expect(sharing.freeze("c", JSON.parse(JSON.stringify(reordered)))).toBe(reordered);
  });
});
