/** Typed state-store errors; messages name files, offsets and pids so an operator can act. */
export type StateErrorCode =
  | "CORRUPT" // damaged data before the journal tail, or a damaged snapshot
  | "FORMAT" // not a state file, or written by a newer format version
  | "LOCKED" // another broker holds the state directory
  | "INVALID_CHANGE" // a commit's changes are not storable
  | "NOT_OPEN" // used before open() or after close()
  | "FAILED" // an earlier write/fsync failed; the process must restart
  | "UNAVAILABLE"; // storage cannot be written now (database unreachable); retry later

export class StateError extends Error {
  readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class StateCorruptError extends StateError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string) {
    super(
      "CORRUPT",
      `state file ${file} is corrupt at byte offset ${offset}: ${reason}. Refusing to open: ` +
        "later acknowledged data would be lost. Restore the state directory from a backup or repair the file.",
    );
    this.file = file;
    this.offset = offset;
  }
}

export class StateFormatError extends StateError {
  readonly file: string;
  constructor(file: string, reason: string) {
    super("FORMAT", `state file ${file}: ${reason}`);
    this.file = file;
  }
}

export interface LockHolderInfo {
  pid: number;
  hostname: string;
  acquiredAt?: string;
}

export class StateLockedError extends StateError {
  readonly dir: string;
  /** Undefined when the lock file could not be understood. */
  readonly holder: LockHolderInfo | undefined;
  constructor(dir: string, holder: LockHolderInfo | undefined, hint = "") {
    const who = holder
      ? `in use by another broker process (pid ${holder.pid} on host ${holder.hostname}` +
        `${holder.acquiredAt ? `, since ${holder.acquiredAt}` : ""}). Stop it first.`
      : "locked.";
    super("LOCKED", `state directory ${dir} is ${who}${hint ? ` ${hint}` : ""}`);
    this.dir = dir;
    this.holder = holder;
  }
}

export class InvalidChangeError extends StateError {
  constructor(message: string) {
    super("INVALID_CHANGE", message);
  }
}

export class StateNotOpenError extends StateError {
  constructor(what: string) {
    super("NOT_OPEN", `state store is not open (${what})`);
  }
}

/**
 * After a failed write or fsync the on-disk state is unknown (and Linux may have dropped the dirty
 * pages), so the store stops accepting commits; restarting re-reads what actually reached disk.
 */
export class StateStoreFailedError extends StateError {
  constructor(cause: unknown) {
    super(
      "FAILED",
      `state store failed and accepts no more commits; restart the broker (${cause instanceof Error ? cause.message : String(cause)})`,
      { cause },
    );
  }
}

/** The commit was not stored (the state database cannot be reached now); retrying later is right. */
export class StateUnavailableError extends StateError {
  /** errno code of the cause (ECONNREFUSED, ETIMEDOUT...), if any. */
  readonly errnoCode: string | undefined;
  constructor(cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(
      "UNAVAILABLE",
      `state storage cannot be written (${describeWriteFailure(code)}); the change was not stored`,
      {
        cause,
      },
    );
    this.errnoCode = code;
  }
}

export function describeWriteFailure(code: string | undefined): string {
  return `write failed${code ? ` with ${code}` : ""}`;
}
