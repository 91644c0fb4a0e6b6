import { createHash, createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { inspect } from "node:util";
import type { Logger } from "../log/logger.js";
import { isSealed, openWithKey, type SealedValue, sealWithKey } from "./envelope.js";
import { KeyringError, SealedValueError, UnknownKeyError } from "./errors.js";

/** Environment variable holding one key: `base64` or `id:base64`. */
export const KEY_ENV = "BROKER_ENCRYPTION_KEY";
/** Environment variable naming a key file (see {@link loadKeyring}). */
export const KEY_FILE_ENV = "BROKER_ENCRYPTION_KEY_FILE";

const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

export interface KeyEntry {
  id: string;
  /** Raw key bytes; the keyring copies them into a KeyObject and zeroes this buffer. */
  key: Buffer;
}

/**
 * A set of AES-256 keys by id. The primary key seals; every key can open, which is what makes
 * rotation possible: add a new primary, keep the old key until `rekey` has re-sealed everything.
 *
 * Key bytes live only inside KeyObjects in a private field, so logging or JSON-serialising a
 * keyring shows key ids, never material.
 */
export class Keyring {
  readonly #keys = new Map<string, KeyObject>();
  readonly primaryId: string;

  /** `entries[0]` is the primary key. */
  constructor(entries: readonly KeyEntry[]) {
    const first = entries[0];
    if (!first) throw new KeyringError("a keyring needs at least one key", "NO_KEY");
    for (const { id, key } of entries) {
      if (!KEY_ID.test(id)) throw new KeyringError(`invalid key id "${id}": use 1-64 of [A-Za-z0-9._-]`);
      if (key.length !== KEY_BYTES) {
        throw new KeyringError(`key "${id}" must be ${KEY_BYTES} bytes, got ${key.length}`);
      }
      if (this.#keys.has(id)) throw new KeyringError(`duplicate key id "${id}"`);
      this.#keys.set(id, createSecretKey(key));
      key.fill(0);
    }
    this.primaryId = first.id;
  }

  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /**
   * Encrypts `value` (any JSON value) with the primary key. Pass a `context` naming where the
   * value is stored (e.g. `binding:<id>/credentials`) so it cannot be replayed elsewhere.
   */
  seal(value: unknown, context?: string): SealedValue {
    return sealWithKey(this.#key(this.primaryId), this.primaryId, value, context);
  }

  /** Decrypts an envelope with whichever key it names. See {@link openWithKey} for `context`. */
  open(sealed: SealedValue, context?: string): unknown {
    if (!isSealed(sealed)) throw new SealedValueError("MALFORMED_ENVELOPE", "value is not a sealed envelope");
    return openWithKey(this.#key(sealed.kid), sealed, context);
  }

  /** Re-encrypts an envelope under the primary key, keeping its context. */
  reseal(sealed: SealedValue): SealedValue {
    return this.seal(this.open(sealed), sealed.ctx);
  }

  #key(kid: string): KeyObject {
    const key = this.#keys.get(kid);
    if (!key) throw new UnknownKeyError(kid, this.ids);
    return key;
  }

  toJSON(): { primary: string; ids: string[] } {
    return { primary: this.primaryId, ids: this.ids };
  }

  [inspect.custom](): string {
    return `Keyring { primary: ${this.primaryId}, ids: [${this.ids.join(", ")}] }`;
  }
}

/**
 * The key id used when a key is given without one: a short hash of the key, stable across
 * restarts and processes. A truncated SHA-256 of a random 256-bit key reveals nothing usable.
 */
export function deriveKeyId(key: Buffer): string {
  return `k-${createHash("sha256").update("cfy-osb-broker/kid\0").update(key).digest("hex").slice(0, 16)}`;
}

/** New random key material, base64 (for operators and tests). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

/** Parses `base64` or `id:base64`. `where` names the source in errors; key text never appears. */
export function parseKeySpec(spec: string, where: string): KeyEntry {
  const text = spec.trim();
  const colon = text.indexOf(":");
  const id = colon >= 0 ? text.slice(0, colon).trim() : undefined;
  const b64 = colon >= 0 ? text.slice(colon + 1).trim() : text;
  const label = id === undefined ? where : `${where}, key "${id}"`;
  if (id !== undefined && !KEY_ID.test(id)) {
    throw new KeyringError(`${where}: invalid key id (use 1-64 of [A-Za-z0-9._-] before the colon)`);
  }
  if (!BASE64.test(b64)) throw new KeyringError(`${label}: key is not valid base64`);
  const key = Buffer.from(b64, b64.includes("-") || b64.includes("_") ? "base64url" : "base64");
  if (key.length !== KEY_BYTES) {
    key.fill(0);
    throw new KeyringError(`${label}: key must be base64 of ${KEY_BYTES} bytes, decodes to ${key.length}`);
  }
  return { id: id ?? deriveKeyId(key), key };
}

function parseKeyFile(path: string, text: string): KeyEntry[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) return parseJsonKeyFile(path, trimmed);
  const entries: KeyEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    const content = line.trim();
    if (content === "" || content.startsWith("#")) continue;
    entries.push(parseKeySpec(content, `key file ${path} line ${i + 1}`));
  }
  return entries;
}

/** JSON: `[{"id","key"}...]` or `{"primary"?: id, "keys": [{"id","key"}...]}`; first is primary. */
function parseJsonKeyFile(path: string, text: string): KeyEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the input, which here is key material.
    throw new KeyringError(`key file ${path}: invalid JSON`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new KeyringError(`key file ${path}: expected an array of {"id","key"}`);
  const entries = list.map((item: unknown, i) => {
    const where = `key file ${path} entry ${i}`;
    const { id, key } = (item ?? {}) as { id?: unknown; key?: unknown };
    if (typeof key !== "string") throw new KeyringError(`${where}: "key" must be a base64 string`);
    if (id !== undefined && typeof id !== "string") throw new KeyringError(`${where}: "id" must be a string`);
    return parseKeySpec(id === undefined ? key : `${id}:${key}`, where);
  });
  const primary = Array.isArray(doc) ? undefined : (doc as { primary?: unknown }).primary;
  if (primary === undefined) return entries;
  const index = entries.findIndex((e) => e.id === primary);
  if (index < 0)
    throw new KeyringError(`key file ${path}: primary key id "${String(primary)}" is not listed`);
  return [entries[index]!, ...entries.filter((_, i) => i !== index)];
}

/**
 * Builds a keyring from key specs (`base64` or `id:base64`), first = primary: the shape of the
 * resolved `broker.encryption.key` + `previous_keys` settings.
 */
export function keyringFromSpecs(specs: readonly string[], where = "encryption key"): Keyring {
  return new Keyring(specs.map((spec, i) => parseKeySpec(spec, `${where} ${i + 1}`)));
}

export interface KeyringSources {
  /** Environment to read {@link KEY_ENV} and {@link KEY_FILE_ENV} from (pass `process.env`). */
  env?: Record<string, string | undefined>;
  /** Key file path; overrides {@link KEY_FILE_ENV}. */
  file?: string;
  /** Receives a warning when the key file is readable by group or others. */
  logger?: Logger;
}

/**
 * Builds the keyring from the environment and/or a key file.
 *
 * - `BROKER_ENCRYPTION_KEY`: one key, `base64` or `id:base64` (id defaults to a hash of the key).
 * - key file (`file` or `BROKER_ENCRYPTION_KEY_FILE`): lines of `id:base64` (or bare base64;
 *   `#` comments) or JSON (see parseJsonKeyFile); the first key is primary.
 * - both: the environment key is primary and the file's keys can still open. This lets a
 *   deployment rotate by setting a new env key while the file keeps the old ones.
 *
 * Throws {@link KeyringError} (code NO_KEY when nothing is configured). Errors never contain keys.
 */
export function loadKeyring(sources: KeyringSources): Keyring {
  const envKey = sources.env?.[KEY_ENV];
  const file = sources.file ?? (sources.env?.[KEY_FILE_ENV] || undefined);
  const entries: KeyEntry[] = [];
  if (envKey !== undefined && envKey.trim() !== "") entries.push(parseKeySpec(envKey, `$${KEY_ENV}`));
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
      const mode = statSync(file).mode;
      if ((mode & 0o077) !== 0) {
        sources.logger?.warn({ file }, "encryption key file is readable by group or others; chmod 600 it");
      }
    } catch (err) {
      throw new KeyringError(
        `cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
    const fromFile = parseKeyFile(file, text);
    if (fromFile.length === 0) throw new KeyringError(`key file ${file} contains no keys`);
    const envEntry = entries[0];
    for (const entry of fromFile) {
      // The env key may also be listed in the file (same id, same key); within the file
      // duplicates are left to the Keyring constructor to reject.
      if (entry.id !== envEntry?.id) {
        entries.push(entry);
        continue;
      }
      const conflict = !envEntry.key.equals(entry.key);
      entry.key.fill(0);
      if (conflict) {
        throw new KeyringError(
          `key id "${entry.id}" appears twice with different keys (${KEY_ENV} and ${file})`,
        );
      }
    }
  }
  if (entries.length === 0) {
    throw new KeyringError(`no encryption key configured: set ${KEY_ENV} or ${KEY_FILE_ENV}`, "NO_KEY");
  }
  return new Keyring(entries);
}
