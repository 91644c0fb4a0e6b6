import { InvalidChangeError } from "./errors.js";
import { jsonCopy } from "./json.js";
import type { PreparedChange } from "./memory-image.js";
import type { Change } from "./types.js";

export interface PreparedCommit {
  changes: PreparedChange[];
  /** Journal encoding of each change (see StoredChange in format.ts). */
  encoded: string[];
  /** Approximate journal bytes, for batch sizing. */
  bytes: number;
}

function checkName(kind: string, name: unknown, index: number): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidChangeError(`change ${index}: ${kind} must be a non-empty string`);
  }
  return name;
}

/**
 * Validates and copies a commit's changes up front, synchronously, so an invalid commit is
 * rejected whole before anything is queued, and later mutation by the caller cannot leak in.
 */
export function prepareCommit(changes: readonly Change[]): PreparedCommit {
  if (!Array.isArray(changes)) throw new InvalidChangeError("commit expects an array of changes");
  const prepared: PreparedChange[] = [];
  const encoded: string[] = [];
  let bytes = 0;
  changes.forEach((change: Change, i) => {
    const collection = checkName("collection", change?.collection, i);
    const id = checkName("id", change.id, i);
    let json: string;
    if (change.type === "put") {
      if (change.value === undefined) throw new InvalidChangeError(`change ${i}: put needs a value`);
      const value = jsonCopy(change.value, `${collection}/${id}`);
      prepared.push({ type: "put", collection, id, value });
      json = JSON.stringify({ op: "put", c: collection, id, v: value });
    } else if (change.type === "delete") {
      prepared.push({ type: "delete", collection, id });
      json = JSON.stringify({ op: "del", c: collection, id });
    } else {
      throw new InvalidChangeError(
        `change ${i}: unknown type ${JSON.stringify((change as { type?: unknown }).type)}`,
      );
    }
    encoded.push(json);
    bytes += json.length + 1;
  });
  return { changes: prepared, encoded, bytes };
}
