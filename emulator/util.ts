import { createHash, randomBytes, randomUUID } from "node:crypto";

export function newId(): string {
  return randomUUID();
}

/** Timestamps the way the manager renders them: ISO 8601 with milliseconds and `Z`. */
export function nowIso(): string {
  return new Date().toISOString();
}

const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export function randomString(length: number): string {
  // Rejection sampling keeps the distribution uniform over the 62 characters.
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/** A stable private address derived from the deployment id, so repeated runs show the same host. */
export function fakeIp(deploymentId: string, salt: string): string {
  const digest = createHash("sha256").update(`${deploymentId}\u0000${salt}`).digest();
  const a = digest[0] ?? 0;
  const b = digest[1] ?? 0;
  const c = digest[2] ?? 0;
  return `10.${a}.${b}.${(c % 254) + 1}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Python `repr` of a list of strings, as it appears in manager error messages: `['a', 'b']`. */
export function pyList(items: readonly string[]): string {
  return `[${items.map((i) => `'${i}'`).join(", ")}]`;
}

/** Python `str()` of a JSON value: how the manager prints values inside messages and `concat`. */
export function pyStr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return pyRepr(value);
}

export function pyRepr(value: unknown): string {
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (isPlainObject(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(", ")}}`;
  }
  return pyStr(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The last non-empty line of a traceback: what the manager quotes from a failed execution. */
export function lastLine(text: string | null): string {
  const lines = (text ?? "").split("\n").filter((l) => l.trim() !== "");
  return lines[lines.length - 1] ?? "";
}
