import { createHmac } from "node:crypto";

/**
 * Deterministic per-binding randomness. Values are HMAC-SHA256 outputs keyed by a per-binding seed, so
 * re-rendering a binding's templates (retries, workflow steps, fetch-binding) yields the same values.
 * A value depends on the seed, its kind, its length and its optional name only, never on the template
 * or the place it is written: `{{password 24}}` in a binding workflow's parameters and in the
 * credentials is one password (docs/TEMPLATES.md), so the app receives what the workflow set. A
 * second, independent value is asked for by name (`{{password 24 "admin"}}`). The seed is the only
 * secret input.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// Largest multiple of 62 below 256: bytes at or above it are skipped so every character is equally likely.
const UNBIASED_LIMIT = 248;
// Bounded retries for the character-class rule; at length 8 about 73% of candidates pass, so 32 attempts
// fail with probability ~1e-18. The last candidate is used rather than throwing in that case.
const MAX_ATTEMPTS = 32;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;

export interface Derivation {
  seed: string;
  /** Names one of a binding's values; "" is the binding's default one. */
  name: string;
}

function label(kind: string, at: Derivation, extra: string): string {
  return `cfy-broker/template/${kind}/v2\0${at.name}\0${extra}`;
}

function drawCharacters(at: Derivation, attempt: number, length: number): string {
  let out = "";
  for (let block = 0; out.length < length; block++) {
    const bytes = createHmac("sha256", at.seed)
      .update(label("password", at, `${length}\0${attempt}\0${block}`))
      .digest();
    for (const byte of bytes) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += ALPHABET[byte % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Many services reject passwords without a lower-case letter, an upper-case letter and a digit. */
function hasEveryClass(password: string): boolean {
  return /[a-z]/.test(password) && /[A-Z]/.test(password) && /[0-9]/.test(password);
}

/** A password of `length` letters and digits containing at least one of each class. */
export function derivePassword(at: Derivation, length: number): string {
  let candidate = "";
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    candidate = drawCharacters(at, attempt, length);
    if (hasEveryClass(candidate)) return candidate;
  }
  return candidate;
}

/** An RFC 4122 version-4-shaped UUID derived from the seed instead of a random source. */
export function deriveUuid(at: Derivation): string {
  const bytes = createHmac("sha256", at.seed)
    .update(label("uuid", at, ""))
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
