import { stat } from "node:fs/promises";
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
import { FileStateStore, readStateDir, StateError } from "../../state/index.js";
import { UsageError } from "../args.js";
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.js";

export interface StateCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

const USAGE = `Usage:
  cfy-broker state export --state DIR [--decrypt] [--key-file FILE]
      Print all state as JSON. Read-only and lock-free: safe while the broker runs.
      Sealed values are shown as ciphertext envelopes unless --decrypt is given.
      --decrypt EXPOSES SECRETS (binding credentials...) on stdout; it needs the keys.
  cfy-broker state rekey --state DIR [--key-file FILE]
      Re-seal every sealed value with the primary key, then compact so no old ciphertext
      remains in the state files. Needs the broker stopped (takes the directory lock) and a
      keyring holding the new primary key and every old key still in use.

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

function parse(args: string[], extra: Record<string, { type: "boolean" }> = {}) {
  let values: { state?: string | boolean; "key-file"?: string | boolean; decrypt?: string | boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { state: { type: "string" }, "key-file": { type: "string" }, ...extra },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (typeof values.state !== "string" || values.state === "")
    throw new UsageError("--state DIR is required");
  const keyFile = typeof values["key-file"] === "string" ? values["key-file"] : undefined;
  return { dir: values.state, keyFile, decrypt: values.decrypt === true };
}

function keyring(
  io: StateCommandIo,
  file: string | undefined,
  logger: ReturnType<typeof createLogger>,
): Keyring {
  return loadKeyring({ env: io.env, ...(file === undefined ? {} : { file }), logger });
}

async function exportState(args: string[], io: StateCommandIo): Promise<number> {
  const { dir, keyFile, decrypt } = parse(args, { decrypt: { type: "boolean" } });
  const logger = createLogger({ destination: io.stderr, level: "warn", name: "cfy-broker state" });
  // Load keys first: a missing key should fail before reading (possibly large) state.
  const keys = decrypt ? keyring(io, keyFile, logger) : undefined;
  const state = await readStateDir(dir, logger);
  const output = keys ? openAll(state, keys) : state;
  io.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  return EXIT_OK;
}

async function rekeyState(args: string[], io: StateCommandIo): Promise<number> {
  const { dir, keyFile } = parse(args);
  const logger = createLogger({ destination: io.stderr, level: "warn", name: "cfy-broker state" });
  const keys = keyring(io, keyFile, logger);
  // open() would create a missing directory; a typo in --state should not "succeed" on nothing.
  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    throw new StateError("FORMAT", `no state directory at ${dir}`);
  const store = new FileStateStore({ dir, logger });
  await store.open();
  try {
    const result = await rekeyStore(store, keys);
    // Rewrite the snapshot and drop old journals so the old key's ciphertext leaves the files.
    await store.compact();
    io.stdout.write(
      `re-sealed ${result.values} value(s) in ${result.records} record(s) with key "${result.primary}"\n`,
    );
  } finally {
    await store.close();
  }
  return EXIT_OK;
}
