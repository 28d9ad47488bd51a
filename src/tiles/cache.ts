// Tile aggregates per (API key, period): LRU with TTL, and one shared in-flight
// read per (key, period) so that the five tiles of a dashboard cost one read
// (RELAY.md §9). A failure is never remembered, and the key itself (not its
// short log hash) tells tenants apart, so no tenant sees another's figures or errors.
import type { TileAggregate } from './aggregate.js';
import type { Period } from './definitions.js';

/** An aggregate is a few kilobytes: this many keep memory bounded whatever the number of tenants. */
const MAX_ENTRIES = 2_000;

/** hit: from the cache; shared: joined another request's read; read: this request read SpyCloud. */
export type CacheOutcome = 'hit' | 'shared' | 'read';

interface Entry {
  aggregate: TileAggregate;
  expiresAt: number;
}

export class AggregateCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<TileAggregate>>();
  private readonly ttlMs: number;

  constructor(ttlS: number, private readonly now: () => number, private readonly maxEntries = MAX_ENTRIES) {
    this.ttlMs = ttlS * 1000;
  }

  async get(apiKey: string, period: Period, read: () => Promise<TileAggregate>): Promise<{ aggregate: TileAggregate; outcome: CacheOutcome }> {
    const key = `${apiKey}\u0000${period}`;
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAt > this.now()) {
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, entry);
      return { aggregate: entry.aggregate, outcome: 'hit' };
    }
    if (entry !== undefined) this.entries.delete(key);
    const shared = this.inFlight.get(key);
    if (shared !== undefined) return { aggregate: await shared, outcome: 'shared' };
    const reading = read();
    this.inFlight.set(key, reading);
    try {
      const aggregate = await reading;
      this.remember(key, aggregate);
      return { aggregate, outcome: 'read' };
    } finally {
      this.inFlight.delete(key);
    }
  }

  private remember(key: string, aggregate: TileAggregate): void {
    // Figures counted without some catalogs are shown once, with their warnings, and read again next time.
    if (aggregate.unreadCatalogs.length > 0) return;
    // Counted from the time the figures are as of, so the tiles' valid_time ends when the entry does.
    const expiresAt = aggregate.window.endMs + this.ttlMs;
    if (expiresAt <= this.now()) return;
    this.entries.set(key, { aggregate, expiresAt });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}
