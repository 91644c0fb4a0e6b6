import { parseArgs } from "node:util";
import {
  CryptoError,
  KEY_ENV,
  KEY_FILE_ENV,
  type Keyring,
  loadKeyring,
  openAll,
} from "../../crypto/index.js";
import { createLogger } from "../../log/logger.js";
import { rekeyStore } from "../../maintenance/rekey.js";
import {
  FileStateStore,
  PostgresStateStore,
  StateError,
  type StateStore,
  transferState,
} from "../../state/index.js";
import { UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.js";
import { describe, location, openStore, readState } from "../state-location.js";

export interface StateCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

const USAGE = `Usage:
  cfy-broker state export --state DIR|URL [--schema NAME] [--decrypt] [--key-file FILE]
      Print all state as JSON. Read-only and lock-free: safe while the broker runs.
      Sealed values are shown as ciphertext envelopes unless --decrypt is given.
      --decrypt EXPOSES SECRETS (binding credentials...) on stdout; it needs the keys.
  cfy-broker state rekey --state DIR|URL [--schema NAME] [--key-file FILE]
      Re-seal every sealed value with the primary key. A directory: needs the broker stopped
      (takes the directory lock), then compacts so no old ciphertext remains in the files.
      PostgreSQL: one transaction, then VACUUM FULL of the records table; replicas may run if
      they already use the new primary key. The keyring must hold the new primary key and
      every old key still in use.
  cfy-broker state migrate --from DIR|URL --to DIR|URL [--from-schema NAME] [--to-schema NAME]
      Copy all state from one store into another, empty one (file store -> PostgreSQL or
      back), then read the copy back and verify record counts and a checksum of every record.
      Stop the broker first (a directory is locked; a PostgreSQL source must have no live
      replica). Sealed values are copied as they are: the same keys open them.

DIR is a state directory; URL is postgres://user@host:port/database (give the password in
$PGPASSWORD rather than in the URL, which shows up in process listings). NAME is the
PostgreSQL schema (default cfy_broker).

Keys: $${KEY_ENV} (base64 or id:base64) and/or a key file ($${KEY_FILE_ENV} or --key-file;
lines of id:base64 or JSON, first = primary). With both, the $${KEY_ENV} key is primary.
`;

/** `cfy-broker state ...`: inspect and maintain a state directory. */
export async function stateCommand(
  args: string[],
  io: StateCommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === "export") return await exportState(rest, io);
    if (sub === "rekey") return await rekeyState(rest, io);
    if (sub === "migrate") return await migrateState(rest, io);
    if (sub === "help" || sub === "--help" || sub === "-h") {
      io.stdout.write(USAGE);
      return EXIT_OK;
    }
    throw new UsageError(sub ? `unknown subcommand "${sub}"` : "missing subcommand");
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`cfy-broker state: ${error.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (error instanceof StateError || error instanceof CryptoError) {
      io.stderr.write(`cfy-broker state: ${error.message}\n`);
      return EXIT_INVALID;
    }
    throw error;
  }
}

type Options = Record<string, { type: "string" | "boolean" }>;

function parseOptions(args: string[], options: Options) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parse(args: string[], extra: Options = {}) {
  const values = parseOptions(args, {
    state: { type: "string" },
    schema: { type: "string" },
    "key-file": { type: "string" },
    ...extra,
  });
  if (typeof values.state !== "string" || values.state === "")
    throw new UsageError("--state DIR|URL is required");
  const keyFile = typeof values["key-file"] === "string" ? values["key-file"] : undefined;
  const schema = typeof values.schema === "string" ? values.schema : undefined;
  return { where: location(values.state, schema), keyFile, decrypt: values.decrypt === true };
}

function keyring(
  io: StateCommandIo,
  file: string | undefined,
  logger: ReturnType<typeof createLogger>,
): Keyring {
  return loadKeyring({ env: io.env, ...(file === undefined ? {} : { file }), logger });
}

async function exportState(args: string[], io: StateCommandIo): Promise<number> {
  const { where, keyFile, decrypt } = parse(args, { decrypt: { type: "boolean" } });
  const logger = createLogger({ destination: io.stderr, level: "warn", name: "cfy-broker state" });
  // Load keys first: a missing key should fail before reading (possibly large) state.
  const keys = decrypt ? keyring(io, keyFile, logger) : undefined;
  const state = await readState(where, logger);
  const output = keys ? openAll(state, keys) : state;
  io.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  return EXIT_OK;
}

async function rekeyState(args: string[], io: StateCommandIo): Promise<number> {
  const { where, keyFile } = parse(args);
  const logger = createLogger({ destination: io.stderr, level: "warn", name: "cfy-broker state" });
  const keys = keyring(io, keyFile, logger);
  const store = await openStore(where, logger);
  try {
    const result = await rekeyStore(store, keys);
    // Drop the old key's ciphertext from storage: rewrite the snapshot and drop old journals,
    // or rewrite the table without its dead row versions.
    if (store instanceof FileStateStore) await store.compact();
    if (store instanceof PostgresStateStore) await store.vacuumFull();
    io.stdout.write(
      `re-sealed ${result.values} value(s) in ${result.records} record(s) with key "${result.primary}"\n`,
    );
  } finally {
    await store.close();
  }
  return EXIT_OK;
}

async function migrateState(args: string[], io: StateCommandIo): Promise<number> {
  const values = parseOptions(args, {
    from: { type: "string" },
    to: { type: "string" },
    "from-schema": { type: "string" },
    "to-schema": { type: "string" },
  });
  if (typeof values.from !== "string" || !values.from) throw new UsageError("--from DIR|URL is required");
  if (typeof values.to !== "string" || !values.to) throw new UsageError("--to DIR|URL is required");
  const from = location(values.from, values["from-schema"] as string | undefined);
  const to = location(values.to, values["to-schema"] as string | undefined);
  const logger = createLogger({ destination: io.stderr, level: "warn", name: "cfy-broker state" });

  const source = await openStore(from, logger);
  let destination: StateStore | undefined;
  try {
    if (source instanceof PostgresStateStore) {
      const live = await source.replicas();
      if (live.length) {
        throw new StateError(
          "LOCKED",
          `${live.length} broker replica(s) still use ${describe(from)} (${live.map((r) => r.id).join(", ")}); stop them first`,
        );
      }
    }
    destination = await openStore(to, logger, { create: true });
    const target = destination;
    const report = await transferState(source.export(), target, async () => {
      // Read the copy back from storage, not from the writer's memory.
      await target.close();
      return readState(to, logger);
    });
    const counts = Object.entries(report.counts)
      .map(([collection, n]) => `${collection} ${n}`)
      .join(", ");
    io.stdout.write(
      `migrated ${report.records} record(s) from ${describe(from)} to ${describe(to)} (${counts}); ` +
        `counts and every record's checksum verified; digest ${report.digest}\n`,
    );
  } finally {
    await destination?.close().catch(() => {});
    await source.close();
  }
  return EXIT_OK;
}
