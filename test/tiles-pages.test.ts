// Tiles read the watchlist page by page (RELAY.md §9, issue 15): a page holds at most
// the 1,000 records SpyCloud documents; one with more is cut there, nothing after it
// is read, and every tile says so. The relay on a real port, the watchlist a stand-in.
import { afterEach, describe, expect, it } from 'vitest';
import { LEVELS, type Level } from '../src/tiles/aggregate.js';
import { PeriodCount } from '../src/tiles/period-count.js';
import { periodWindow } from '../src/tiles/window.js';
import type { CatalogLookup } from '../src/spycloud/types.js';
import { catalogs } from './support/spycloud.js';
import { json, type Handler } from './support/stand-in.js';
import { WATCHLIST_PATH, watchlistPages, watchRecord } from './support/watchlist.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const NOW = Date.UTC(2026, 2, 15, 14, 30);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
type Answer = { status: number; body: any };
const TILE_IDS = ['spycloud-exposure', 'spycloud-severity', 'spycloud-timeline', 'spycloud-top-breaches', 'spycloud-top-identities'];

let worlds: XdrWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  worlds = [];
});

/** Record n: inside the 7-day window when n is even, a day before it when odd; severity 30 every fourth. */
const recordAt = (n: number) => watchRecord({
  at: new Date(NOW - (n % 2 === 0 ? (1 + (n % 100)) * HOUR : 8 * 24 * HOUR)).toISOString().replace('.000Z', 'Z'),
  email: `user${n % 50}@acme.example`,
  severity: n % 4 === 0 ? 30 : 5,
  source: 100 + (n % 3),
});

async function tiles(pages: object[][]) {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5' }, { now: () => NOW });
  worlds.push(w);
  w.spycloud.route(WATCHLIST_PATH, watchlistPages(pages));
  w.spycloud.route('/breach/catalog/*', catalogs({}));
  return {
    tileData: async (tileId: string) => w.relay.post('/tiles/tile-data', { tile_id: tileId, period: 'last_7_days' }, await w.auth()),
    reads: () => w.spycloud.seen.filter((s) => s.path === WATCHLIST_PATH).length,
  };
}

describe('a watchlist page over 1,000 records', () => {
  it('is counted up to 1,000 records, nothing after it is read, and every tile carries the warning', async () => {
    const huge = Array.from({ length: 25_000 }, (_, n) => recordAt(n));
    const { tileData, reads } = await tiles([huge, [recordAt(0)]]);
    const warning = { type: 'warning', code: 'too many results', message: 'Only the first 1000 records SpyCloud returned for the period were counted.' };
    for (const id of TILE_IDS) {
      const { status, body } = await tileData(id);
      expect(status).toBe(200);
      expect(body.errors).toEqual([warning]);
    }
    expect(reads()).toBe(1);
    const exposure = (await tileData('spycloud-exposure')).body.data.data;
    // Of the first 1,000 records, the 500 even ones are in the window (25 identities); 250 of those have severity 30.
    expect(exposure.map((m: { value: number }) => m.value)).toEqual([500, 25, 0, 250, 0]);
    const bars = (await tileData('spycloud-severity')).body.data.data.map((b: { key: string; value: number }) => [b.key, b.value]);
    expect(bars).toEqual([['Critical', 250], ['Medium', 250]]);
  });

  it('a page of exactly 1,000 records is read whole, and the next one too', async () => {
    const { tileData, reads } = await tiles([Array.from({ length: 1_000 }, (_, n) => recordAt(n)), [recordAt(0)]]);
    const { body } = await tileData('spycloud-exposure');
    expect(body.errors).toBeUndefined();
    expect(body.data.data[0].value).toBe(501);
    expect(reads()).toBe(2);
  });
});

describe('catalog calls of a tile read', () => {
  it('run alongside the pages: every page is asked for before the first catalog answer, ten ids a call', async () => {
    // Ten pages, each with ten sources never seen before; every tenth source a combolist.
    const pages = Array.from({ length: 10 }, (_, p) => Array.from({ length: 100 }, (__, n) => watchRecord({
      at: new Date(NOW - (1 + n) * HOUR).toISOString().replace('.000Z', 'Z'),
      email: `user${n}@acme.example`,
      severity: 30,
      source: 10 * p + (n % 10),
    })));
    const table = Object.fromEntries(Array.from({ length: 100 }, (_, id) => [String(id), { id, title: `Breach ${id}`, combo_list_flag: id % 10 === 0 }]));
    const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5' }, { now: () => NOW });
    worlds.push(w);
    const events: string[] = [];
    const pageHandler = watchlistPages(pages);
    w.spycloud.route(WATCHLIST_PATH, (req, res, seen) => {
      events.push('page');
      return pageHandler(req, res, seen);
    });
    // Catalog answers are held until the tenth page was asked for (or 3 s, so that a read that waits for them ends).
    let allPagesAsked: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      allPagesAsked = resolve;
      setTimeout(resolve, 3_000).unref();
    });
    const catalogHandler = catalogs(table);
    w.spycloud.route('/breach/catalog/*', (async (req, res, seen) => {
      events.push('catalog asked');
      if (events.filter((e) => e === 'page').length === 10) allPagesAsked();
      await held;
      events.push('catalog answered');
      catalogHandler(req, res, seen);
    }) as Handler);
    const { status, body } = await w.relay.post('/tiles/tile-data', { tile_id: 'spycloud-severity', period: 'last_7_days' }, await w.auth());
    expect(status).toBe(200);
    // The figures need every catalog: the combolists' records count Medium, the rest Critical.
    expect(body.data.data.map((b: { key: string; value: number }) => [b.key, b.value])).toEqual([['Critical', 900], ['Medium', 100]]);
    const firstAnswer = events.indexOf('catalog answered');
    expect(events.slice(0, firstAnswer).filter((e) => e === 'page')).toHaveLength(10);
    // At the floor: 100 sources make ten catalog calls of ten ids.
    const asked = w.spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/')).map((s) => s.path.split('/').at(-1)?.split(','));
    expect(asked).toHaveLength(10);
    for (const ids of asked) expect(ids).toHaveLength(10);
  });
});

