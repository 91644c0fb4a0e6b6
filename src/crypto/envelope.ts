import { createCipheriv, createDecipheriv, type KeyObject, randomBytes } from "node:crypto";
import { SealedValueError } from "./errors.js";

/**
 * A sealed value: AES-256-GCM ciphertext of the JSON encoding of a value, in a self-describing
 * JSON envelope so it can sit anywhere inside a stored record and be found again generically
 * (export, rekey) without knowing record shapes.
 *
 * `ctx` is the caller's context string (e.g. "binding:42/credentials"). It is authenticated as
 * associated data, so an envelope copied into another record fails to open there. It is stored in
 * the clear because it is an address, not a secret, and generic tools (rekey) must re-seal under
 * the same context without knowing where the value lives.
 */
export interface SealedValue {
  $sealed: 1;
  kid: string;
  iv: string;
  tag: string;
  data: string;
  ctx?: string;
}

export const SEALED_VERSION = 1;
const ALGORITHM = "aes-256-gcm";
const IV_BYTES = 12; // the GCM standard nonce size; random nonces are safe for 2^32 seals per key
const TAG_BYTES = 16;
/** Domain separation so these ciphertexts cannot be confused with another use of the same key. */
const AAD_PREFIX = "cfy-osb-broker/sealed/v1";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True for a well-formed envelope (shape only; authenticity is checked by opening it). */
export function isSealed(value: unknown): value is SealedValue {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    v.$sealed === SEALED_VERSION &&
    typeof v.kid === "string" &&
    typeof v.iv === "string" &&
    typeof v.tag === "string" &&
    typeof v.data === "string" &&
    (v.ctx === undefined || typeof v.ctx === "string")
  );
}

/** True for anything that claims to be an envelope, well-formed or not (for generic walkers). */
export function hasSealedMarker(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "$sealed" in value;
}

function aad(kid: string, context: string | undefined): Buffer {
  // Binding the key id too means an envelope cannot be relabelled to another key without detection.
  return Buffer.from(`${AAD_PREFIX}\0${kid}\0${context ?? ""}`, "utf8");
}

export function sealWithKey(key: KeyObject, kid: string, value: unknown, context?: string): SealedValue {
  const json = JSON.stringify(value);
  if (json === undefined)
    throw new TypeError("cannot seal a value that has no JSON form (undefined, function)");
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(kid, context));
  const data = Buffer.concat([cipher.update(json, "utf8"), cipher.final()]);
  const sealed: SealedValue = {
    $sealed: SEALED_VERSION,
    kid,
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    data: data.toString("base64"),
  };
  if (context !== undefined) sealed.ctx = context;
  return sealed;
}

function decode(field: string, text: string, expectedLength?: number): Buffer {
  const bytes = BASE64.test(text) ? Buffer.from(text, "base64") : undefined;
  if (!bytes || (expectedLength !== undefined && bytes.length !== expectedLength)) {
    throw new SealedValueError("MALFORMED_ENVELOPE", `sealed value has an invalid "${field}" field`);
  }
  return bytes;
}

/**
 * Opens an envelope with the given key. If `context` is given it must equal the context the value
 * was sealed under; if omitted the envelope's own (authenticated) context is used, which proves
 * integrity but not that the value sits where it was sealed.
 */
export function openWithKey(key: KeyObject, sealed: SealedValue, context?: string): unknown {
  if (context !== undefined && (sealed.ctx ?? "") !== context) {
    throw new SealedValueError(
      "CONTEXT_MISMATCH",
      `sealed value belongs to context "${sealed.ctx ?? ""}", not "${context}"`,
    );
  }
  const iv = decode("iv", sealed.iv, IV_BYTES);
  const tag = decode("tag", sealed.tag, TAG_BYTES);
  const data = decode("data", sealed.data);
  let json: string;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(sealed.kid, sealed.ctx));
    decipher.setAuthTag(tag);
    json = Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
  } catch {
    // Deliberately no detail: OpenSSL's message adds nothing and we never echo ciphertext.
    throw new SealedValueError(
      "DECRYPT_FAILED",
      `sealed value with key id "${sealed.kid}" failed authentication (tampered, or key material does not match the key id)`,
    );
  }
  try {
    return JSON.parse(json);
  } catch {
    throw new SealedValueError("DECRYPT_FAILED", "sealed value decrypted to invalid JSON");
  }
}
