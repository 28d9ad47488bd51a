// What the relay's parts report as they work (calls, retries, cache results),
// as plain callbacks: the metrics (metrics.ts) listen in server mode; elsewhere
// nothing does. No event carries a key, a tenant, an observable value or a token.

/** SpyCloud endpoint kinds (§8). */
export type UpstreamKind = 'records' | 'catalog' | 'watchlist' | 'health';
/** An upstream call's end: its HTTP status, or how it failed without one. */
export type UpstreamOutcome = number | 'timeout' | 'error';
/** What a SpyCloud call may queue for: a relay-wide connection slot, or room for its answer's bytes. */
export type QueueResource = 'connection' | 'answer_bytes';

export interface RelayEvents {
  upstreamCall(kind: UpstreamKind, outcome: UpstreamOutcome): void;
  upstreamRetry(kind: UpstreamKind): void;
  /** How long one call that had to wait for `resource` waited. */
  upstreamQueued(resource: QueueResource, seconds: number): void;
  catalogLookup(result: 'hit' | 'stale' | 'miss'): void;
  jwksFetch(outcome: 'ok' | 'failed'): void;
  tilesCache(result: 'hit' | 'shared' | 'read'): void;
}

/** For parts built without metrics (Lambda, tests of one part). */
export const NO_EVENTS: RelayEvents = {
  upstreamCall: () => undefined,
  upstreamRetry: () => undefined,
  upstreamQueued: () => undefined,
  catalogLookup: () => undefined,
  jwksFetch: () => undefined,
  tilesCache: () => undefined,
};

/** The kind of a SpyCloud path (already encoded, below the base URL). */
export function upstreamKind(path: string): UpstreamKind {
  if (path.startsWith('/breach/catalog/')) return 'catalog';
  if (path.startsWith('/breach/data/watchlist')) return 'watchlist';
  if (path.startsWith('/watchlist/')) return 'health';
  return 'records';
}
