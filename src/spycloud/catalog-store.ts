// Breach catalogs are global metadata, so found ones are cached for every tenant
// (RELAY.md §4.3): LRU with TTL. "Missing" is what SpyCloud told one key, so it is
// remembered for that key only (shorter TTL) and never hides a catalog another
// tenant found; one in-flight fetch per (API key, id) so that no tenant ever
// shares another's failure. The key itself, not its short log hash, tells tenants apart.
import type { Catalog, CatalogLookup } from './types.js';

const MAX_ENTRIES = 10_000;
const MISSING_TTL_S = 300;

interface Entry {
  lookup: CatalogLookup;
  expiresAt: number;
}

export type FetchCatalogs = (ids: readonly string[]) => Promise<ReadonlyMap<string, CatalogLookup>>;

export class CatalogStore {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<CatalogLookup>>();
  private readonly foundTtlMs: number;
  private readonly missingTtlMs: number;

  constructor(ttlS: number, private readonly now: () => number) {
    this.foundTtlMs = ttlS * 1000;
    this.missingTtlMs = Math.min(ttlS, MISSING_TTL_S) * 1000;
  }

  /** Looks up `ids` (de-duplicated here), fetching the uncached ones with ONE call of `fetch`. */
  async resolve(ids: readonly string[], apiKey: string, fetch: FetchCatalogs): Promise<Map<string, CatalogLookup>> {
    const wanted = [...new Set(ids)];
    const pending = new Map<string, Promise<CatalogLookup>>();
    const toFetch: string[] = [];
    for (const id of wanted) {
      const key = `${apiKey}\u0000${id}`;
      const cached = this.cached(id) ?? this.cached(key);
      if (cached !== undefined) pending.set(id, Promise.resolve(cached));
      else {
        const shared = this.inFlight.get(key);
        if (shared !== undefined) pending.set(id, shared);
        else toFetch.push(id);
      }
    }
    if (toFetch.length > 0) {
      const batch = fetch(toFetch).then((found) => {
        for (const id of toFetch) this.remember(id, `${apiKey}\u0000${id}`, found.get(id) ?? { status: 'missing' });
        return found;
      });
      for (const id of toFetch) {
        const key = `${apiKey}\u0000${id}`;
        const one = batch.then((found) => found.get(id) ?? ({ status: 'missing' } as const));
        this.inFlight.set(key, one);
        void one.catch(() => undefined).finally(() => this.inFlight.delete(key));
        pending.set(id, one);
      }
    }
    const result = new Map<string, CatalogLookup>();
    for (const [id, lookup] of pending) result.set(id, await lookup);
    return result;
  }

  private cached(entryKey: string): CatalogLookup | undefined {
    const entry = this.entries.get(entryKey);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(entryKey);
      return undefined;
    }
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.entries.delete(entryKey);
    this.entries.set(entryKey, entry);
    return entry.lookup;
  }

  /** Found: under the id, for everyone. Missing: under (key, id), for that key alone. */
  private remember(id: string, keyedId: string, lookup: CatalogLookup): void {
    if (lookup.status === 'failed') return;
    const ttl = lookup.status === 'found' ? this.foundTtlMs : this.missingTtlMs;
    if (ttl <= 0) return;
    const entryKey = lookup.status === 'found' ? id : keyedId;
    if (lookup.status === 'found') this.entries.delete(keyedId);
    this.entries.delete(entryKey);
    this.entries.set(entryKey, { lookup, expiresAt: this.now() + ttl });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }
}

export type { Catalog };
