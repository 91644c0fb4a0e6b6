export { isSealed, type SealedValue } from "./envelope.js";
export {
  CryptoError,
  type CryptoErrorCode,
  KeyringError,
  SealedValueError,
  UnknownKeyError,
} from "./errors.js";
export {
  deriveKeyId,
  generateKey,
  KEY_ENV,
  KEY_FILE_ENV,
  type KeyEntry,
  Keyring,
  type KeyringSources,
  keyringFromSpecs,
  loadKeyring,
  parseKeySpec,
} from "./keyring.js";
export { mapSealed, openAll, resealAll } from "./walk.js";
