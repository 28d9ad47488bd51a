// The sync of SpyCloud watchlist exposures into XDR incidents (RELAY.md §10): one
// entry point, runSync(config, deps) → SyncReport, for the CLI and the Lambda.
export { loadSyncConfig, type SyncConfig } from './config.js';
export { runSync, type SyncDeps } from './run.js';
export { reportLogFields, reportProblems, succeeded, type SyncReport } from './report.js';
