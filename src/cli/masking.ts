/**
 * Masks secrets in what `cfy-broker render` prints. A value is secret when it
 * - comes from a Cloudify secret (`--secrets`), or from an output or capability whose key names a
 *   secret (password, token, key, ...), wherever it appears, also inside a longer string (a URI);
 * - is generated (`password`, `uuid`): found by rendering twice with different seeds;
 * - sits under a key that names a secret.
 */
export const MASK = "********";
const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|private|api[_-]?key|access[_-]?key|cert/i;
/** Shorter strings (`1`, `no`) would mask innocent text everywhere. */
const MIN_SECRET_LENGTH = 4;

/** Strings under secret-named keys of `sources` (outputs, capabilities), and every secret value. */
export function secretStrings(...sources: (Record<string, unknown> | undefined)[]): string[] {
  const out = new Set<string>();
  const walk = (value: unknown, secretKey: boolean) => {
    if (typeof value === "string" || typeof value === "number") {
      if (secretKey && String(value).length >= MIN_SECRET_LENGTH) out.add(String(value));
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item, secretKey);
    } else if (value && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) walk(item, secretKey || SECRET_KEY.test(key));
    }
  };
  for (const source of sources) walk(source, false);
  return [...out];
}

/**
 * `value` with every secret masked; `other` is the same thing rendered with another seed
 * (leaves that differ are generated), `secretKey` whether an enclosing key names a secret.
 */
export function mask(value: unknown, secrets: string[], other?: unknown, secretKey = false): unknown {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    // Differs when rendered with another seed: generated from the seed.
    if (secretKey || (other !== undefined && other !== value)) return MASK;
    if (typeof value !== "string") return value;
    let out = value;
    for (const secret of [...secrets].sort((a, b) => b.length - a.length))
      if (secret.length >= MIN_SECRET_LENGTH) out = out.split(secret).join(MASK);
    return out;
  }
  if (Array.isArray(value))
    return value.map((item, i) => mask(item, secrets, (other as unknown[] | undefined)?.[i], secretKey));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = mask(
        item,
        secrets,
        (other as Record<string, unknown> | undefined)?.[key],
        secretKey || SECRET_KEY.test(key),
      );
    return out;
  }
  return value;
}
