// Breach catalogs are global metadata, so found ones are cached for every tenant
// (RELAY.md §4.3): LRU with TTL. Catalogs change rarely, so past its TTL a found
// entry is still served for up to a day while a refresh runs in the background:
// only a cold cache costs a request a catalog round trip. "Missing" is what
// SpyCloud told one key, so it is remembered for that key only (shorter TTL) and
// never hides a catalog another tenant found later; but a refresh that finds a
// catalog gone stops it for that key at once and for as long as the stale found
// entry lasts (re-asked, as stale, every 300 s, until SpyCloud has it again).
// One in-flight fetch per (API key,
// id) so that no tenant ever shares another's failure. The key itself, not its
// short log hash, tells tenants apart. Stale ids are refreshed together, 20 ms
// after they were seen, so that the observables of a request share their calls.
import { NO_EVENTS, type RelayEvents } from '../events.js';
import type { Catalog, CatalogLookup } from './types.js';

const MAX_ENTRIES = 10_000;
const MISSING_TTL_S = 300;
/** How long a found catalog may be served past its TTL while it is refreshed. */
const STALE_MS = 24 * 3_600_000;
/** After a refresh that failed, the stale entry is served this long before the next try. */
const REFRESH_RETRY_MS = 60_000;
/** Stale ids seen within this long are refreshed in one go (the answer never waits for it). */
const REFRESH_GATHER_MS = 20;

interface Entry {
  lookup: CatalogLookup;
  /** Until then the entry is served as is; after, it is served and refreshed. */
  freshUntil: number;
  /** After then the entry is gone. */
  expiresAt: number;
  /** In which order SpyCloud said so: of a key's "missing" and the shared "found", the later one holds for that key. */
  serial: number;
}

/** Stale ids of one key waiting for their refresh. */
interface DueRefresh {
  ids: string[];
  refresh: FetchCatalogs;
}

export type FetchCatalogs = (ids: readonly string[]) => Promise<ReadonlyMap<string, CatalogLookup>>;

export class CatalogStore {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<CatalogLookup>>();
  /** Ids whose background refresh is due or under way. */
  private readonly refreshing = new Set<string>();
  /** Per API key, the stale ids gathered for its next refresh. */
  private readonly due = new Map<string, DueRefresh>();
  /** Counts the entries stored, to order them. */
  private stored = 0;
  private readonly foundTtlMs: number;
  private readonly missingTtlMs: number;

  constructor(ttlS: number, private readonly now: () => number, private readonly events: RelayEvents = NO_EVENTS) {
    this.foundTtlMs = ttlS * 1000;
    this.missingTtlMs = Math.min(ttlS, MISSING_TTL_S) * 1000;
  }

  /**
   * Looks up `ids` (de-duplicated here), fetching the uncached ones with ONE call of
   * `fetch`; stale ones are answered at once and refreshed with `refresh`, whose
   * failures nobody waits for.
   */
  async resolve(ids: readonly string[], apiKey: string, fetch: FetchCatalogs, refresh: FetchCatalogs = fetch): Promise<Map<string, CatalogLookup>> {
    const wanted = [...new Set(ids)];
    const pending = new Map<string, Promise<CatalogLookup>>();
    const toFetch: string[] = [];
    const stale: string[] = [];
    const now = this.now();
    for (const id of wanted) {
      const key = `${apiKey}\u0000${id}`;
      const cached = this.lookup(id, key);
      if (cached !== undefined) {
        pending.set(id, Promise.resolve(cached.lookup));
        const fresh = cached.freshUntil > now;
        if (!fresh) stale.push(id);
        this.events.catalogLookup(fresh ? 'hit' : 'stale');
      } else {
        this.events.catalogLookup('miss');
        const shared = this.inFlight.get(key);
        if (shared !== undefined) pending.set(id, shared);
        else toFetch.push(id);
      }
    }
    if (stale.length > 0) this.refreshInBackground(stale, apiKey, refresh);
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

  /**
   * Asks for stale catalogs again with the key that saw them, at most one refresh per
   * id at a time, and gathered per key for a moment so that ids seen by several
   * lookups share calls (fetch batches them by ten); the stale entry stays meanwhile.
   */
  private refreshInBackground(ids: readonly string[], apiKey: string, refresh: FetchCatalogs): void {
    const fresh = ids.filter((id) => !this.refreshing.has(id));
    if (fresh.length === 0) return;
    for (const id of fresh) this.refreshing.add(id);
    const gathering = this.due.get(apiKey);
    if (gathering !== undefined) {
      gathering.ids.push(...fresh);
      return;
    }
    this.due.set(apiKey, { ids: [...fresh], refresh });
    setTimeout(() => this.startRefresh(apiKey), REFRESH_GATHER_MS).unref();
  }

  private startRefresh(apiKey: string): void {
    const gathered = this.due.get(apiKey);
    if (gathered === undefined) return;
    this.due.delete(apiKey);
    const { ids } = gathered;
    const settle = (found: ReadonlyMap<string, CatalogLookup> | undefined) => {
      for (const id of ids) {
        const lookup = found?.get(id) ?? (found === undefined ? undefined : { status: 'missing' as const });
        // Gone for this key: from now on it hears so, as a cold fetch would have told it.
        if (lookup?.status === 'found' || lookup?.status === 'missing') this.remember(id, `${apiKey}\u0000${id}`, lookup);
        else this.postpone(id, `${apiKey}\u0000${id}`);
      }
    };
    void gathered.refresh(ids)
      .then(settle, () => settle(undefined))
      .finally(() => {
        for (const id of ids) this.refreshing.delete(id);
      });
  }

  /** A refresh that failed: keep serving the stale entry (found, or this key's missing), try later. */
  private postpone(id: string, keyedId: string): void {
    for (const entry of [this.entries.get(id), this.entries.get(keyedId)]) {
      if (entry !== undefined) entry.freshUntil = this.now() + REFRESH_RETRY_MS;
    }
  }

  /** What `key` is to be told about `id`: the shared found entry, unless SpyCloud told this key "missing" since. */
  private lookup(id: string, keyedId: string): Entry | undefined {
    const found = this.cached(id);
    const missing = this.cached(keyedId);
    if (missing === undefined) return found;
    return found === undefined || missing.serial > found.serial ? missing : found;
  }

  private cached(entryKey: string): Entry | undefined {
    const entry = this.entries.get(entryKey);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(entryKey);
      return undefined;
    }
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.entries.delete(entryKey);
    this.entries.set(entryKey, entry);
    return entry;
  }

  /** Found: under the id, for everyone. Missing: under (key, id), for that key alone. */
  private remember(id: string, keyedId: string, lookup: CatalogLookup): void {
    if (lookup.status === 'failed') return;
    const ttl = lookup.status === 'found' ? this.foundTtlMs : this.missingTtlMs;
    if (ttl <= 0) return;
    const entryKey = lookup.status === 'found' ? id : keyedId;
    if (lookup.status === 'found') this.entries.delete(keyedId);
    this.entries.delete(entryKey);
    const now = this.now();
    // A key told "missing" must never fall back to the shared found entry it outranks, so
    // its entry lasts as long as that one (and is re-asked as stale past its own TTL).
    const outranked = lookup.status === 'missing' ? this.entries.get(id)?.expiresAt ?? 0 : 0;
    const expiresAt = lookup.status === 'found' ? now + Math.max(ttl, STALE_MS) : Math.max(now + ttl, outranked);
    this.entries.set(entryKey, { lookup, freshUntil: now + ttl, expiresAt, serial: ++this.stored });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }
}

export type { Catalog };
