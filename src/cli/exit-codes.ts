/** Exit codes shared by every command, so scripts and CI can tell the cases apart. */
export const EXIT_OK = 0;
/** The input is invalid (config errors, failed check). */
export const EXIT_INVALID = 1;
/** The command could not run: bad usage, unreadable file. */
export const EXIT_USAGE = 2;
