import type { Keyring } from "../crypto/keyring.js";
import { resealAll } from "../crypto/walk.js";
import type { Change, StateStore } from "../state/types.js";

export interface RekeyResult {
  /** Records rewritten. */
  records: number;
  /** Envelopes re-sealed. */
  values: number;
  /** Key id everything is now sealed with. */
  primary: string;
}

/**
 * Re-seals every envelope in every record of every collection with the keyring's primary key, in
 * one atomic commit: a crash leaves either all old or all new ciphertext, both readable with the
 * rotation keyring. Envelopes already under the primary key are left alone, so it is idempotent.
 * Afterwards the old key can be dropped from the keyring (compact first so old ciphertext leaves
 * the journal; the `state rekey` command does).
 */
export async function rekeyStore(store: StateStore, keyring: Keyring): Promise<RekeyResult> {
  const changes: Change[] = [];
  let values = 0;
  for (const collection of store.collections()) {
    for (const record of store.list<unknown>(collection)) {
      const { value, count } = resealAll(record.value, keyring);
      if (count === 0) continue;
      values += count;
      changes.push({ type: "put", collection, id: record.id, value });
    }
  }
  if (changes.length > 0) await store.commit(changes);
  return { records: changes.length, values, primary: keyring.primaryId };
}
