// Dashboard tiles (RELAY.md §9), end to end: the relay on a real port, its clock
// injected, SpyCloud's watchlist played by a stand-in whose pages hold records
// inside and outside the window.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { json, type Handler, type Seen } from './support/stand-in.js';
import { catalogs } from './support/spycloud.js';
import { WATCHLIST_PATH, watchlistPages, watchRecord } from './support/watchlist.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

/** 2026-03-15T14:30:00Z: the 7-day window is (03-08 14:30, 03-15 14:30], eight UTC days. */
const NOW = Date.UTC(2026, 2, 15, 14, 30);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PORTAL = 'https://portal.spycloud.com';
const PREFIX = 'Invalid JSON payload received. ';
const OTHER_KEY = 'sc-other-key-9f3a';
const TILE_IDS = ['spycloud-exposure', 'spycloud-severity', 'spycloud-timeline', 'spycloud-top-breaches', 'spycloud-top-identities'];
const PERIODS = ['last_24_hours', 'last_7_days', 'last_30_days', 'last_90_days'];

/** Two pages; five records inside the 7-day window, seven outside it or without a date. */
const WEEK = [
  [
    watchRecord({ at: '2026-03-15T14:30:00Z', email: 'Alice@Acme.example', severity: 30, source: 100, machine: 'm1', passwordType: 'plaintext' }),
    watchRecord({ at: '2026-03-08T14:30:00Z', email: 'alice@acme.example', severity: 25, source: 100 }), // the window's start: outside
    watchRecord({ at: '2026-03-08T14:30:01Z', email: 'alice@acme.example', severity: 20, source: 100, machine: 'm1', plaintext: 'x', passwordType: 'bcrypt' }),
    watchRecord({ at: '2026-03-10T00:00:00Z', email: 'bob@acme.example', severity: 5, source: 200, passwordType: 'sha1' }),
    watchRecord({ at: '2026-03-01T00:00:00Z', email: 'dave@acme.example', severity: 30, source: 400 }), // before the window
  ],
  [
    watchRecord({ at: '2026-03-09T23:59:59Z', username: 'carol77', severity: 2, source: 200 }),
    watchRecord({ at: '2026-03-12T08:00:00+02:00', email: 'bob@acme.example', severity: 26, source: 300, machine: 'm2' }),
    watchRecord({ at: '2026-03-15T14:30:01Z', email: 'eve@acme.example', severity: 30, source: 400 }), // after now
    watchRecord({ email: 'frank@acme.example', severity: 30, source: 400 }), // no publish date
    watchRecord({ at: '2026-03-10T24:00:00Z', email: 'frank@acme.example', severity: 30, source: 400 }), // no such time
    watchRecord({ at: '2026-03-12T10:60:00Z', email: 'frank@acme.example', severity: 30, source: 400 }), // nor this
    watchRecord({ at: '2026-02-37T10:00:00Z', email: 'frank@acme.example', severity: 30, source: 400 }), // nor this day
  ],
];

const CATALOGS = {
  '100': { id: 100, uuid: '9f1c2a3b-0d4e-4f5a-8b6c-7d8e9f0a1b2c', title: 'Acme | Forum *leak*', spycloud_publish_date: '2026-03-01T00:00:00Z' },
  '300': { id: 300, title: 'RedLine Stealer', spycloud_publish_date: '2026-03-11T00:00:00Z' },
};

let worlds: XdrWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  worlds = [];
});

interface Tiles {
  w: XdrWorld;
  clock: { now: number };
  tileData: (tileId: string, period?: string, claims?: Record<string, unknown>) => Promise<{ status: number; body: any }>;
  reads: () => Seen[];
}

/** A relay whose clock reads `clock.now`, with the watchlist answered by `watchlist`. */
async function tiles(watchlist: Handler = watchlistPages(WEEK), env: Record<string, string> = {}): Promise<Tiles> {
  const clock = { now: NOW };
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5', ...env }, { now: () => clock.now });
  worlds.push(w);
  w.spycloud.route(WATCHLIST_PATH, watchlist);
  w.spycloud.route('/breach/catalog/*', catalogs(CATALOGS));
  return {
    w,
    clock,
    tileData: async (tileId, period = 'last_7_days', claims = {}) =>
      w.relay.post('/tiles/tile-data', { tile_id: tileId, period }, await w.auth(claims)),
    reads: () => w.spycloud.seen.filter((s) => s.path === WATCHLIST_PATH),
  };
}

