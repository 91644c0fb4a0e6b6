/**
 * Snapshots and journals are read a chunk at a time (visitFileRecords, damageIsAtTail); that
 * must see exactly what a scan of the whole file sees (scanRecords), whatever the chunk size and
 * wherever records are cut or damaged, so the streaming read changes no recovery rule.
 */
import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { damageIsAtTail, encodeRecord, scanRecords, visitFileRecords } from "../src/state/record.js";
import { tempDir } from "./fixtures/state-helpers.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

async function streamed(bytes: Buffer, chunkBytes: number) {
  const path = join(dir, "file");
  await writeFile(path, bytes);
  const handle = await open(path, "r");
  const records: { offset: number; payload: string }[] = [];
  try {
    const scan = await visitFileRecords(
      handle,
      ({ offset, payload }) => records.push({ offset, payload: payload.toString("utf8") }),
      chunkBytes,
    );
    if (!scan.damage) return { records, ...scan };
    return { records, ...scan, atTail: await damageIsAtTail(handle, scan.damage.offset) };
  } finally {
    await handle.close();
  }
}

function whole(bytes: Buffer) {
  const scan = scanRecords(bytes);
  return {
    records: scan.records.map(({ offset, payload }) => ({ offset, payload: payload.toString("utf8") })),
    end: scan.end,
    ...(scan.damage
      ? { damage: { offset: scan.damage.offset, reason: scan.damage.reason }, atTail: scan.damage.atTail }
      : {}),
  };
}

/** Records, then one kind of damage (or none) at a chosen byte: torn tails and mid-file damage. */
const files = fc
  .record({
    payloads: fc.array(fc.string({ maxLength: 40 }), { maxLength: 12 }),
    damage: fc.constantFrom("none", "flip", "cut", "garbage"),
    at: fc.nat(),
    chunkBytes: fc.integer({ min: 1, max: 64 }),
  })
  .map(({ payloads, damage, at, chunkBytes }) => {
    const intact = Buffer.concat(payloads.map((p) => encodeRecord(JSON.stringify(p))));
    const where = intact.length ? at % intact.length : 0;
    let bytes = intact;
    if (damage === "flip" && intact.length) {
      bytes = Buffer.from(intact);
      bytes[where] = bytes[where]! ^ 0x41;
    } else if (damage === "cut") bytes = intact.subarray(0, where);
    else if (damage === "garbage") bytes = Buffer.concat([intact, Buffer.from([0xff, 3, 0])]);
    return { bytes, chunkBytes };
  });

describe("visitFileRecords", () => {
  it("reads what a whole-file scan reads, for any chunk size and any damage", async () => {
    await fc.assert(
      fc.asyncProperty(files, async ({ bytes, chunkBytes }) => {
        expect(await streamed(bytes, chunkBytes)).toEqual(whole(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("reads a record larger than the chunk in one piece", async () => {
    const big = "x".repeat(10_000);
    const bytes = Buffer.concat([
      encodeRecord('"a"'),
      encodeRecord(JSON.stringify(big)),
      encodeRecord('"b"'),
    ]);
    const scan = await streamed(bytes, 16);
    expect(scan.records.map((r) => r.payload)).toEqual(['"a"', JSON.stringify(big), '"b"']);
    expect(scan).toMatchObject({ end: bytes.length });
    expect(scan).not.toHaveProperty("damage");
  });
});
