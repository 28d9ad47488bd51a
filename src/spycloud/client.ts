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
/** Records SpyCloud documents per page; a watchlist page with more is not what it promised, so reading stops there. */
const RECORDS_PER_PAGE = 1_000;

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

/** What a page-by-page read came to. */
export interface PagesRead {
  /** Records handed on. */
  records: number;
  /** False when the page limit ran out before SpyCloud's last page, or a page held more than it may. */
  complete: boolean;
}

/** Takes one page's records before the next page is asked for. */
export type PageTaker = (records: readonly BreachRecord[]) => void | Promise<void>;

/** Every path value is ONE segment: an email may legally hold `/`, `?`, `#` or `%`. */
const segment = (value: string): string =>
  // encodeURIComponent leaves dots alone; a segment of only dots must still name a value, not climb.
  /^\.{1,2}$/.test(value) ? value.replaceAll('.', '%2E') : encodeURIComponent(value);

/**
 * A 400 on a page of the sync's watchlist read: on the first page SpyCloud refused
 * the query itself (taking it for no records would make every run a silent no-op);
 * on a later one the cursor, which expires about 2 minutes after its page.
 */
const syncPageRefused = (firstPage: boolean): RelayError => new RelayError('unknown', firstPage
  ? 'SpyCloud refused the watchlist query (HTTP 400): it did not accept since_modification_date for this API key, so nothing was read.'
  : 'SpyCloud refused the cursor of the next page (HTTP 400): it expires about 2 minutes after its page.');

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

  /** `/health`: 2xx or 400 means SpyCloud accepts this key. */
  async checkHealth(caller: Caller): Promise<void> {
    await this.transport.get(`/watchlist/${segment('example.org')}`, caller.apiKey, caller.scope);
  }

  /** Every breach record of `observable`, following cursors up to the page limit, in SpyCloud's order. */
  async breachRecords(observable: SupportedObservable, caller: Caller): Promise<BreachRecord[]> {
    const path = RECORDS_PATH[observable.type] + segment(observable.value);
    const records: BreachRecord[] = [];
    // A loop, not push(...results): spreading a page of 100,000+ records overflows the stack.
    await this.pages(path, '', this.maxPages, Number.POSITIVE_INFINITY, caller, (results) => {
      for (const record of results) records.push(record);
    });
    return records;
  }

  /**
   * Hands `take` the watchlist records SpyCloud published from `since` to `until`
   * (UTC dates, `YYYY-MM-DD`) page by page, following cursors up to `maxPages`;
   * a page over RECORDS_PER_PAGE is cut there and ends the read. `complete` is
   * false when records were left unread.
   */
  watchlistPages(since: string, until: string, maxPages: number, caller: Caller, take: PageTaker): Promise<PagesRead> {
    const query = `since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`;
    return this.pages('/breach/data/watchlist', query, maxPages, RECORDS_PER_PAGE, caller, take);
  }

  /**
   * The watchlist records modified since `since` (a UTC date, `YYYY-MM-DD`), one
   * page at a time and every page, so that the sync holds a page at once and may
   * read the next while it imports one. A 400 on any page is an error (a refused
   * query, an expired cursor), so that a run never takes a cut or empty list for the whole window.
   */
  watchlistModifiedSince(since: string, caller: Caller): AsyncGenerator<readonly BreachRecord[], boolean> {
    const query = `since_modification_date=${encodeURIComponent(since)}`;
    return this.pageStream('/breach/data/watchlist', query, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, caller, true);
  }

  /** Hands `take` each page of `path` (with `query`) before the next is asked for; see pageStream. */
  private async pages(path: string, query: string, maxPages: number, perPage: number, caller: Caller, take: PageTaker): Promise<PagesRead> {
    let records = 0;
    const stream = this.pageStream(path, query, maxPages, perPage, caller);
    for (let next = await stream.next(); ; next = await stream.next()) {
      if (next.done === true) return { records, complete: next.value };
      records += next.value.length;
      await take(next.value);
    }
  }

  /**
   * The one page-following loop: each page of `path` (with `query`) in SpyCloud's
   * order, following cursors up to `maxPages`; a page over `perPage` records is cut
   * there and ends the read. Returns whether SpyCloud's last page was read. A 400
   * is no results (RELAY.md §4.4), on a later page too, unless `refusalFails`.
   */
  private async *pageStream(
    path: string, query: string, maxPages: number, perPage: number, caller: Caller, refusalFails = false,
  ): AsyncGenerator<readonly BreachRecord[], boolean> {
    let cursor = '';
    for (let pages = 0; pages < maxPages; pages++) {
      const params = [query, cursor === '' ? '' : `cursor=${encodeURIComponent(cursor)}`].filter((p) => p !== '').join('&');
      const answer = await this.transport.get(params === '' ? path : `${path}?${params}`, caller.apiKey, caller.scope);
      if (refusalFails && answer.status === 400) throw syncPageRefused(cursor === '');
      const read = page(answer);
      const overfull = read.results.length > perPage;
      yield overfull ? read.results.slice(0, perPage) : read.results;
      cursor = read.cursor;
      if (overfull) return false;
      if (cursor === '') return true;
    }
    return false;
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
