import { isSealed, type Keyring } from "../../crypto/index.js";
import { BINDINGS } from "./records.js";

/**
 * Encryption at rest of what the broker stores about bindings (docs/CONTRACT.md K1). Each
 * value is sealed with a context naming its record and field, so a sealed value copied into
 * another record does not open. Without a keyring (only with the explicit, documented-as-unsafe
 * allow_plaintext) values are stored as they are; `state rekey` seals them once a key exists.
 */
export class Sealer {
  constructor(private keyring: Keyring | undefined) {}

  /** A reloaded configuration's keys: new values seal with its primary, its older keys still open. */
  useKeyring(keyring: Keyring | undefined): void {
    this.keyring = keyring;
  }

  get encrypting(): boolean {
    return this.keyring !== undefined;
  }

  seal(value: unknown, context: string): unknown {
    return this.keyring ? this.keyring.seal(value, context) : value;
  }

  open<T>(stored: unknown, context: string): T {
    if (isSealed(stored)) {
      if (!this.keyring) throw new Error(`${context} is encrypted but no encryption key is configured`);
      return this.keyring.open(stored, context) as T;
    }
    return stored as T;
  }
}

export const sealContext = (bindingId: string, field: string) => `${BINDINGS}/${bindingId}/${field}`;

/**
 * The fields sealed at rest, per collection (K1): everything a user or Cloudify gave as a secret,
 * and everything derived from one (`password`/`secret` output rendered into credentials or
 * workflow parameters, and the seed that derives passwords). One list, so the services, the
 * engine and `state rekey` cannot disagree about what must never be stored in clear.
 */
export const SEALED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  [BINDINGS]: ["parameters", "seed", "result", "workflowParameters"],
};

/**
 * Seals the fields of SEALED_FIELDS that a record holds in clear (written while
 * allow_plaintext was on); sealed ones are left as they are. `count` is how many were sealed.
 */
export function sealPlaintextFields(
  collection: string,
  id: string,
  record: unknown,
  keyring: Keyring,
): { value: unknown; count: number } {
  const fields = SEALED_FIELDS[collection];
  if (!fields || typeof record !== "object" || record === null) return { value: record, count: 0 };
  const source = record as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  let count = 0;
  for (const field of fields) {
    const value = source[field];
    if (value === undefined || isSealed(value)) continue;
    out ??= { ...source };
    out[field] = keyring.seal(value, `${collection}/${id}/${field}`);
    count++;
  }
  return { value: out ?? record, count };
}
