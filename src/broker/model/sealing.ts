import { isSealed, type Keyring } from "../../crypto/index.js";

/**
 * Encryption at rest of what the broker stores about bindings (credentials, parameters, the
 * password seed). Each value is sealed with a context naming its record and field, so a
 * sealed value copied into another record does not open. Without a keyring (only with the
 * explicit, documented-as-unsafe allow_plaintext) values are stored as they are.
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

export const sealContext = (bindingId: string, field: string) => `bindings/${bindingId}/${field}`;
