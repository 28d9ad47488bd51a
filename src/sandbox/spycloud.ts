// The SpyCloud sandbox: a loopback stand-in that serves a dataset the way the
// Employee ATO Prevention API does (RELAY.md §4, §9) — records by email, domain,
// IP and username with cursor pages, catalogs by comma-delimited ids, the
// watchlist by publish date (its modification date too, for the sync), the watchlist identifier the health check asks for,
// the API key check and the 422 of a query too broad. The demo, the tests and the
// bench all use it.
import type { BreachRecord, Catalog } from '../spycloud/types.js';
import { json, startStandIn, type Handler, type StandIn, type StandInOptions } from './stand-in.js';

export interface WatchlistIdentifier {
  readonly identifier_type: 'domain' | 'email' | 'ip';
  readonly identifier_name: string;
  readonly [field: string]: unknown;
}

export interface SpyCloudDataset {
  /** Every breach record, in the order SpyCloud answers them. */
  readonly records: readonly BreachRecord[];
  readonly catalogs: readonly Catalog[];
  /** What the tenant watches: `/watchlist/{name}` answers these, and the watchlist holds the records they match. */
  readonly watchlist: readonly WatchlistIdentifier[];
}

export interface SpyCloudSandboxOptions extends StandInOptions {
  dataset: SpyCloudDataset;
  /** The keys SpyCloud accepts in `X-API-Key`; without it any non-empty key is accepted. */
  apiKeys?: readonly string[];
  /** Records per page (default 1000, as SpyCloud). */
  pageSize?: number;
  /** Domains SpyCloud refuses to search with a 422 (webmail). */
  broadDomains?: readonly string[];
  /** Routes (the stand-in's path syntax) that win over the sandbox's own answers, however broad. */
  routes?: Record<string, Handler>;
}

export const DEFAULT_PAGE_SIZE = 1000;
export const WEBMAIL_DOMAINS: readonly string[] = ['gmail.com', 'googlemail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'aol.com', 'icloud.com'];

export type RecordKind = 'emails' | 'domains' | 'ips' | 'usernames';
export const RECORD_KINDS: readonly RecordKind[] = ['emails', 'domains', 'ips', 'usernames'];

const folded = (value: unknown): string | undefined => (typeof value === 'string' ? value.toLowerCase() : undefined);

/** IPv6 in one spelling (compressed, lower case); IPv4 and anything else as given. */
export function canonicalIp(value: string): string {
  if (!value.includes(':')) return value;
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value.toLowerCase();
  }
}

/** The values of `record` under which a lookup of `kind` finds it, in SpyCloud's matching. */
export function recordKeys(record: BreachRecord, kind: RecordKind): string[] {
  const keys = (() => {
    switch (kind) {
      case 'emails':
        return [folded(record.email)];
      case 'domains':
        return [folded(record.domain), folded(record.email_domain)];
      case 'ips':
        return Array.isArray(record.ip_addresses) ? record.ip_addresses.map((ip) => (typeof ip === 'string' ? canonicalIp(ip) : undefined)) : [];
      case 'usernames':
        return [folded(record.username)];
    }
  })();
  return [...new Set(keys.filter((k): k is string => k !== undefined && k !== ''))];
}

/** How a queried value of `kind` is compared with the keys of recordKeys(). */
const queryKey = (kind: RecordKind, value: string): string => (kind === 'ips' ? canonicalIp(value) : value.toLowerCase());

/** Each kind's records by key, in dataset order. */
function indexRecords(records: readonly BreachRecord[]): Record<RecordKind, Map<string, BreachRecord[]>> {
  const index = Object.fromEntries(RECORD_KINDS.map((kind) => [kind, new Map<string, BreachRecord[]>()])) as Record<RecordKind, Map<string, BreachRecord[]>>;
  for (const record of records) {
    for (const kind of RECORD_KINDS) {
      for (const key of recordKeys(record, kind)) {
        const list = index[kind].get(key) ?? [];
        list.push(record);
        index[kind].set(key, list);
      }
    }
  }
  return index;
}

const KIND_OF_IDENTIFIER: Readonly<Record<WatchlistIdentifier['identifier_type'], RecordKind>> = { domain: 'domains', email: 'emails', ip: 'ips' };

