import { hasSealedMarker, isSealed, type SealedValue } from "./envelope.js";
import { SealedValueError } from "./errors.js";
import type { Keyring } from "./keyring.js";

/**
 * Generic traversal of sealed envelopes inside arbitrary JSON values, so export and rekey need no
 * knowledge of record shapes. Unchanged subtrees are returned as the same object (cheap to detect
 * "nothing to do" and safe with frozen inputs: nothing is mutated in place).
 */
export function mapSealed(
  value: unknown,
  fn: (sealed: SealedValue, path: string) => unknown,
  path = "",
): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (hasSealedMarker(value)) {
    if (!isSealed(value)) {
      throw new SealedValueError("MALFORMED_ENVELOPE", `malformed sealed envelope at ${path || "(root)"}`);
    }
    return fn(value, path);
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const mapped = mapSealed(item, fn, `${path}[${i}]`);
      if (mapped !== item) out ??= value.slice();
      if (out) out[i] = mapped;
    });
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const mapped = mapSealed(item, fn, path ? `${path}.${key}` : key);
    if (mapped !== item) out ??= { ...value };
    if (out) out[key] = mapped;
  }
  return out ?? value;
}

/** Replaces every envelope with its plaintext. Exposes secrets: for explicit operator use only. */
export function openAll(value: unknown, keyring: Keyring): unknown {
  return mapSealed(value, (sealed) => keyring.open(sealed));
}

/** Re-seals every envelope not already under the primary key. `count` is how many were re-sealed. */
export function resealAll(value: unknown, keyring: Keyring): { value: unknown; count: number } {
  let count = 0;
  const out = mapSealed(value, (sealed) => {
    if (sealed.kid === keyring.primaryId) return sealed;
    count++;
    return keyring.reseal(sealed);
  });
  return { value: out, count };
}