describe('other requests while a tile read is under way', () => {
  it('are answered between its pages: /version and both tenants\' enrichments come back before the tile does', async () => {
    const pages = Array.from({ length: 4 }, (_, p) => Array.from({ length: 1_000 }, (__, n) => recordAt(4 * n + p)));
    const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5' }, { now: () => NOW });
    worlds.push(w);
    w.spycloud.route('/breach/catalog/*', catalogs({ '100': { id: 100, title: 'Breach 100' } }));
    const enrichment = json({ cursor: '', hits: 1, results: [watchRecord({ email: 'light@other.example', at: '2026-03-01T00:00:00Z', severity: 5, source: 100 })] });
    w.spycloud.route('/breach/data/emails/*', enrichment);
    const events: string[] = [];
    const others: Array<Promise<unknown>> = [];
    // The third page is held until the other requests, sent as the second page went out, were answered (or 5 s passed).
    let othersAnswered: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      othersAnswered = resolve;
      setTimeout(resolve, 5_000).unref();
    });
    const answer = watchlistPages(pages);
    w.spycloud.route(WATCHLIST_PATH, (async (req, res, seen) => {
      const index = Number(new URL(seen.url, 'http://stand-in').searchParams.get('cursor')?.slice('page-'.length) ?? 0);
      events.push(`page ${index + 1} asked`);
      if (index === 1) {
        const after = (what: string) => (result: unknown) => {
          events.push(`${what} answered`);
          return result;
        };
        const email = async (key: string | undefined) => w.relay.post('/observe/observables', [{ type: 'email', value: 'light@other.example' }], await w.auth(key === undefined ? {} : { key }));
        others.push(w.relay.post('/version', {}).then(after('version')));
        others.push(email('sc-other-key-9f3a').then(after('other tenant\'s email')));
        others.push(email(undefined).then(after('same tenant\'s email')));
        void Promise.all(others).then(() => othersAnswered());
      }
      if (index === 2) await held;
      answer(req, res, seen);
    }) as Handler);

    const tile = await w.relay.post('/tiles/tile-data', { tile_id: 'spycloud-exposure', period: 'last_7_days' }, await w.auth());
    events.push('tile answered');
    const [version, otherEmail, sameEmail] = await Promise.all(others) as [Answer, Answer, Answer];
    expect(tile.status).toBe(200);
    // Half of the 4,000 records are in the window.
    expect(tile.body.data.data[0].value).toBe(2_000);
    expect(version.status).toBe(200);
    for (const { status, body } of [otherEmail, sameEmail]) {
      expect(status).toBe(200);
      expect(body.data.sightings.count).toBe(1);
    }
    // Each answered while the read waited for its third page: before the read went on, and before it ended.
    const at = (event: string) => events.indexOf(event);
    for (const other of ['version', 'other tenant\'s email', 'same tenant\'s email']) {
      expect(at(`${other} answered`)).toBeGreaterThan(at('page 2 asked'));
      expect(at(`${other} answered`)).toBeLessThan(at('page 4 asked'));
      expect(at(`${other} answered`)).toBeLessThan(at('tile answered'));
    }
  });
});

