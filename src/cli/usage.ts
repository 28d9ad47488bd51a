// How the command line ends: a mistake on it, and the exit codes every command shares.

/** Decided once for every command (docs/operations.md#exit-codes). */
export const EXIT = {
  /** Something found, or all is well. */
  ok: 0,
  /** Nothing found, or a check failed. */
  notFound: 1,
  /** A mistake on the command line, a malformed value, or a configuration error. */
  usage: 2,
} as const;

/** A mistake on the command line: runCli prints its message with a pointer to --help, exit code 2. */
export class UsageError extends Error {}