const ctim = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}.000000Z`;

const fatal = (code: string, message: string) => ({ errors: [{ type: 'fatal', code, message }] });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails loudly instead of hanging (a guard, not a timed assertion). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error(`${what} did not happen`);
    await sleep(5);
  }
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('the tile list (POST /tiles, /tiles/tile)', () => {
  it('offers five tiles with their types, four periods and last_7_days by default', async () => {
    const { w } = await tiles();
    const { status, body } = await w.relay.post('/tiles', undefined, await w.auth());
    expect(status).toBe(200);
    expect(body.data.map((t: any) => [t.id, t.type])).toEqual([
      ['spycloud-exposure', 'metric_group'],
      ['spycloud-severity', 'horizontal_bar_chart'],
      ['spycloud-timeline', 'vertical_bar_chart'],
      ['spycloud-top-breaches', 'markdown'],
      ['spycloud-top-identities', 'markdown'],
    ]);
    for (const tile of body.data) {
      expect(Object.keys(tile).sort()).toEqual(['default_period', 'description', 'id', 'periods', 'short_description', 'tags', 'title', 'type']);
      expect(tile).toMatchObject({ tags: ['SpyCloud'], periods: PERIODS, default_period: 'last_7_days' });
      for (const text of [tile.title, tile.description, tile.short_description]) expect(text).toMatch(/\S/);
    }
    // Nothing upstream for the fixed list.
    expect(w.spycloud.seen).toEqual([]);
  });

  it('answers one tile by its id, with or without a trailing slash', async () => {
    const { w } = await tiles();
    const list = (await w.relay.post('/tiles', undefined, await w.auth())).body.data;
    for (const [index, id] of TILE_IDS.entries()) {
      const { body } = await w.relay.post(index % 2 === 0 ? '/tiles/tile' : '/tiles/tile/', { tile_id: id }, await w.auth());
      expect(body).toEqual({ data: list[index] });
    }
  });

  it.each([
    ['/tiles', undefined],
    ['/tiles/tile', { tile_id: 'spycloud-exposure' }],
    ['/tiles/tile-data', { tile_id: 'spycloud-exposure', period: 'last_7_days' }],
  ])('%s needs a valid token', async (path, body) => {
    const { w, reads } = await tiles();
    expect((await w.relay.post(path, body)).body)
      .toEqual(fatal('authorization error', 'Authorization failed: Authorization header is missing'));
    expect((await w.relay.post(path, body, await w.auth({ key: undefined }))).body)
      .toEqual(fatal('authorization error', 'Authorization failed: Wrong JWT payload structure'));
    expect(reads()).toEqual([]);
  });

  it.each(['/tiles', '/tiles/tile', '/tiles/tile-data/'])('GET %s → 405, Allow: POST', async (path) => {
    const { w } = await tiles();
    const response = await fetch(w.relay.url + path);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await response.json()).toEqual({ code: 405, message: 'Method Not Allowed' });
  });
});

describe('bad tile requests (invalid argument)', () => {
  it.each([
    ['/tiles/tile', '{"tile_id":', 'The body is not valid JSON.'],
    ['/tiles/tile', '', 'The body is not valid JSON.'],
    ['/tiles/tile', '["spycloud-exposure"]', 'The body must be an object with "tile_id".'],
    ['/tiles/tile', '{}', 'The body lacks a non-empty string "tile_id".'],
    ['/tiles/tile', '{"tile_id": 7}', 'The body lacks a non-empty string "tile_id".'],
    ['/tiles/tile', '{"tile_id": "spycloud-nothing"}',
      'Unknown tile_id "spycloud-nothing"; this module offers spycloud-exposure, spycloud-severity, spycloud-timeline, spycloud-top-breaches, spycloud-top-identities.'],
    ['/tiles/tile-data', 'null', 'The body must be an object with "tile_id" and "period".'],
    ['/tiles/tile-data', '{"tile_id": "spycloud-exposure"}', 'The body lacks a non-empty string "period".'],
    ['/tiles/tile-data', '{"tile_id": "spycloud-exposure", "period": "last_year"}',
      'Unknown period "last_year"; the periods are last_24_hours, last_7_days, last_30_days, last_90_days.'],
    ['/tiles/tile-data', '{"tile_id": "SPYCLOUD-EXPOSURE", "period": "last_7_days"}',
      'Unknown tile_id "SPYCLOUD-EXPOSURE"; this module offers spycloud-exposure, spycloud-severity, spycloud-timeline, spycloud-top-breaches, spycloud-top-identities.'],
    ['/tiles/tile-data', JSON.stringify({ tile_id: 'x'.repeat(5000), period: 'last_7_days' }),
      `Unknown tile_id "${'x'.repeat(100)}"; this module offers spycloud-exposure, spycloud-severity, spycloud-timeline, spycloud-top-breaches, spycloud-top-identities.`],
  ])('%s %s', async (path, body, details) => {
    const { w, reads } = await tiles();
    const answer = await w.relay.post(path, body, await w.auth());
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(fatal('invalid argument', PREFIX + details));
    expect(reads()).toEqual([]);
  });
});

describe('tile data of a 7-day period (RELAY.md §9)', () => {
  it('reads every page of the window once, dates in UTC, and frames every tile alike', async () => {
    const { tileData, reads, w } = await tiles();
    const exposure = await tileData('spycloud-exposure');
    expect(exposure.status).toBe(200);
    expect(reads().map((s) => new URL(s.url, 'http://x').searchParams.toString()))
      .toEqual(['since=2026-03-08&until=2026-03-15', 'since=2026-03-08&until=2026-03-15&cursor=page-1']);
    expect(reads().every((s) => s.headers['x-api-key'] === API_KEY)).toBe(true);
    for (const id of TILE_IDS) {
      const { body } = await tileData(id);
      expect(body.errors).toBeUndefined();
      expect(body.data).toMatchObject({
        observed_time: { start_time: '2026-03-08T14:30:00.000000Z', end_time: '2026-03-15T14:30:00.000000Z' },
        valid_time: { start_time: '2026-03-15T14:30:00.000000Z', end_time: '2026-03-15T14:35:00.000000Z' },
        cache_scope: 'org',
        period: 'last_7_days',
      });
    }
    // Five tiles, one read: the later four came from the cache.
    expect(reads()).toHaveLength(2);
    const lines = w.relay.logs.map((l) => JSON.parse(l)).filter((l) => l.path === '/tiles/tile-data');
    expect(lines.map((l) => l.tiles_cache)).toEqual(['read', 'hit', 'hit', 'hit', 'hit', 'hit']);
    // Two pages, and one call for the catalogs of the period's sources (§6's combolist rule needs them).
    expect(lines[0]).toMatchObject({ tile: 'spycloud-exposure', period: 'last_7_days', upstream_calls: 3, status: 200 });
  });

  it('warns on every tile when a catalog cannot be fetched, and does not keep those figures', async () => {
    const { w, tileData } = await tiles();
    w.spycloud.route('/breach/catalog/*', json({ message: 'busy' }, 503));
    const failed = await tileData('spycloud-severity');
    const warnings = failed.body.errors.map((e: any) => e.message);
    expect(warnings).toEqual(['100', '200', '300'].map((id) => `SpyCloud catalog ${id} could not be fetched: Unexpected answer from SpyCloud: HTTP 503 busy.`));
    // Once SpyCloud answers again, the next tile reads again, and counts source 300 (a combolist now) as Medium.
    w.spycloud.route('/breach/catalog/*', catalogs({ ...CATALOGS, '300': { ...CATALOGS['300'], combo_list_flag: true } }));
    const recovered = await tileData('spycloud-severity');
    expect(recovered.body.errors).toBeUndefined();
    expect(recovered.body.data.data.map((bar: any) => [bar.key, bar.value])).toEqual([['Critical', 1], ['High', 1], ['Medium', 2], ['Low', 1]]);
    const lines = w.relay.logs.map((l) => JSON.parse(l)).filter((l) => l.path === '/tiles/tile-data');
    expect(lines.map((l) => l.tiles_cache)).toEqual(['read', 'read']);
  });

  it('counts a combolist\'s records as Medium, as the sightings show them, but their stolen cookies still as cookies', async () => {
    const { w, tileData } = await tiles();
    // Source 300 (bob's severity-26 record) turns out to be a combolist.
    w.spycloud.route('/breach/catalog/*', catalogs({ ...CATALOGS, '300': { ...CATALOGS['300'], combo_list_flag: 'YES' } }));
    const severity = await tileData('spycloud-severity');
    const bar = (level: string, n: number) => ({ key: level, label: level, value: n, values: [{ key: 'records', value: n, tooltip: `${level}: ${n}` }] });
    expect(severity.body.data.data).toEqual([bar('Critical', 1), bar('High', 1), bar('Medium', 2), bar('Low', 1)]);
    const exposure = await tileData('spycloud-exposure');
    expect(exposure.body.data.data[3]).toMatchObject({ label: 'Stolen session cookies', value: 2 });
    const identities = await tileData('spycloud-top-identities');
    expect(identities.body.data.data.find((line: string) => line.includes('bob@acme.example'))).toContain('| Medium |');
    // The dashboard's catalogs are the shared catalog cache's: the titles of the top sources cost no call more.
    expect(w.spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/'))).toHaveLength(1);
  });

  it('counts the exposure metrics, each a whole number with its icon, as XDR\'s metric tiles draw them', async () => {
    const { tileData } = await tiles();
    const { body } = await tileData('spycloud-exposure');
    const metric = (label: string, icon: string, value: number) => ({ icon, label, value, value_unit: 'integer', link_uri: PORTAL });
    expect(body.data.data).toEqual([
      metric('Exposed records', 'warning', 5),
      metric('Exposed identities', 'user', 3),
      metric('Infected machines', 'desktop', 2),
      metric('Stolen session cookies', 'key', 2),
      metric('Plaintext passwords', 'lock', 2),
    ]);
  });

  it('draws one bar per severity present, worst first', async () => {
    const { tileData } = await tiles();
    const { body } = await tileData('spycloud-severity');
    expect(body.data.key_type).toBe('string');
    expect(body.data.keys).toEqual([{ key: 'records', label: 'Records' }]);
    const bar = (level: string, n: number) => ({ key: level, label: level, value: n, values: [{ key: 'records', value: n, tooltip: `${level}: ${n}` }] });
    expect(body.data.data).toEqual([bar('Critical', 2), bar('High', 1), bar('Medium', 1), bar('Low', 1)]);
  });

  it('draws one bar per UTC day of the window, oldest first, empty days included', async () => {
    const { tileData } = await tiles();
    const { body } = await tileData('spycloud-timeline');
    expect(body.data.key_type).toBe('timestamp');
    expect(body.data.keys).toEqual([
      { key: 'critical', label: 'Critical' },
      { key: 'high', label: 'High' },
      { key: 'medium', label: 'Medium' },
      { key: 'low', label: 'Low' },
    ]);
    const day = (date: string, ...values: Array<[string, number]>) => ({
      key: Date.parse(`${date}T00:00:00Z`),
      label: date,
      value: values.reduce((sum, [, n]) => sum + n, 0),
      values: values.map(([level, n]) => ({ key: level.toLowerCase(), value: n, tooltip: `${level}: ${n}` })),
    });
    expect(body.data.data).toEqual([
      day('2026-03-08', ['High', 1]), // 14:30:01, one second into the window
      day('2026-03-09', ['Low', 1]), // 23:59:59 stays on its day
      day('2026-03-10', ['Medium', 1]), // 00:00:00 starts the next
      day('2026-03-11'),
      day('2026-03-12', ['Critical', 1]), // 08:00 at +02:00 is 06:00 UTC
      day('2026-03-13'),
      day('2026-03-14'),
      day('2026-03-15', ['Critical', 1]), // exactly now: inside
    ]);
  });

  it('tables the top breach sources with catalog titles, linked, escaped, the id when SpyCloud lacks the catalog', async () => {
    const { tileData, w } = await tiles();
    const { body } = await tileData('spycloud-top-breaches');
    expect(body.data.data).toEqual([
      '| Breach | Records | Published |',
      '| --- | ---: | --- |',
      `| [Acme \\| Forum \\*leak\\*](${PORTAL}/breach/catalog/9f1c2a3b-0d4e-4f5a-8b6c-7d8e9f0a1b2c) | 2 | 2026-03-15 |`,
      '| 200 | 2 | 2026-03-10 |', // a tie on records: the newer source first
      '| RedLine Stealer | 1 | 2026-03-12 |', // no uuid: no link
    ]);
    const catalogCalls = w.spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/'));
    expect(catalogCalls.map((s) => s.path)).toEqual(['/breach/catalog/100,200,300']);
    // The catalogs come from the catalog cache the next time.
    await tileData('spycloud-top-breaches');
    expect(w.spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/'))).toHaveLength(1);
  });

  it('tables the most exposed identities: emails case-folded, usernames when there is no email', async () => {
    const { tileData } = await tiles();
    const { body } = await tileData('spycloud-top-identities');
    expect(body.data.data).toEqual([
      '| Identity | Records | Worst severity | Newest |',
      '| --- | ---: | --- | --- |',
      '| alice@acme.example | 2 | Critical | 2026-03-15 14:30 |',
      '| bob@acme.example | 2 | Critical | 2026-03-12 06:00 |',
      '| carol77 | 1 | Low | 2026-03-09 23:59 |',
    ]);
  });

  it('keeps the top 10 and says nothing of the rest', async () => {
    const many = Array.from({ length: 14 }, (_, i) =>
      Array.from({ length: i + 1 }, () => watchRecord({ at: '2026-03-14T10:00:00Z', email: `user${i}@acme.example`, severity: 5, source: 1000 + i })));
    const { tileData } = await tiles(watchlistPages([many.flat()]));
    const breaches = (await tileData('spycloud-top-breaches')).body.data.data;
    expect(breaches.slice(2)).toEqual(Array.from({ length: 10 }, (_, k) => `| ${1013 - k} | ${14 - k} | 2026-03-14 |`));
    const identities = (await tileData('spycloud-top-identities')).body.data.data;
    expect(identities.slice(2)).toEqual(Array.from({ length: 10 }, (_, k) => `| user${13 - k}@acme.example | ${14 - k} | Medium | 2026-03-14 10:00 |`));
    expect((await tileData('spycloud-exposure')).body.data.data[0]).toMatchObject({ label: 'Exposed records', value: 105 });
  });

  it('an empty period: zeros, no bars, empty days, tables with their header only', async () => {
    const { tileData, w } = await tiles(watchlistPages([[]]));
    expect((await tileData('spycloud-exposure')).body.data.data.map((m: any) => m.value)).toEqual([0, 0, 0, 0, 0]);
    expect((await tileData('spycloud-severity')).body.data.data).toEqual([]);
    const timeline = (await tileData('spycloud-timeline')).body.data;
    expect(timeline.data).toHaveLength(8);
    expect(timeline.data.every((bar: any) => bar.value === 0 && bar.values.length === 0)).toBe(true);
    // No level has a bar: the legend is empty.
    expect(timeline.keys).toEqual([]);
    expect((await tileData('spycloud-top-breaches')).body.data.data).toEqual(['| Breach | Records | Published |', '| --- | ---: | --- |']);
    expect(w.spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/'))).toEqual([]);
  });

  it('records without a usable severity get an Unknown bar and key, so that the bars still add up', async () => {
    const { tileData } = await tiles(watchlistPages([[
      watchRecord({ at: '2026-03-14T10:00:00Z', email: 'a@acme.example', severity: 5 }),
      watchRecord({ at: '2026-03-14T11:00:00Z', email: 'b@acme.example' }),
    ]]));
    expect((await tileData('spycloud-severity')).body.data.data.map((bar: any) => [bar.key, bar.value])).toEqual([['Medium', 1], ['Unknown', 1]]);
    const timeline = (await tileData('spycloud-timeline')).body.data;
    // The legend: only the levels with a bar in the period.
    expect(timeline.keys).toEqual([{ key: 'medium', label: 'Medium' }, { key: 'unknown', label: 'Unknown' }]);
    expect(timeline.data.at(-2).values).toEqual([
      { key: 'medium', value: 1, tooltip: 'Medium: 1' },
      { key: 'unknown', value: 1, tooltip: 'Unknown: 1' },
    ]);
  });
});

describe('the other periods', () => {
  it('last_24_hours: one bar per UTC hour, the partial first and last hours included', async () => {
    const { tileData, reads } = await tiles(watchlistPages([[
      watchRecord({ at: '2026-03-14T14:30:00Z', email: 'a@acme.example', severity: 30 }), // the start: outside
      watchRecord({ at: '2026-03-14T14:59:59Z', email: 'a@acme.example', severity: 30 }),
      watchRecord({ at: '2026-03-14T15:00:00Z', email: 'a@acme.example', severity: 20 }),
      watchRecord({ at: '2026-03-14T23:59:59.999Z', email: 'b@acme.example', severity: 2 }),
      watchRecord({ at: '2026-03-15T00:00:00Z', email: 'b@acme.example', severity: 2 }),
      watchRecord({ at: '2026-03-15T14:30:00Z', email: 'c@acme.example', severity: 5 }),
      watchRecord({ at: '2026-03-10T12:00:00Z', email: 'd@acme.example', severity: 5 }), // days before
    ]]));
    const { body } = await tileData('spycloud-timeline', 'last_24_hours');
    expect(new URL(reads()[0]!.url, 'http://x').searchParams.toString()).toBe('since=2026-03-14&until=2026-03-15');
    expect(body.data.observed_time).toEqual({ start_time: '2026-03-14T14:30:00.000000Z', end_time: '2026-03-15T14:30:00.000000Z' });
    const bars = body.data.data;
    expect(bars).toHaveLength(25);
    expect(bars[0]).toMatchObject({ key: Date.UTC(2026, 2, 14, 14), label: '2026-03-14 14:00', value: 1, values: [{ key: 'critical', value: 1 }] });
    expect(bars[1]).toMatchObject({ key: Date.UTC(2026, 2, 14, 15), label: '2026-03-14 15:00', value: 1, values: [{ key: 'high', value: 1 }] });
    expect(bars[9]).toMatchObject({ label: '2026-03-14 23:00', value: 1 });
    expect(bars[10]).toMatchObject({ key: Date.UTC(2026, 2, 15), label: '2026-03-15 00:00', value: 1 });
    expect(bars[24]).toMatchObject({ key: Date.UTC(2026, 2, 15, 14), label: '2026-03-15 14:00', value: 1, values: [{ key: 'medium', value: 1 }] });
    expect(bars.reduce((sum: number, bar: any) => sum + bar.value, 0)).toBe(5);
    for (let i = 1; i < bars.length; i++) expect(bars[i].key - bars[i - 1].key).toBe(HOUR);
  });

  it.each([['last_30_days', 30, '2026-02-13'], ['last_90_days', 90, '2025-12-15']])('%s: %i days back, one bar per UTC day', async (period, days, since) => {
    const { tileData, reads } = await tiles(watchlistPages([[
      watchRecord({ at: new Date(NOW - days * DAY + 1000).toISOString(), email: 'a@acme.example', severity: 5 }),
      watchRecord({ at: new Date(NOW - days * DAY).toISOString(), email: 'a@acme.example', severity: 5 }),
    ]]));
    const { body } = await tileData('spycloud-timeline', period);
    expect(new URL(reads()[0]!.url, 'http://x').searchParams.toString()).toBe(`since=${since}&until=2026-03-15`);
    expect(body.data.data).toHaveLength(days + 1);
    expect(body.data.data[0]).toMatchObject({ label: since, value: 1 });
    expect(body.data.observed_time.start_time).toBe(ctim(NOW - days * DAY));
  });

  it('each period has an aggregate of its own', async () => {
    const { tileData, reads } = await tiles();
    for (const period of PERIODS) expect((await tileData('spycloud-exposure', period)).body.data.period).toBe(period);
    for (const period of PERIODS) await tileData('spycloud-severity', period);
    // Two pages per period, each read once.
    expect(reads()).toHaveLength(8);
  });
});

describe('one read per (API key, period), cached for TILES_CACHE_TTL_S', () => {
  it('five concurrent tile-data requests of one key and period read the pages once', async () => {
    const held = gate();
    const pages = watchlistPages(WEEK);
    const { tileData, reads, w } = await tiles(async (req, res, seen) => {
      await held.opened;
      pages(req, res, seen);
    });
    const answers = Promise.all(TILE_IDS.map((id) => tileData(id)));
    await until(() => reads().length === 1, 'the first read');
    // Let the other four arrive while the read is held; any that come later find the cache.
    await sleep(200);
    held.open();
    const bodies = (await answers).map((a) => a.body);
    expect(reads()).toHaveLength(2);
    expect(bodies.every((b) => b.errors === undefined && b.data.period === 'last_7_days')).toBe(true);
    expect(bodies[0].data.data[0].value).toBe(5);
    expect(bodies[2].data.data).toHaveLength(8);
    const outcomes = w.relay.logs.map((l) => JSON.parse(l)).filter((l) => l.path === '/tiles/tile-data').map((l) => l.tiles_cache);
    expect(outcomes.filter((o) => o === 'read')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'shared' || o === 'hit')).toHaveLength(4);
  });

  it('expires after TILES_CACHE_TTL_S by the relay\'s clock, then reads a new window', async () => {
    const { tileData, reads, clock } = await tiles(undefined, { TILES_CACHE_TTL_S: '60' });
    const first = (await tileData('spycloud-exposure')).body.data;
    expect(first.valid_time).toEqual({ start_time: ctim(NOW), end_time: ctim(NOW + 60_000) });
    clock.now = NOW + 59_999;
    const cached = (await tileData('spycloud-exposure')).body.data;
    expect(cached.observed_time).toEqual(first.observed_time);
    expect(reads()).toHaveLength(2);
    clock.now = NOW + 60_000;
    const fresh = (await tileData('spycloud-exposure')).body.data;
    expect(reads()).toHaveLength(4);
    expect(fresh.observed_time.end_time).toBe(ctim(NOW + 60_000));
    expect(fresh.valid_time.end_time).toBe(ctim(NOW + 120_000));
    // The window moved a minute: 03-08 14:30:01 left it, 03-15 14:30:01 entered it.
    expect((await tileData('spycloud-severity')).body.data.data.map((bar: any) => [bar.key, bar.value]))
      .toEqual([['Critical', 3], ['Medium', 1], ['Low', 1]]);
    expect(reads()).toHaveLength(4);
  });

  it('TILES_CACHE_TTL_S=0 reads again for every request', async () => {
    const { tileData, reads } = await tiles(undefined, { TILES_CACHE_TTL_S: '0' });
    await tileData('spycloud-exposure');
    await tileData('spycloud-exposure');
    expect(reads()).toHaveLength(4);
  });

  it('API keys never share figures', async () => {
    const { tileData, w } = await tiles((req, res, seen) => {
      const mine = seen.headers['x-api-key'] === API_KEY;
      watchlistPages(mine ? WEEK : [[watchRecord({ at: '2026-03-14T00:00:00Z', email: 'x@other.example', severity: 5 })]])(req, res, seen);
    });
    expect((await tileData('spycloud-exposure')).body.data.data[0].value).toBe(5);
    expect((await tileData('spycloud-exposure', 'last_7_days', { key: OTHER_KEY })).body.data.data[0].value).toBe(1);
    expect((await tileData('spycloud-exposure')).body.data.data[0].value).toBe(5);
    expect(w.spycloud.seen.filter((s) => s.path === WATCHLIST_PATH && s.headers['x-api-key'] === OTHER_KEY)).toHaveLength(1);
  });

  it('a failure is neither cached nor shared with another key\'s concurrent read', async () => {
    const otherArrived = gate();
    let refuse = true;
    const pages = watchlistPages(WEEK);
    const { tileData, reads } = await tiles(async (req, res, seen) => {
      if (seen.headers['x-api-key'] === OTHER_KEY) {
        otherArrived.open();
        pages(req, res, seen);
        return;
      }
      // Held until the other key's own read has arrived: it did not join this one.
      await otherArrived.opened;
      if (refuse) json({ message: 'Invalid key' }, 401)(req, res, seen);
      else pages(req, res, seen);
    });
    const [mine, other] = await Promise.all([
      tileData('spycloud-exposure'),
      (async () => {
        await until(() => reads().length === 1, 'the first key\'s read');
        return tileData('spycloud-exposure', 'last_7_days', { key: OTHER_KEY });
      })(),
    ]);
    expect(mine.body).toEqual(fatal('authorization error', 'Authorization failed: Invalid key'));
    expect(other.body.data.data[0].value).toBe(5);
    refuse = false;
    expect((await tileData('spycloud-exposure')).body.data.data[0].value).toBe(5);
  });
});

describe('SpyCloud failures on the watchlist read (RELAY.md §4.4)', () => {
  it.each([
    ['401', json({ message: 'Invalid authentication credentials' }, 401), fatal('authorization error', 'Authorization failed: Invalid authentication credentials')],
    ['403', json({}, 403), fatal('authorization error', 'Authorization failed: Forbidden')],
    ['403 Invalid IP', json({ message: 'Forbidden' }, 403, { 'SpyCloud-Error': 'Invalid IP' }),
      fatal('authorization error', "Authorization failed: SpyCloud does not accept calls from this relay's IP address. Ask SpyCloud to allow-list it.")],
    ['429 throttled', json({ message: 'Too Many Requests' }, 429),
      fatal('too many requests', 'Too many requests have been made to Spycloud. Please, try again later.')],
    ['429 quota', json({ message: 'Limit Exceeded' }, 429, { 'x-amzn-ErrorType': 'LimitExceededException' }),
      fatal('too many requests', 'The monthly SpyCloud API quota of this key is exhausted. Contact SpyCloud to raise it.')],
    ['a body that is not a page', json('<html>oops</html>'), fatal('unknown', 'SpyCloud answered with an unexpected body (HTTP 200).')],
  ])('%s → the mapped error on every tile, nothing cached', async (_name, handler, expected) => {
    const { tileData, w } = await tiles(handler);
    for (const id of TILE_IDS) expect((await tileData(id)).body).toEqual(expected);
    // Each request tried again: a failure is never cached.
    const lines = w.relay.logs.map((l) => JSON.parse(l)).filter((l) => l.path === '/tiles/tile-data');
    expect(lines.map((l) => l.tiles_cache)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(lines.every((l) => l.msg === 'request failed' && l.tile !== undefined)).toBe(true);
  });

  it('a 429 is retried and the read goes on', async () => {
    let n = 0;
    const pages = watchlistPages(WEEK);
    const { tileData, reads } = await tiles((req, res, seen) => {
      if (n++ === 1) json({ message: 'Too Many Requests' }, 429)(req, res, seen);
      else pages(req, res, seen);
    });
    expect((await tileData('spycloud-exposure')).body.data.data[0].value).toBe(5);
    expect(reads()).toHaveLength(3);
  });

  it('a timeout on a later page fails the tile; the next request reads again', async () => {
    let hang = true;
    const pages = watchlistPages(WEEK);
    const { tileData, reads } = await tiles((req, res, seen) => {
      if (seen.url.includes('cursor=') && hang) return;
      pages(req, res, seen);
    }, { SPYCLOUD_TIMEOUT_MS: '200' });
    expect((await tileData('spycloud-severity')).body).toEqual(fatal('unknown', 'SpyCloud did not answer within 200 ms.'));
    expect(reads()).toHaveLength(2);
    hang = false;
    expect((await tileData('spycloud-severity')).body.data.data).toHaveLength(4);
  });

  it('a 400 is no records', async () => {
    const { tileData } = await tiles(json({ message: 'Bad Request' }, 400));
    expect((await tileData('spycloud-exposure')).body.data.data[0].value).toBe(0);
  });

  it('a catalog that cannot be fetched leaves the source id and warns; a refused key on it is fatal', async () => {
    const { tileData, w } = await tiles();
    w.spycloud.route('/breach/catalog/*', json({ message: 'oops' }, 500));
    const { body } = await tileData('spycloud-top-breaches');
    expect(body.data.data.slice(2).map((line: string) => line.split(' | ')[0])).toEqual(['| 100', '| 200', '| 300']);
    expect(body.errors).toEqual(['100', '200', '300'].map((id) => ({
      type: 'warning', code: 'unknown', message: `SpyCloud catalog ${id} could not be fetched: The Spycloud internal error.`,
    })));
    w.spycloud.route('/breach/catalog/*', json({ message: 'Forbidden' }, 403));
    expect((await tileData('spycloud-top-breaches')).body).toEqual(fatal('authorization error', 'Authorization failed: Forbidden'));
  });
});

describe('TILES_MAX_PAGES', () => {
  it('when the pages run out, every tile of the period carries the warning', async () => {
    const { tileData, reads } = await tiles(undefined, { TILES_MAX_PAGES: '1' });
    const warning = { type: 'warning', code: 'too many results', message: 'Only the first 5 records SpyCloud returned for the period were counted.' };
    for (const id of TILE_IDS) {
      const { body } = await tileData(id);
      expect(body.errors).toEqual([warning]);
      expect(body.data.period).toBe('last_7_days');
    }
    expect(reads()).toHaveLength(1);
    // The first page alone: three of its five records are in the window.
    expect((await tileData('spycloud-exposure')).body.data.data[0].value).toBe(3);
  });

  it('reads every page when SpyCloud has no more than the limit', async () => {
    const { tileData, reads } = await tiles(undefined, { TILES_MAX_PAGES: '2' });
    expect((await tileData('spycloud-exposure')).body.errors).toBeUndefined();
    expect(reads()).toHaveLength(2);
  });
});

describe('logs', () => {
  it('never log identities, record values, the key or the token', async () => {
    const { tileData, w } = await tiles();
    for (const id of TILE_IDS) await tileData(id);
    const raw = w.relay.logs.join('');
    for (const secret of [API_KEY, 'alice', 'acme.example', 'carol77', 'Forum', (await w.auth()).authorization.slice(7, 60)]) {
      expect(raw).not.toContain(secret);
    }
  });
});

describe('module_type.json and module_type.self-hosted.json', () => {
  it.each(['module_type.json', 'module_type.self-hosted.json'])('%s offers the tiles, and the relay serves every API it lists', async (file) => {
    const moduleType = JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));
    expect(moduleType.capabilities.map((c: any) => c.id)).toContain('tiles');
    const apis: string[] = moduleType.properties['supported-apis'];
    expect(apis).toEqual(expect.arrayContaining(['tiles', 'tiles/tile', 'tiles/tile-data']));
    const { w } = await tiles();
    for (const api of apis) {
      const { status, body } = await w.relay.post(`/${api}`, api === 'observe/observables' ? [] : { tile_id: 'spycloud-exposure', period: 'last_7_days' }, await w.auth());
      expect(status, api).toBe(200);
      expect(body.errors, api).toBeUndefined();
    }
  });
});
