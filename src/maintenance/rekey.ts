import { sealPlaintextFields } from "../broker/model/sealing.js";
import type { Keyring } from "../crypto/keyring.js";
import { resealAll } from "../crypto/walk.js";
import type { Change, StateStore } from "../state/types.js";

export interface RekeyResult {
  /** Records rewritten. */
  records: number;
  /** Values re-sealed, or sealed for the first time (stored in clear under allow_plaintext). */
  values: number;
  /** Key id everything is now sealed with. */
  primary: string;
}

/**
 * Re-seals every envelope in every record of every collection with the keyring's primary key, and
 * seals the fields that must be sealed (SEALED_FIELDS) but were stored in clear, in one atomic commit: a crash leaves either all old or all new ciphertext, both readable with the
 * rotation keyring. Envelopes already under the primary key are left alone, so it is idempotent.
 * Afterwards the old key can be dropped from the keyring (compact first so old ciphertext leaves
 * the journal; the `state rekey` command does).
 */
export async function rekeyStore(store: StateStore, keyring: Keyring): Promise<RekeyResult> {
  const changes: Change[] = [];
  let values = 0;
  for (const collection of store.collections()) {
    for (const record of store.list<unknown>(collection)) {
      // Values stored in clear while allow_plaintext was on are sealed now that a key exists (K1).
      const sealed = sealPlaintextFields(collection, record.id, record.value, keyring);
      const { value, count } = resealAll(sealed.value, keyring);
      if (count + sealed.count === 0) continue;
      values += count + sealed.count;
      changes.push({ type: "put", collection, id: record.id, value });
    }
  }
  if (changes.length > 0) await store.commit(changes);
  return { records: changes.length, values, primary: keyring.primaryId };
}
