// The sync of SpyCloud watchlist exposures into XDR incidents (RELAY.md §10): one
// entry point, runSync(config, deps) → SyncReport, for the CLI and the Lambda.
export { loadSyncConfig, XDR_REGIONS, type SyncConfig, type XdrAccess } from './config.js';
export { runSync, sinceDate, type SyncDeps } from './run.js';
export { reportLogFields, reportProblems, succeeded, type SyncReport, type EntityCounts, type EntityType } from './report.js';
