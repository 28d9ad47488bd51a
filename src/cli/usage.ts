// A mistake on the command line: runCli prints its message with a pointer to --help, exit code 2.
export class UsageError extends Error {}