describe('PeriodCount', () => {
  it('counts page by page the figures worked out from the records\' facts, asking for catalogs ten unknown sources at a time', async () => {
    const window = periodWindow('last_7_days', NOW);
    // 40 sources over 4 pages; every fifth source a combolist (its records count Medium), source 7 unreadable.
    const facts = Array.from({ length: 4_000 }, (_, n) => ({
      at: NOW - (1 + (n % 150)) * HOUR,
      identity: `user${n % 70}@acme.example`,
      severity: [2, 5, 20, 30][n % 4] as number,
      source: n % 40,
      machine: n % 9 === 0 ? `m${n % 13}` : undefined,
    }));
    const records = facts.map((f) => watchRecord({
      at: new Date(f.at).toISOString().replace('.000Z', 'Z'), email: f.identity, severity: f.severity, source: f.source, machine: f.machine,
    }));
    const lookup = (id: string): CatalogLookup => (id === '7'
      ? { status: 'failed', reason: 'HTTP 503' }
      : { status: 'found', catalog: { id, combo_list_flag: Number(id) % 5 === 0 } });
    const asked: string[][] = [];
    const count = new PeriodCount(window, async (ids) => {
      asked.push([...ids]);
      return new Map(ids.map((id) => [id, lookup(id)]));
    });
    for (let from = 0; from < records.length; from += 1_000) await count.page(records.slice(from, from + 1_000));
    const paged = await count.result(undefined);

    // The figures, worked out from the facts alone (every record is inside the window).
    const levelOf = (f: typeof facts[number]): Level => (f.source % 5 === 0 ? 'Medium'
      : f.severity < 3 ? 'Low' : f.severity < 6 ? 'Medium' : f.severity < 26 ? 'High' : 'Critical');
    const levels = (): Record<Level, number> => ({ Critical: 0, High: 0, Medium: 0, Low: 0, Unknown: 0 });
    const bySeverity = levels();
    const timeline = Array.from({ length: window.buckets }, levels);
    const sources = new Map<string, { sourceId: string; records: number; newestMs: number }>();
    const identities = new Map<string, { identity: string; records: number; worst: Level; newestMs: number }>();
    for (const f of facts) {
      const level = levelOf(f);
      bySeverity[level] += 1;
      (timeline[Math.floor((f.at - window.firstBucketMs) / DAY)] as Record<Level, number>)[level] += 1;
      const source = sources.get(String(f.source)) ?? { sourceId: String(f.source), records: 0, newestMs: 0 };
      sources.set(source.sourceId, { ...source, records: source.records + 1, newestMs: Math.max(source.newestMs, f.at) });
      const identity = identities.get(f.identity) ?? { identity: f.identity, records: 0, worst: 'Unknown', newestMs: 0 };
      const worst = LEVELS.indexOf(level) < LEVELS.indexOf(identity.worst) ? level : identity.worst;
      identities.set(f.identity, { ...identity, records: identity.records + 1, worst, newestMs: Math.max(identity.newestMs, f.at) });
    }
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    const top = <T extends { records: number; newestMs: number }>(all: Iterable<T>, name: (t: T) => string) => [...all]
      .sort((a, b) => b.records - a.records || b.newestMs - a.newestMs || byName(name(a), name(b))).slice(0, 10);
    expect(paged).toEqual({
      window,
      exposure: {
        records: 4_000,
        identities: 70,
        infectedMachines: 13,
        sessionCookies: 1_000,
        plaintextPasswords: 0,
      },
      bySeverity,
      timeline,
      topBreaches: top(sources.values(), (s) => s.sourceId),
      topIdentities: top(identities.values(), (i) => i.identity),
      truncatedAt: undefined,
      unreadCatalogs: [{ id: '7', reason: 'HTTP 503' }],
    });
    // By hand: the 8 combolists' 800 records are Medium; the other 32 sources' 3,200 split evenly over the four severities.
    expect(bySeverity).toEqual({ Critical: 800, High: 800, Medium: 1_600, Low: 800, Unknown: 0 });
    // Each source asked for once, ten a call.
    expect(asked.flat().sort()).toEqual(Array.from({ length: 40 }, (_, n) => String(n)).sort());
    for (const ids of asked) expect(ids).toHaveLength(10);
  });

  it('keeps at most 5,000 levels waiting: then it asks for the sources it has (fewer than ten) and waits', async () => {
    const window = periodWindow('last_7_days', NOW);
    const asked: Array<{ ids: string[]; afterPage: number }> = [];
    let pagesCounted = 0;
    const count = new PeriodCount(window, async (ids) => {
      asked.push({ ids: [...ids], afterPage: pagesCounted });
      return new Map(ids.map((id) => [id, { status: 'found', catalog: { id, combo_list_flag: id === '1' } } as const]));
    });
    const page = Array.from({ length: 1_000 }, (_, n) => watchRecord({ at: new Date(NOW - HOUR).toISOString().replace('.000Z', 'Z'), severity: 30, source: n % 3 }));
    for (let p = 0; p < 6; p++) {
      await count.page(page);
      pagesCounted += 1;
    }
    // Three sources never make ten: they were asked for when the fifth page's levels waited, not at the end.
    expect(asked).toEqual([{ ids: ['0', '1', '2'], afterPage: 4 }]);
    const figures = await count.result(undefined);
    // Source 1, a combolist, has 333 records a page: Medium; the rest Critical.
    expect(figures.bySeverity).toEqual({ Critical: 4_002, High: 0, Medium: 1_998, Low: 0, Unknown: 0 });
  });

  it('a catalog call that fails the request fails the read: the next page and the result', async () => {
    const count = new PeriodCount(periodWindow('last_7_days', NOW), async () => {
      throw new Error('key refused');
    });
    const tenSources = Array.from({ length: 10 }, (_, n) => watchRecord({ at: new Date(NOW - HOUR).toISOString().replace('.000Z', 'Z'), source: n }));
    await count.page(tenSources);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(count.page(tenSources)).rejects.toThrow('key refused');
    await expect(count.result(undefined)).rejects.toThrow('key refused');
  });
});
