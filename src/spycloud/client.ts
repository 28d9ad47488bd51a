// The SpyCloud Employee ATO Prevention calls the relay makes (RELAY.md §4.1):
// breach records of an observable (all pages), catalogs (batched, cached), health.
// Knows nothing of CTIM.
import { RelayError } from '../errors.js';
import type { ObservableType, SupportedObservable } from '../observe.js';
import type { CatalogStore } from './catalog-store.js';
import type { SpyCloudTransport } from './transport.js';
import type { BreachRecord, CatalogLookup, Page, RequestScope } from './types.js';
import { endsTheRequest, unexpectedBody, type UpstreamAnswer } from './upstream-errors.js';

/** SpyCloud answers at most this many catalog ids in one comma-delimited call. */
const CATALOG_IDS_PER_CALL = 10;

/** Where SpyCloud keeps the breach records of each observable type. */
const RECORDS_PATH: Readonly<Record<ObservableType, string>> = {
  email: '/breach/data/emails/',
  domain: '/breach/data/domains/',
  ip: '/breach/data/ips/',
  ipv6: '/breach/data/ips/',
  user: '/breach/data/usernames/',
};

export interface Caller {
  apiKey: string;
  scope: RequestScope;
}

/** Records read page by page. */
export interface PagesRead {
  records: BreachRecord[];
  /** False when the page limit ran out before SpyCloud's last page. */
  complete: boolean;
}

/** Every path value is ONE segment: an email may legally hold `/`, `?`, `#` or `%`. */
const segment = (value: string): string =>
  // encodeURIComponent leaves dots alone; a segment of only dots must still name a value, not climb.
  /^\.{1,2}$/.test(value) ? value.replaceAll('.', '%2E') : encodeURIComponent(value);

const cursorRefused = (): RelayError =>
  new RelayError('unknown', 'SpyCloud refused the cursor of the next page (HTTP 400): it expires about 2 minutes after its page; the next run reads the window again.');

function page(answer: UpstreamAnswer): Page {
  if (answer.status === 400) return { cursor: '', results: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    throw unexpectedBody(answer.status);
  }
  const body = parsed as { cursor?: unknown; results?: unknown } | null;
  if (typeof body !== 'object' || body === null || !Array.isArray(body.results)) throw unexpectedBody(answer.status);
  const results = body.results.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r));
  return { cursor: typeof body.cursor === 'string' ? body.cursor : '', results };
}

export class SpyCloudClient {
  constructor(
    private readonly transport: SpyCloudTransport,
    private readonly catalogStore: CatalogStore,
    private readonly maxPages: number,
  ) {}

  /** Lookups worth running at once for `apiKey`: as many as it may have calls in flight. */
  lookupsAllowed(apiKey: string): number {
    return this.transport.callsAllowed(apiKey);
  }

  /**
   * The watchlist records modified since `since` (a UTC date, `YYYY-MM-DD`), one
   * page at a time and every page, so that the sync holds a page at once and may
   * read the next while it imports one. A 400 on a later page is an expired
   * cursor: an error, not the end of the list.
   */
  async *watchlistModifiedSince(since: string, caller: Caller): AsyncGenerator<readonly BreachRecord[]> {
    const path = `/breach/data/watchlist?since_modification_date=${encodeURIComponent(since)}`;
    let cursor = '';
    do {
      const answer = await this.transport.get(cursor === '' ? path : `${path}&cursor=${encodeURIComponent(cursor)}`, caller.apiKey, caller.scope);
      if (cursor !== '' && answer.status === 400) throw cursorRefused();
      const read = page(answer);
      yield read.results;
      cursor = read.cursor;
    } while (cursor !== '');
  }

  /** `/health`: 2xx or 400 means SpyCloud accepts this key. */
  async checkHealth(caller: Caller): Promise<void> {
    await this.transport.get(`/watchlist/${segment('example.org')}`, caller.apiKey, caller.scope);
  }

  /** Every breach record of `observable`, following cursors up to the page limit, in SpyCloud's order. */
  async breachRecords(observable: SupportedObservable, caller: Caller): Promise<BreachRecord[]> {
    const path = RECORDS_PATH[observable.type] + segment(observable.value);
    return (await this.pages(path, '', this.maxPages, caller)).records;
  }

  /**
   * The watchlist records SpyCloud published from `since` to `until` (UTC dates,
   * `YYYY-MM-DD`), following cursors up to `maxPages`; `complete` is false when
   * pages were left unread.
   */
  watchlistRecords(since: string, until: string, maxPages: number, caller: Caller): Promise<PagesRead> {
    return this.pages('/breach/data/watchlist', `since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`, maxPages, caller);
  }

  /** The records of `path` (with `query`), following cursors up to `maxPages`, in SpyCloud's order. */
  private async pages(path: string, query: string, maxPages: number, caller: Caller): Promise<PagesRead> {
    const records: BreachRecord[] = [];
    let cursor = '';
    for (let pages = 0; pages < maxPages; pages++) {
      const params = [query, cursor === '' ? '' : `cursor=${encodeURIComponent(cursor)}`].filter((p) => p !== '').join('&');
      const answer = page(await this.transport.get(params === '' ? path : `${path}?${params}`, caller.apiKey, caller.scope));
      // A loop, not push(...results): spreading a page of 100,000+ records overflows the stack.
      for (const record of answer.results) records.push(record);
      cursor = answer.cursor;
      if (cursor === '') return { records, complete: true };
    }
    return { records, complete: false };
  }

  /**
   * The catalogs of `ids`; a failure that does not end the request becomes a `failed`
   * lookup. Stale cached catalogs are answered at once and refreshed in the background.
   */
  catalogs(ids: readonly string[], caller: Caller): Promise<Map<string, CatalogLookup>> {
    const refresh = (stale: readonly string[]) =>
      this.transport.detached((scope) => this.fetchCatalogs(stale, { apiKey: caller.apiKey, scope }));
    return this.catalogStore.resolve(ids, caller.apiKey, (uncached) => this.fetchCatalogs(uncached, caller), refresh);
  }

  private async fetchCatalogs(ids: readonly string[], caller: Caller): Promise<Map<string, CatalogLookup>> {
    const found = new Map<string, CatalogLookup>();
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += CATALOG_IDS_PER_CALL) chunks.push(ids.slice(i, i + CATALOG_IDS_PER_CALL));
    await Promise.all(chunks.map((chunk) => this.fetchChunk(chunk, caller, found)));
    return found;
  }

  private async fetchChunk(ids: string[], caller: Caller, found: Map<string, CatalogLookup>): Promise<void> {
    try {
      const answer = page(await this.transport.get(`/breach/catalog/${ids.map(segment).join(',')}`, caller.apiKey, caller.scope));
      for (const catalog of answer.results) {
        // Only a string or number is an id: String() of an arbitrary JSON object can throw.
        const id = typeof catalog.id === 'string' || typeof catalog.id === 'number' ? String(catalog.id) : undefined;
        if (id !== undefined && ids.includes(id)) found.set(id, { status: 'found', catalog });
      }
    } catch (error) {
      if (!(error instanceof RelayError) || endsTheRequest(error)) throw error;
      // 404 on several ids cannot tell which one is unknown: ask for each alone.
      if (error.code === 'not found' && ids.length > 1) {
        await Promise.all(ids.map((id) => this.fetchChunk([id], caller, found)));
        return;
      }
      for (const id of ids) {
        found.set(id, error.code === 'not found' ? { status: 'missing' } : { status: 'failed', reason: error.message });
      }
    }
  }
}
