/** Typed state-store errors; messages name files, offsets and pids so an operator can act. */
export type StateErrorCode =
  | "CORRUPT" // damaged data before the journal tail, or a damaged snapshot
  | "FORMAT" // not a state file, or written by a newer format version
  | "LOCKED" // another broker holds the state directory
  | "MISSING" // the directory held state whose files are now gone
  | "INVALID_CHANGE" // a commit's changes are not storable
  | "NOT_OPEN" // used before open() or after close()
  | "UNAVAILABLE"; // storage cannot be written now (full disk, database unreachable); retry later

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

/**
 * The directory shows it held state (its marker, or a snapshot) but the
 * files holding it are gone: starting would silently forget acknowledged instances and bindings.
 */
export class StateMissingError extends StateError {
  readonly dir: string;
  constructor(dir: string, what: string) {
    super(
      "MISSING",
      `state directory ${dir} held broker state but ${what}. Starting would silently forget ` +
        "acknowledged instances and bindings. Restore the directory from a backup; to start anyway " +
        "with what is left, pass --allow-missing-state once.",
    );
    this.dir = dir;
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
 * The journal could not be written (a full disk, a quota, an I/O error): the commit was not
 * stored, nothing of it remains on disk, and the store keeps trying. Retrying later is right; the
 * message names the cause but no path, so it can reach a platform.
 */
export class StateUnavailableError extends StateError {
  /** errno code of the cause (ENOSPC, EDQUOT, EIO...), if any. */
  readonly errnoCode: string | undefined;
  /** What cannot be written, in words that can reach a platform (no path, no address). */
  readonly reason: string;
  /**
   * Whether the change is certainly not stored ("no": it was never sent, or storage refused it)
   * or its outcome is unknown ("unknown": a database connection broke after the commit was sent).
   */
  readonly stored: "no" | "unknown";
  constructor(cause: unknown, options: { reason?: string; stored?: "no" | "unknown" } = {}) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = options.reason ?? describeWriteFailure(code);
    const stored = options.stored ?? "no";
    super(
      "UNAVAILABLE",
      `state storage cannot be written (${reason}); ${stored === "no" ? "the change was not stored" : "the change may not have been stored"}`,
      {
        cause,
      },
    );
    this.errnoCode = code;
    this.reason = reason;
    this.stored = stored;
  }
}

export function describeWriteFailure(code: string | undefined): string {
  if (code === "ENOSPC") return "no space left on the state volume";
  if (code === "EDQUOT") return "disk quota of the state volume exceeded";
  if (code === "EROFS") return "the state volume is read-only";
  return `write failed${code ? ` with ${code}` : ""}`;
}
