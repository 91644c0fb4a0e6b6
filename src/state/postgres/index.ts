export { SCHEMA_VERSION } from "./migrations.js";
export { assertPostgresState, readPostgresState } from "./read-only.js";
export { PostgresStateStore, type PostgresStateStoreOptions, type ReplicaInfo } from "./store.js";
