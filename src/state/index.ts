export {
  describeWriteFailure,
  InvalidChangeError,
  type LockHolderInfo,
  StateCorruptError,
  StateError,
  type StateErrorCode,
  StateFormatError,
  StateLockedError,
  StateMissingError,
  StateNotOpenError,
  StateUnavailableError,
} from "./errors.js";
export {
  type CompactionStep,
  FileStateStore,
  type FileStateStoreOptions,
  type FileStateStoreStats,
} from "./file-store.js";
export { FORMAT_VERSION } from "./format.js";
export { MemoryStateStore } from "./memory-store.js";
export {
  assertPostgresState,
  PostgresStateStore,
  type PostgresStateStoreOptions,
  type ReplicaInfo,
  readPostgresState,
} from "./postgres/index.js";
export { readStateDir } from "./read-only.js";
export { recordChecksum, type TransferReport, transferState, verifyTransfer } from "./transfer.js";
export type {
  Change,
  JsonValue,
  RecordFilter,
  SharedStateCoordination,
  StateExport,
  StateHealth,
  StateRecord,
  StateStore,
} from "./types.js";