/** The records the watchlist holds: those some identifier finds, in dataset order. */
export function watchlistRecords(dataset: SpyCloudDataset): BreachRecord[] {
  const wanted = dataset.watchlist.map((id) => ({ kind: KIND_OF_IDENTIFIER[id.identifier_type], key: queryKey(KIND_OF_IDENTIFIER[id.identifier_type], id.identifier_name) }));
  return dataset.records.filter((record) => wanted.some(({ kind, key }) => recordKeys(record, kind).includes(key)));
}

// ---- cursors: opaque to clients, they carry where the next page starts and the query's window

interface CursorState {
  offset: number;
  since?: number;
  until?: number;
}

const encodeCursor = (state: CursorState): string => Buffer.from(JSON.stringify(state)).toString('base64url');

function decodeCursor(cursor: string): CursorState | undefined {
  try {
    const state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorState;
    return Number.isSafeInteger(state.offset) && state.offset > 0 ? state : undefined;
  } catch {
    return undefined;
  }
}

class BadRequest extends Error {}

/** One page of `all` from the request's cursor on, with the cursor of the next page ('' when none). */
function pageOf<T>(all: readonly T[], start: CursorState, size: number, window: Omit<CursorState, 'offset'> = {}) {
  const results = all.slice(start.offset, start.offset + size);
  const next = start.offset + size;
  return { cursor: next < all.length ? encodeCursor({ ...window, offset: next }) : '', hits: all.length, results };
}

function requestCursor(search: URLSearchParams): CursorState {
  const raw = search.get('cursor');
  if (raw === null || raw === '') return { offset: 0 };
  const state = decodeCursor(raw);
  if (state === undefined) throw new BadRequest('Invalid cursor');
  return state;
}

/** `since`/`until` as SpyCloud takes them: a UTC date (the whole day) or a date-time. */
export function parseBound(raw: string | null, name: 'since' | 'until'): number | undefined {
  if (raw === null || raw === '') return undefined;
  const day = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?$/i.test(raw);
  const ms = day || time ? Date.parse(day ? `${raw}T00:00:00Z` : /(?:Z|[+-]\d{2}:\d{2})$/i.test(raw) ? raw : `${raw}Z`) : Number.NaN;
  if (Number.isNaN(ms)) throw new BadRequest(`${name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ`);
  // A date-only `until` includes its whole day.
  return name === 'until' && day ? ms + 86_400_000 - 1 : ms;
}

const publishedAt = (record: BreachRecord): number =>
  typeof record.spycloud_publish_date === 'string' ? Date.parse(record.spycloud_publish_date) : Number.NaN;

const searchOf = (url: string): URLSearchParams => new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');

/** The one path segment after `prefix`, percent-decoded; undefined when there is not exactly one. */
function segmentAfter(path: string, prefix: string): string | undefined {
  const raw = path.slice(prefix.length);
  if (raw === '' || raw.includes('/')) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest('Malformed path');
  }
}

const notFound = json({ message: 'Not Found' }, 404);

/** Runs `answer`, turning a BadRequest into SpyCloud's 400. */
const guarded = (answer: Handler): Handler => async (req, res, seen) => {
  try {
    await answer(req, res, seen);
  } catch (error) {
    if (!(error instanceof BadRequest)) throw error;
    json({ message: error.message }, 400)(req, res, seen);
  }
};

/** `/breach/catalog/{id[,id…]}`: the catalogs `lookup` knows, in the order asked; unknown ids are left out. */
export const catalogAnswer = (lookup: (id: string) => Catalog | undefined): Handler => guarded((req, res, seen) => {
  const raw = seen.path.slice('/breach/catalog/'.length);
  let ids: string[];
  try {
    ids = raw.split(',').map(decodeURIComponent);
  } catch {
    throw new BadRequest('Malformed path');
  }
  const results = ids.flatMap((id) => {
    const catalog = lookup(id);
    return catalog === undefined ? [] : [catalog];
  });
  json({ cursor: '', hits: results.length, results })(req, res, seen);
});

