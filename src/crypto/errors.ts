/**
 * Typed errors for encryption at rest. Messages name key ids, files and contexts, never key
 * material or plaintext, so they are safe to log and to show an operator.
 */
export type CryptoErrorCode =
  | "NO_KEY" // no key configured at all
  | "KEYRING_INVALID" // a key source is unreadable or malformed
  | "UNKNOWN_KEY" // a sealed value names a key id the keyring does not hold
  | "MALFORMED_ENVELOPE" // not a well-formed sealed envelope
  | "CONTEXT_MISMATCH" // sealed for another record/field than the caller expects
  | "DECRYPT_FAILED"; // authentication failed: tampered ciphertext, wrong key material or context

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The keyring could not be built: missing, unreadable or malformed key source. */
export class KeyringError extends CryptoError {
  constructor(message: string, code: "NO_KEY" | "KEYRING_INVALID" = "KEYRING_INVALID") {
    super(code, message);
  }
}

/** A sealed value was produced with a key this keyring does not hold (e.g. retired too early). */
export class UnknownKeyError extends CryptoError {
  readonly kid: string;
  constructor(kid: string, known: readonly string[]) {
    super(
      "UNKNOWN_KEY",
      `sealed value uses key id "${kid}", which is not in the keyring (known key ids: ${known.join(", ") || "none"})`,
    );
    this.kid = kid;
  }
}

/** A sealed value failed to open: bad envelope, wrong context, or authentication failure. */
export class SealedValueError extends CryptoError {
  constructor(code: "MALFORMED_ENVELOPE" | "CONTEXT_MISMATCH" | "DECRYPT_FAILED", message: string) {
    super(code, message);
  }
}
