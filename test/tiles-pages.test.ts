// Tiles read the watchlist page by page (RELAY.md §9, issue 15): a page holds at most
// the 1,000 records SpyCloud documents; one with more is cut there, nothing after it
// is read, and every tile says so. The relay on a real port, the watchlist a stand-in.
import { afterEach, describe, expect, it } from 'vitest';
import { aggregate } from '../src/tiles/aggregate.js';
import { PeriodCount } from '../src/tiles/period-count.js';
import { periodWindow } from '../src/tiles/window.js';
import type { CatalogLookup } from '../src/spycloud/types.js';
import { catalogs } from './support/spycloud.js';
import { WATCHLIST_PATH, watchlistPages, watchRecord } from './support/watchlist.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const NOW = Date.UTC(2026, 2, 15, 14, 30);
const HOUR = 3_600_000;
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

describe('PeriodCount', () => {
  it('counts page by page exactly what aggregate counts at once, asking for catalogs ten unknown sources at a time', async () => {
    const window = periodWindow('last_7_days', NOW);
    // 40 sources over 4 pages; every fifth source a combolist (its records count Medium), source 7 unreadable.
    const records = Array.from({ length: 4_000 }, (_, n) => watchRecord({
      at: new Date(NOW - (1 + (n % 150)) * HOUR).toISOString().replace('.000Z', 'Z'),
      email: `user${n % 70}@acme.example`,
      severity: [2, 5, 20, 30][n % 4],
      source: n % 40,
      machine: n % 9 === 0 ? `m${n % 13}` : undefined,
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
    const atOnce = aggregate(records, window, undefined, (id) => {
      const found = lookup(id);
      return found.status === 'found' ? found.catalog : undefined;
    });
    expect(paged).toEqual({ ...atOnce, unreadCatalogs: [{ id: '7', reason: 'HTTP 503' }] });
    expect(paged.bySeverity.Medium).toBeGreaterThan(0);
    // Each source asked for once.
    expect(asked.flat().sort()).toEqual(Array.from({ length: 40 }, (_, n) => String(n)).sort());
  });
});