/** The sandbox's answer to any request, over `options.dataset`, behind the API key check. */
export function spycloudHandler(options: SpyCloudSandboxOptions): Handler {
  const { dataset } = options;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const broad = new Set((options.broadDomains ?? WEBMAIL_DOMAINS).map((d) => d.toLowerCase()));
  const keys = options.apiKeys === undefined ? undefined : new Set(options.apiKeys);
  const index = indexRecords(dataset.records);
  const catalogs = new Map(dataset.catalogs.map((c) => [String(c.id), c]));
  const watched = new Map(dataset.watchlist.map((id) => [id.identifier_name.toLowerCase(), id]));
  // Publish times parsed once: a tiles read filters the whole watchlist on every page.
  const watchlist = watchlistRecords(dataset).map((record) => ({ record, at: publishedAt(record) }));
  // Each record serialised up front: a page is then only joined, so even the first
  // read of a page costs next to nothing (the bench measures the relay, not this).
  const serialised = new Map(dataset.records.map((record) => [record, JSON.stringify(record)]));
  const recordJson = (record: BreachRecord): string => serialised.get(record) as string;
  const answer = (all: readonly BreachRecord[], start: CursorState, window: Omit<CursorState, 'offset'> = {}): string => {
    const { cursor, hits, results } = pageOf(all, start, pageSize, window);
    return `{"cursor":${JSON.stringify(cursor)},"hits":${hits},"results":[${results.map(recordJson).join(',')}]}`;
  };

  const records = (kind: RecordKind): Handler => guarded((req, res, seen) => {
    const value = segmentAfter(seen.path, `/breach/data/${kind}/`);
    if (value === undefined) return notFound(req, res, seen);
    if (kind === 'domains' && broad.has(value.toLowerCase())) {
      return json({ message: `Query too broad: ${value} is a webmail domain; search for a full email address instead.` }, 422)(req, res, seen);
    }
    json(answer(index[kind].get(queryKey(kind, value)) ?? [], requestCursor(searchOf(seen.url))))(req, res, seen);
  });

  const watchlistPage: Handler = guarded((req, res, seen) => {
    const search = searchOf(seen.url);
    const cursor = requestCursor(search);
    const window = cursor.offset > 0
      ? { since: cursor.since, until: cursor.until }
      // The sync's since_modification_date: the sandbox's records are modified when published.
      : { since: parseBound(search.get('since') ?? search.get('since_modification_date'), 'since'), until: parseBound(search.get('until'), 'until') };
    const inWindow = watchlist
      .filter(({ at }) => (window.since === undefined || at >= window.since) && (window.until === undefined || at <= window.until))
      .map(({ record }) => record);
    json(answer(inWindow, cursor, window))(req, res, seen);
  });

  const identifier: Handler = guarded((req, res, seen) => {
    const name = segmentAfter(seen.path, '/watchlist/');
    const found = name === undefined ? undefined : watched.get(name.toLowerCase());
    // SpyCloud answers 400 for an identifier the tenant does not watch; the relay's health check counts that as reachable.
    if (found === undefined) return json({ message: 'Identifier not found in the watchlist' }, 400)(req, res, seen);
    json({ cursor: '', hits: 1, results: [found] })(req, res, seen);
  });

  const byKind = new Map(RECORD_KINDS.map((kind) => [`/breach/data/${kind}/`, records(kind)]));
  const catalog = catalogAnswer((id) => catalogs.get(id));
  const answerFor = (path: string): Handler => {
    for (const [prefix, handler] of byKind) if (path.startsWith(prefix)) return handler;
    if (path === '/breach/data/watchlist') return watchlistPage;
    if (path.startsWith('/breach/catalog/')) return catalog;
    if (path.startsWith('/watchlist/')) return identifier;
    return notFound;
  };

  return (req, res, seen) => {
    const key = req.headers['x-api-key'];
    const accepted = typeof key === 'string' && key !== '' && (keys === undefined || keys.has(key));
    if (!accepted) return json({ message: key === undefined || key === '' ? 'Missing API key' : 'Invalid API key' }, 401)(req, res, seen);
    return answerFor(seen.path)(req, res, seen);
  };
}

/** Starts the sandbox on loopback (a free port unless `options.port`). */
export function startSpyCloudSandbox(options: SpyCloudSandboxOptions): Promise<StandIn> {
  return startStandIn(options.routes ?? {}, { ...options, fallback: spycloudHandler(options) });
}
