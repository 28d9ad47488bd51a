// Stale catalogs (RELAY.md §4.3, issue 15): a refresh that finds a catalog gone
// stops serving it to that key at once, and stale ids are refreshed in batches of
// ten like cold fetches. The relay on a real port, SpyCloud a stand-in on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest';
import { catalogCalls, catalogs } from './support/spycloud.js';
import { json, type Handler } from './support/stand-in.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const OTHER_KEY = 'sc-other-key-9f3a';
const HOUR = 3_600_000;

let worlds: XdrWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  worlds = [];
});

async function world(clock: { now: number }): Promise<XdrWorld> {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5' }, { now: () => clock.now });
  worlds.push(w);
  return w;
}

const emailPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;
const page = (results: object[]) => json({ cursor: '', hits: results.length, results });
const records = (ids: string[]) => ids.map((id, n) => ({
  email: 'someone@example.org', document_id: `doc-${id}-${n}`, source_id: id, severity: 5, spycloud_publish_date: '2024-01-01T00:00:00Z',
}));
const table = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, { id, uuid: `uuid-${id}`, title: `Breach ${id}` }]));
/** The ids each catalog call asked for. */
const askedIds = (w: XdrWorld) => catalogCalls(w.spycloud).map((s) => s.path.slice('/breach/catalog/'.length).split(','));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5_000) throw new Error(`${what} did not happen within 5 s`);
    await sleep(5);
  }
}

async function observe(w: XdrWorld, emails: string[], claims: Record<string, unknown> = {}) {
  const { body } = await w.relay.post('/observe/observables', emails.map((value) => ({ type: 'email', value })), await w.auth(claims));
  return body;
}

const indicatorTitles = (body: any): string[] => (body.data.indicators?.docs ?? []).map((i: { title: string }) => i.title);

describe('a catalog SpyCloud withdraws', () => {
  it.each([
    ['left out of a 200', catalogs(table(['1']))],
    ['answered 404', ((req, res, seen) => ((seen.path.split('/').at(-1) as string).split(',').includes('2')
      ? json({ message: 'Not Found' }, 404)
      : catalogs(table(['1'])))(req, res, seen)) as Handler],
  ])('is no longer served to the key whose refresh found it %s', async (_case, withdrawn) => {
    const clock = { now: Date.parse('2025-01-01T00:00:00Z') };
    const w = await world(clock);
    w.spycloud.route(emailPath('a@example.org'), page(records(['1', '2'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1', '2'])));
    expect(indicatorTitles(await observe(w, ['a@example.org']))).toEqual(['Breach 1', 'Breach 2']);
    expect(indicatorTitles(await observe(w, ['a@example.org'], { key: OTHER_KEY }))).toEqual(['Breach 1', 'Breach 2']);

    // Past the TTL SpyCloud no longer has catalog 2: served stale once, while the refresh finds out.
    clock.now += HOUR + 1_000;
    w.spycloud.route('/breach/catalog/*', withdrawn);
    const calls = catalogCalls(w.spycloud).length;
    expect(indicatorTitles(await observe(w, ['a@example.org']))).toEqual(['Breach 1', 'Breach 2']);
    await until(() => catalogCalls(w.spycloud).length > calls, 'the background refresh');
    await sleep(50);

    // From then on this key hears that catalog 2 is missing, as a cold fetch would have told it.
    const after = await observe(w, ['a@example.org']);
    expect(indicatorTitles(after)).toEqual(['Breach 1']);
    expect(after.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 2' }]);
    expect(after.data.sightings.count).toBe(2);
    // Another key is not told what SpyCloud told this one: its own refresh decides for it.
    const others = catalogCalls(w.spycloud).length;
    expect(indicatorTitles(await observe(w, ['a@example.org'], { key: OTHER_KEY }))).toEqual(['Breach 1', 'Breach 2']);
    await until(() => catalogCalls(w.spycloud).length > others, 'the other key\'s refresh');
    await sleep(50);

    // And for good: not back once "missing" is 300 s old (re-asked then), nor hours later.
    for (const later of [301_000, 5 * HOUR, 17 * HOUR]) {
      clock.now += later;
      const before = catalogCalls(w.spycloud).length;
      const again = await observe(w, ['a@example.org']);
      expect(indicatorTitles(again)).toEqual(['Breach 1']);
      expect(again.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 2' }]);
      await until(() => catalogCalls(w.spycloud).length > before, 'the refresh of the stale ids');
      await sleep(50);
      expect(indicatorTitles(await observe(w, ['a@example.org']))).toEqual(['Breach 1']);
    }

    // Until SpyCloud has it again: the next refresh brings it back to this key.
    clock.now += 301_000;
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1', '2'])));
    const before = catalogCalls(w.spycloud).length;
    expect(indicatorTitles(await observe(w, ['a@example.org']))).toEqual(['Breach 1']);
    await until(() => catalogCalls(w.spycloud).length > before, 'the refresh that finds catalog 2 again');
    await sleep(50);
    expect(indicatorTitles(await observe(w, ['a@example.org']))).toEqual(['Breach 1', 'Breach 2']);
  });
});

describe('stale catalogs', () => {
  it('are refreshed in calls of up to ten ids, not one call per observable', async () => {
    const clock = { now: Date.parse('2025-01-01T00:00:00Z') };
    const w = await world(clock);
    // Eight observables, three catalogs each: 24 ids.
    const emails = Array.from({ length: 8 }, (_, n) => `user${n}@example.org`);
    const ids = emails.flatMap((_, n) => [0, 1, 2].map((k) => String(100 + 3 * n + k)));
    emails.forEach((email, n) => w.spycloud.route(emailPath(email), page(records(ids.slice(3 * n, 3 * n + 3)))));
    w.spycloud.route('/breach/catalog/*', catalogs(table(ids)));
    expect((await observe(w, emails)).data.indicators.count).toBe(24);
    const cold = askedIds(w).length;

    clock.now += HOUR + 1_000;
    const stale = await observe(w, emails);
    expect(stale.data.indicators.count).toBe(24);
    await until(() => askedIds(w).slice(cold).flat().length >= ids.length, 'the refresh of every stale id');
    await sleep(50);
    const refreshes = askedIds(w).slice(cold);
    expect(refreshes.flat().sort()).toEqual([...ids].sort());
    for (const call of refreshes) expect(call.length).toBeLessThanOrEqual(10);
    // 24 ids make 3 calls of ten at best; one per observable would be 8.
    expect(refreshes.length).toBeLessThanOrEqual(4);
  });
});
