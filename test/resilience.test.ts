// Resilience and speed of the SpyCloud client (RELAY.md §4.2, §4.3, §5), end to end:
// the relay on a real port, SpyCloud and the JWKS host as real HTTP stand-ins.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { RelayOptions } from '../src/relay.js';
import { fixture } from './support/fixtures.js';
import { catalogCalls, catalogs, EXAMPLE_EMAIL } from './support/spycloud.js';
import { json, type Handler, type Seen } from './support/stand-in.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const EMAIL_PATH = `/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`;
const THROTTLED = 'Too many requests have been made to Spycloud. Please, try again later.';
const QUOTA = 'The monthly SpyCloud API quota of this key is exhausted. Contact SpyCloud to raise it.';
const OTHER_KEY = 'sc-other-key-9f3a';

let worlds: XdrWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  worlds = [];
});

/** A relay with quick retries unless `env` says otherwise, closed after the test. */
async function world(env: Record<string, string> = {}, options: RelayOptions = {}): Promise<XdrWorld> {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5', ...env }, options);
  worlds.push(w);
  return w;
}

async function observe(w: XdrWorld, emails: string[] = [EXAMPLE_EMAIL], claims: Record<string, unknown> = {}) {
  return w.relay.post('/observe/observables', emails.map((value) => ({ type: 'email', value })), await w.auth(claims));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails loudly instead of hanging when `promise` does not settle in time (a guard, not a timed assertion). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  await within((async () => {
    while (!condition()) await sleep(5);
  })(), 5_000, what);
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Answers with each handler in turn, then with the last one for ever. */
function inTurn(...handlers: Handler[]): Handler {
  let n = 0;
  return (req, res, seen) => (handlers[Math.min(n++, handlers.length - 1)] as Handler)(req, res, seen);
}

const reset: Handler = (req) => {
  req.socket.destroy();
};
const hang: Handler = () => undefined;
const examplePage = () => json(fixture('spycloud-breach-data-emails.json'));
const page = (results: object[], cursor = '') => json({ cursor, hits: results.length, results });
const recordsCalls = (w: XdrWorld, path = EMAIL_PATH) => w.spycloud.seen.filter((s) => s.path === path);
const emailPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;

const record = (id: string | number, extra: Record<string, unknown> = {}) => ({
  email: 'someone@example.org',
  document_id: `doc-${id}`,
  source_id: id,
  severity: 5,
  spycloud_publish_date: '2024-01-01T00:00:00Z',
  ...extra,
});
const catalog = (id: string | number) => ({
  id,
  uuid: `uuid-${id}`,
  title: `Breach ${id}`,
  description: `Breach ${id} description`,
  spycloud_publish_date: '2023-01-01T00:00:00Z',
});

/** The worked example's enrichment, complete: 4 sightings, 2 indicators, catalog 777 missing. */
function expectFullExample(answer: { status: number; body: any }) {
  expect(answer.status).toBe(200);
  expect(answer.body.data.sightings.count).toBe(4);
  expect(answer.body.data.indicators.count).toBe(2);
  expect(answer.body.data.relationships.count).toBe(3);
  expect(answer.body.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 777' }]);
}

const fatal = (code: string, message: string) => ({ errors: [{ type: 'fatal', code, message }] });

describe('retries (RELAY.md §4.2)', () => {
  it.each([
    ['TooManyRequestsException', { 'x-amzn-ErrorType': 'TooManyRequestsException:http://internal.amazon.com/coral/' }],
    ['no type', {}],
  ])('retries a throttling 429 (%s) and answers in full', async (_name, headers) => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, inTurn(json({ message: 'Too Many Requests' }, 429, headers), examplePage()));
    expectFullExample(await observe(w));
    expect(recordsCalls(w)).toHaveLength(2);
  });

  it('gives up on throttling after 2 retries with the throttling message', async () => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, json({ message: 'Too Many Requests' }, 429));
    const { body } = await observe(w);
    expect(body).toEqual(fatal('too many requests', THROTTLED));
    expect(recordsCalls(w)).toHaveLength(3);
  });

  it('never retries the monthly quota 429 and says so', async () => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, json({ message: 'Limit Exceeded' }, 429, { 'x-amzn-ErrorType': 'LimitExceededException' }));
    const { status, body } = await observe(w);
    expect(status).toBe(200);
    expect(body).toEqual(fatal('too many requests', QUOTA));
    expect(recordsCalls(w)).toHaveLength(1);
  });

  // The back-off alone (random() = 1 ⇒ a full base of 10 minutes) would overrun the budget,
  // so only an honoured Retry-After lets these succeed.
  it.each([
    ['seconds', '0'],
    ['an HTTP date in the past', new Date(Date.now() - 60_000).toUTCString()],
  ])('honours Retry-After given in %s', async (_name, retryAfter) => {
    const w = await world({ SPYCLOUD_RETRY_BASE_MS: '600000' }, { random: () => 1 });
    w.spycloud.route(EMAIL_PATH, inTurn(json({ message: 'slow down' }, 429, { 'Retry-After': retryAfter }), examplePage()));
    expectFullExample(await observe(w));
    expect(recordsCalls(w)).toHaveLength(2);
  });

  it('fails at once when Retry-After would overrun the request budget', async () => {
    const w = await world({ REQUEST_BUDGET_MS: '5000' });
    w.spycloud.route(EMAIL_PATH, inTurn(json({ message: 'slow down' }, 429, { 'Retry-After': '60' }), examplePage()));
    // Waiting the 60 s would hit the test's own timeout: that is the guard, not a timed assertion.
    const { body } = await observe(w);
    expect(body).toEqual(fatal('too many requests', THROTTLED));
    expect(recordsCalls(w)).toHaveLength(1);
  });

  it('treats a Retry-After that is neither seconds nor an HTTP date as absent', async () => {
    const w = await world({ SPYCLOUD_RETRY_BASE_MS: '600000' }, { random: () => 1 });
    // Date.parse('1') is a date in 2001: read as such it would wait 0 ms instead of backing off.
    w.spycloud.route(EMAIL_PATH, inTurn(json({}, 503, { 'Retry-After': '1.5' }), examplePage()));
    const { body } = await observe(w);
    expect(body).toEqual(fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 503 Service Unavailable.'));
    expect(recordsCalls(w)).toHaveLength(1);
  });

  it('grows the back-off by 3 per retry: base 300 ms fits a 1100 ms budget once, 900 ms does not', async () => {
    const w = await world({ SPYCLOUD_RETRY_BASE_MS: '300', REQUEST_BUDGET_MS: '1100' }, { random: () => 1 });
    w.spycloud.route(EMAIL_PATH, json({}, 503));
    const { body } = await observe(w);
    expect(body).toEqual(fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 503 Service Unavailable.'));
    expect(recordsCalls(w)).toHaveLength(2);
  });

  it.each([502, 503, 504])('retries HTTP %i and answers in full', async (status) => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, inTurn(json('<html>gateway</html>', status), examplePage()));
    expectFullExample(await observe(w));
    expect(recordsCalls(w)).toHaveLength(2);
  });

  it('reports the third 503 in a row after 3 calls', async () => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, json({ message: 'try later' }, 503));
    const { body } = await observe(w);
    expect(body).toEqual(fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 503 try later.'));
    expect(recordsCalls(w)).toHaveLength(3);
  });

  it('retries a connection reset and answers in full', async () => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, inTurn(reset, examplePage()));
    expectFullExample(await observe(w));
    expect(recordsCalls(w)).toHaveLength(2);
  });

  it('reports connection resets that persist as unreachable, after 3 calls', async () => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, reset);
    const { body } = await observe(w);
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({ type: 'fatal', code: 'unknown' });
    expect(body.errors[0].message).toMatch(/^SpyCloud could not be reached: .+\.$/);
    expect(recordsCalls(w)).toHaveLength(3);
  });

  it.each([400, 401, 404, 422, 500])('does not retry HTTP %i', async (status) => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, json({ message: 'no' }, status));
    await observe(w);
    expect(recordsCalls(w)).toHaveLength(1);
  });

  it('retries a catalog call too', async () => {
    const w = await world();
    w.spycloud.route('/breach/catalog/*', inTurn(json({}, 503), catalogs({
      '31337': fixture('spycloud-breach-catalog-31337.json').results[0],
      '4242': fixture('spycloud-breach-catalog-4242.json').results[0],
    })));
    expectFullExample(await observe(w));
    expect(catalogCalls(w.spycloud)).toHaveLength(2);
  });
});

describe('timeouts, budget and bad bodies (RELAY.md §4.2, §4.4)', () => {
  it('answers the timeout error when SpyCloud hangs, without retrying', async () => {
    const w = await world({ SPYCLOUD_TIMEOUT_MS: '200' });
    w.spycloud.route(EMAIL_PATH, hang);
    const { status, body } = await within(observe(w), 10_000, 'the answer');
    expect(status).toBe(200);
    expect(body).toEqual(fatal('unknown', 'SpyCloud did not answer within 200 ms.'));
    expect(recordsCalls(w)).toHaveLength(1);
  });

  it('answers what it has plus the budget error when the budget runs out', async () => {
    const w = await world({ REQUEST_BUDGET_MS: '500' });
    w.spycloud.route(emailPath('slow@example.org'), hang);
    const { body } = await within(observe(w, [EXAMPLE_EMAIL, 'slow@example.org']), 10_000, 'the answer');
    expect(body.data.sightings.count).toBe(4);
    expect(body.errors.at(-1)).toEqual({ type: 'fatal', code: 'unknown', message: 'The relay ran out of its 500 ms budget; results are partial.' });
  });

  it.each([
    ['not JSON', '<html>maintenance</html>'],
    ['JSON without results', '{"hits": 3}'],
    ['results that are not a list', '{"results": {"a": 1}}'],
    ['null', 'null'],
  ])('reports a 200 whose body is %s as unexpected', async (_name, text) => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, json(text));
    const { body } = await observe(w);
    expect(body).toEqual(fatal('unknown', 'SpyCloud answered with an unexpected body (HTTP 200).'));
  });

  it('ignores results that are not records, and catalog entries without a usable id', async () => {
    const w = await world();
    w.spycloud.route(emailPath('odd@example.org'), page([[1, 2] as unknown as object, 'text' as unknown as object, record(5)]));
    w.spycloud.route('/breach/catalog/*', page([{ id: { toString: 1 }, title: 'broken' }, { id: [5] }, catalog(5)]));
    const { body } = await observe(w, ['odd@example.org']);
    expect(body.errors).toBeUndefined();
    expect(body.data.sightings.count).toBe(1);
    expect(body.data.indicators.docs.map((i: any) => i.title)).toEqual(['Breach 5']);
  });

  it('treats a 400 as no results', async () => {
    const w = await world();
    w.spycloud.route(EMAIL_PATH, json({ message: 'bad request' }, 400));
    const { body } = await observe(w);
    expect(body).toEqual({ data: {} });
  });
});

describe('pagination (RELAY.md §4.1, §5)', () => {
  const EMAIL = 'paged@example.org';
  const firstPage = [record(1, { spycloud_publish_date: '2024-03-01T00:00:00Z' }), record(2, { spycloud_publish_date: '2024-02-01T00:00:00Z' })];
  const secondPage = [record(3, { spycloud_publish_date: '2024-01-01T00:00:00Z' })];
  const pages: Handler = (req, res, seen) => {
    const query = new URL(seen.url, 'http://x').searchParams;
    (query.get('cursor') === 'abc+/=' ? page(secondPage) : page(firstPage, 'abc+/='))(req, res, seen);
  };

  it('follows the cursor, URL-encoded, and maps the records of every page', async () => {
    const w = await world();
    w.spycloud.route(emailPath(EMAIL), pages);
    w.spycloud.route('/breach/catalog/*', catalogs({ 1: catalog(1), 2: catalog(2), 3: catalog(3) }));
    const { body } = await observe(w, [EMAIL]);
    expect(recordsCalls(w, emailPath(EMAIL)).map((s) => s.url)).toEqual([
      emailPath(EMAIL),
      `${emailPath(EMAIL)}?cursor=abc%2B%2F%3D`,
    ]);
    expect(body.data.sightings.docs.map((s: any) => s.external_ids[0])).toEqual(['doc-1', 'doc-2', 'doc-3']);
    expect(body.data.indicators.count).toBe(3);
    expect(body.errors).toBeUndefined();
  });

  it('keeps the first page when a later page answers 400 (no results, as a first-page 400 is)', async () => {
    const w = await world();
    w.spycloud.route(emailPath(EMAIL), (req, res, seen) => {
      const query = new URL(seen.url, 'http://x').searchParams;
      (query.get('cursor') === null ? page(firstPage, 'expired') : json({ message: 'bad request' }, 400))(req, res, seen);
    });
    w.spycloud.route('/breach/catalog/*', catalogs({ 1: catalog(1), 2: catalog(2) }));
    const { body } = await observe(w, [EMAIL]);
    expect(recordsCalls(w, emailPath(EMAIL))).toHaveLength(2);
    expect(body.data.sightings.docs.map((s: any) => s.external_ids[0])).toEqual(['doc-1', 'doc-2']);
    expect(body.errors).toBeUndefined();
  });

  it('stops after SPYCLOUD_MAX_PAGES pages', async () => {
    const w = await world({ SPYCLOUD_MAX_PAGES: '1' });
    w.spycloud.route(emailPath(EMAIL), pages);
    w.spycloud.route('/breach/catalog/*', catalogs({ 1: catalog(1), 2: catalog(2), 3: catalog(3) }));
    const { body } = await observe(w, [EMAIL]);
    expect(recordsCalls(w, emailPath(EMAIL))).toHaveLength(1);
    expect(body.data.sightings.docs.map((s: any) => s.external_ids[0])).toEqual(['doc-1', 'doc-2']);
  });
});

describe('catalogs: batching and cache (RELAY.md §4.3)', () => {
  const EMAIL = 'many@example.org';
  /** Records over `ids`, newest first in the order given. */
  const recordsOver = (ids: string[]) =>
    ids.map((id, n) => record(id, { document_id: `doc-${n}`, spycloud_publish_date: `2024-01-${String(28 - n).padStart(2, '0')}T00:00:00Z` }));
  const table = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, catalog(id)]));

  it('fetches 5 catalogs in ONE call, each id encoded on its own, and none the second time', async () => {
    const ids = ['11', '12', '13', '14', 'a/b,c d'];
    const w = await world();
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(ids)));
    w.spycloud.route('/breach/catalog/*', catalogs(table(ids)));
    const first = await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud).map((s) => s.path)).toEqual(['/breach/catalog/11,12,13,14,a%2Fb%2Cc%20d']);
    expect(first.body.data.indicators.count).toBe(5);
    expect(first.body.errors).toBeUndefined();

    const second = await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud)).toHaveLength(1);
    expect(second.body.data.indicators.docs).toEqual(first.body.data.indicators.docs);
  });

  it('splits 12 catalogs into calls of at most 10 ids, each id asked once', async () => {
    const ids = Array.from({ length: 12 }, (_, n) => String(100 + n));
    const w = await world();
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(ids)));
    w.spycloud.route('/breach/catalog/*', catalogs(table(ids)));
    const { body } = await observe(w, [EMAIL]);
    const asked = catalogCalls(w.spycloud).map((s) => s.path.slice('/breach/catalog/'.length).split(','));
    expect(asked.map((chunk) => chunk.length).sort((a, b) => a - b)).toEqual([2, 10]);
    expect(asked.flat().sort()).toEqual(ids);
    expect(body.data.indicators.count).toBe(12);
  });

  it('asks for each catalog once per request, even when observables share it', async () => {
    const w = await world();
    w.spycloud.route(emailPath('a@example.org'), page(recordsOver(['1', '2'])));
    w.spycloud.route(emailPath('b@example.org'), page(recordsOver(['2', '3'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1', '2', '3'])));
    const { body } = await observe(w, ['a@example.org', 'b@example.org']);
    const asked = catalogCalls(w.spycloud).flatMap((s) => s.path.slice('/breach/catalog/'.length).split(','));
    expect(asked.sort()).toEqual(['1', '2', '3']);
    expect(body.data.sightings.count).toBe(4);
    expect(body.data.indicators.count).toBe(3);
  });

  it('caches a missing catalog for 300 s only, a found one for CATALOG_CACHE_TTL_S', async () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const w = await world({}, { now: () => clock });
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1', '2'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1'])));
    const first = await observe(w, [EMAIL]);
    expect(first.body.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 2' }]);
    expect(catalogCalls(w.spycloud).map((s) => s.path)).toEqual(['/breach/catalog/1,2']);

    clock += 299_000;
    const cached = await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud)).toHaveLength(1);
    expect(cached.body.errors).toEqual(first.body.errors);

    clock += 2_000;
    await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud).map((s) => s.path)).toEqual(['/breach/catalog/1,2', '/breach/catalog/2']);

    clock += 3_300_000; // 3601 s after the first fetch of catalog 1: stale, so refreshed in the background
    const stale = await observe(w, [EMAIL]);
    expect(stale.body.data.indicators.count).toBe(1);
    await until(() => catalogCalls(w.spycloud).length === 4, 'the background refresh of catalog 1');
    expect(catalogCalls(w.spycloud).slice(2).map((s) => s.path).sort()).toEqual(['/breach/catalog/1', '/breach/catalog/2']);
  });

  it('respects CATALOG_CACHE_TTL_S', async () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const w = await world({ CATALOG_CACHE_TTL_S: '60' }, { now: () => clock });
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1'])));
    await observe(w, [EMAIL]);
    clock += 59_000;
    await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud)).toHaveLength(1);
    clock += 2_000;
    await observe(w, [EMAIL]);
    await until(() => catalogCalls(w.spycloud).length === 2, 'the refresh after CATALOG_CACHE_TTL_S');
  });

  it('answers at once with the cached catalog past its TTL, refreshes it in the background, and uses the fresh one next', async () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const w = await world({}, { now: () => clock });
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1'])));
    expect((await observe(w, [EMAIL])).body.data.indicators.docs[0].title).toBe('Breach 1');

    // An hour and a bit later SpyCloud has renamed the breach, and answers slowly.
    clock += 3_601_000;
    const refreshed = gate();
    w.spycloud.route('/breach/catalog/*', async (req, res, seen) => {
      await refreshed.opened;
      page([{ ...catalog(1), title: 'Breach 1 (renamed)' }])(req, res, seen);
    });
    const stale = await within(observe(w, [EMAIL]), 5_000, 'an answer that does not wait for the refresh');
    expect(stale.body.errors).toBeUndefined();
    expect(stale.body.data.indicators.docs[0].title).toBe('Breach 1');
    await until(() => catalogCalls(w.spycloud).length === 2, 'the background refresh');
    // A second request meanwhile does not start a second refresh.
    await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud)).toHaveLength(2);

    refreshed.open();
    // Once the refresh has landed, answers carry the new title without another catalog call.
    let title = 'Breach 1';
    for (let tries = 0; title === 'Breach 1' && tries < 200; tries++) {
      await sleep(10);
      title = (await observe(w, [EMAIL])).body.data.indicators.docs[0].title;
    }
    expect(title).toBe('Breach 1 (renamed)');
    expect(catalogCalls(w.spycloud)).toHaveLength(2);
  });

  it('past a day, a stale catalog is no longer served: the request waits for SpyCloud', async () => {
    let clock = Date.parse('2025-01-01T00:00:00Z');
    const w = await world({}, { now: () => clock });
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1'])));
    await observe(w, [EMAIL]);
    clock += 24 * 3_600_000 + 1_000;
    w.spycloud.route('/breach/catalog/*', page([{ ...catalog(1), title: 'Breach 1 (renamed)' }]));
    expect((await observe(w, [EMAIL])).body.data.indicators.docs[0].title).toBe('Breach 1 (renamed)');
  });

  it('does not cache at all with CATALOG_CACHE_TTL_S=0', async () => {
    const w = await world({ CATALOG_CACHE_TTL_S: '0' });
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1', '2'])));
    w.spycloud.route('/breach/catalog/*', catalogs(table(['1'])));
    await observe(w, [EMAIL]);
    await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud)).toHaveLength(2);
  });

  it('asks for each id alone when a batch gets a 404, to tell which one is unknown', async () => {
    const w = await world();
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1', '2'])));
    w.spycloud.route('/breach/catalog/*', (req, res, seen) => {
      const answer = seen.path === '/breach/catalog/1' ? page([catalog(1)]) : json({ message: 'Not Found' }, 404);
      answer(req, res, seen);
    });
    const { body } = await observe(w, [EMAIL]);
    expect(catalogCalls(w.spycloud).map((s) => s.path).sort()).toEqual(['/breach/catalog/1', '/breach/catalog/1,2', '/breach/catalog/2']);
    expect(body.data.indicators.count).toBe(1);
    expect(body.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 2' }]);
  });

  it('gives the sightings plus one warning per id when a catalog call fails, and does not cache the failure', async () => {
    const w = await world();
    w.spycloud.route('/breach/catalog/*', json({ message: 'boom' }, 500));
    const { body } = await observe(w);
    expect(body.data.sightings.count).toBe(4);
    expect(body.data.indicators).toBeUndefined();
    expect(body.errors).toEqual(['31337', '4242', '777'].map((id) => ({
      type: 'warning', code: 'unknown', message: `SpyCloud catalog ${id} could not be fetched: The Spycloud internal error.`,
    })));
    await observe(w);
    expect(catalogCalls(w.spycloud)).toHaveLength(2);
  });

  it.each([
    ['403', json({ message: 'Forbidden key' }, 403), fatal('authorization error', 'Authorization failed: Forbidden key')],
    ['quota 429', json({}, 429, { 'x-amzn-ErrorType': 'LimitExceededException' }), fatal('too many requests', QUOTA)],
  ])('makes a %s on a catalog call fatal', async (_name, handler, expected) => {
    const w = await world();
    w.spycloud.route('/breach/catalog/*', handler);
    const { body } = await observe(w);
    expect(body).toEqual(expected);
  });

  it('shares one in-flight catalog fetch between concurrent requests of the same key', async () => {
    const w = await world();
    let recordsAnswered = 0;
    const slow = catalogs(table(['1', '2']));
    w.spycloud.route(emailPath(EMAIL), (req, res, seen) => {
      res.on('finish', () => recordsAnswered++);
      page(recordsOver(['1', '2']))(req, res, seen);
    });
    // Hold the catalog answer until every request has its records, and a little longer.
    w.spycloud.route('/breach/catalog/*', async (req, res, seen) => {
      await until(() => recordsAnswered === 5, 'five records answers').catch(() => undefined);
      await sleep(100);
      slow(req, res, seen);
    });
    const answers = await Promise.all(Array.from({ length: 5 }, () => observe(w, [EMAIL])));
    expect(recordsCalls(w, emailPath(EMAIL))).toHaveLength(5);
    expect(catalogCalls(w.spycloud)).toHaveLength(1);
    for (const { body } of answers) expect(body.data.indicators.count).toBe(2);
  });

  it('never shares a catalog fetch, or its error, across API keys', async () => {
    const w = await world();
    w.spycloud.route(emailPath(EMAIL), page(recordsOver(['1'])));
    const bothAsked = gate();
    const arrived: string[] = [];
    w.spycloud.route('/breach/catalog/*', async (req, res, seen: Seen) => {
      const key = String(seen.headers['x-api-key']);
      arrived.push(key);
      if (arrived.length === 2) bothAsked.open();
      // Both calls are in flight together, so a shared fetch would have been shared here.
      await within(bothAsked.opened, 2_000, 'both catalog calls').catch(() => undefined);
      (key === API_KEY ? json({ message: 'Key A refused' }, 403) : catalogs(table(['1'])))(req, res, seen);
    });
    const [a, b] = await Promise.all([observe(w, [EMAIL]), observe(w, [EMAIL], { key: OTHER_KEY })]);
    expect(arrived.sort()).toEqual([OTHER_KEY, API_KEY].sort());
    expect(a.body).toEqual(fatal('authorization error', 'Authorization failed: Key A refused'));
    expect(b.body.errors).toBeUndefined();
    expect(b.body.data.indicators.count).toBe(1);
  });
});

describe('JWKS cache (RELAY.md §3 step 4)', () => {
  it('fetches the JWKS once for 10 sequential requests', async () => {
    const w = await world();
    for (let n = 0; n < 10; n++) expect((await observe(w)).status).toBe(200);
    expect(w.jwksHost.seen).toHaveLength(1);
  });

  it('fetches the JWKS once for 10 concurrent requests', async () => {
    const w = await world();
    const answers = await Promise.all(Array.from({ length: 10 }, () => observe(w)));
    for (const answer of answers) expect(answer.body.data.sightings.count).toBe(4);
    expect(w.jwksHost.seen).toHaveLength(1);
  });
});

describe('per-key concurrency cap (RELAY.md §4.2)', () => {
  it('keeps at most SPYCLOUD_MAX_CONCURRENCY calls of one key in flight, without blocking another key', async () => {
    const w = await world({ SPYCLOUD_MAX_CONCURRENCY: '2' });
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    const released = gate();
    let holding = true;
    w.spycloud.route('/breach/data/emails/*', async (req, res, seen) => {
      const key = String(seen.headers['x-api-key']);
      const now = (inFlight.get(key) ?? 0) + 1;
      inFlight.set(key, now);
      most.set(key, Math.max(most.get(key) ?? 0, now));
      if (key === API_KEY) await (holding ? released.opened : sleep(20));
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      page([])(req, res, seen);
    });
    const emails = Array.from({ length: 6 }, (_, n) => `user${n}@example.org`);
    const first = Promise.all(emails.map((email) => observe(w, [email])));
    await until(() => inFlight.get(API_KEY) === 2, 'two calls of key A in flight');

    const other = await within(observe(w, ['b@example.org'], { key: OTHER_KEY }), 5_000, 'the other key\'s answer');
    expect(other.body).toEqual({ data: {} });
    holding = false;
    released.open();

    for (const { body } of await first) expect(body).toEqual({ data: {} });
    expect(w.spycloud.seen.filter((s) => s.headers['x-api-key'] === API_KEY)).toHaveLength(6);
    expect(most.get(API_KEY)).toBe(2);
  });
});

describe('observables of one request (RELAY.md §5)', () => {
  it('looks them up concurrently and assembles the answer in request order', async () => {
    const w = await world();
    const secondAnswered = gate();
    let overlapped = false;
    w.spycloud.route(emailPath('first@example.org'), async (req, res, seen) => {
      // Answer the first email only after the second: its lookup must not wait for ours.
      await within(secondAnswered.opened, 3_000, 'the second lookup').then(() => (overlapped = true), () => undefined);
      page([record('x', { document_id: 'first-old', source_id: undefined, spycloud_publish_date: '2020-01-01T00:00:00Z' })])(req, res, seen);
    });
    w.spycloud.route(emailPath('second@example.org'), (req, res, seen) => {
      res.on('finish', secondAnswered.open);
      page([record('y', { document_id: 'second-new', source_id: undefined, spycloud_publish_date: '2024-01-01T00:00:00Z' })])(req, res, seen);
    });
    const { body } = await observe(w, ['first@example.org', 'second@example.org']);
    expect(overlapped).toBe(true);
    expect(body.data.sightings.docs.map((s: any) => [s.observables[0].value, s.external_ids[0]])).toEqual([
      ['first@example.org', 'first-old'],
      ['second@example.org', 'second-new'],
    ]);
  });

  it('ends the answer at the first fatal error in request order, keeping the data before it', async () => {
    const w = await world();
    w.spycloud.route(emailPath('refused@example.org'), json({ message: 'Denied' }, 403));
    w.spycloud.route(emailPath('after@example.org'), page([record('z', { source_id: undefined })]));
    const { body } = await observe(w, [EXAMPLE_EMAIL, 'refused@example.org', 'after@example.org']);
    expect(body.data.sightings.count).toBe(4);
    expect(body.data.sightings.docs.every((s: any) => s.observables[0].value === EXAMPLE_EMAIL)).toBe(true);
    expect(body.errors.at(-1)).toEqual({ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Denied' });
  });

  it('sorts breach records newest first, stable for equal dates, and keeps the first CTR_ENTITIES_LIMIT', async () => {
    const w = await world();
    const records = [
      record('r1', { spycloud_publish_date: '2021-05-01T00:00:00Z' }),
      record('r2', { spycloud_publish_date: '2023-06-01T00:00:00Z' }),
      record('r3', { spycloud_publish_date: '2022-06-01T00:00:00Z' }),
      record('r4', { spycloud_publish_date: '2022-06-01T00:00:00Z' }),
      record('r5', { spycloud_publish_date: undefined }),
      record('r6', { spycloud_publish_date: '2023-01-01T01:00:00+02:00' }),
      record('r7', { spycloud_publish_date: '2022-06-01T00:00:00.000Z' }),
    ].map((r) => ({ ...r, source_id: undefined }));
    w.spycloud.route(emailPath('sorted@example.org'), page(records));
    const order = (body: any) => body.data.sightings.docs.map((s: any) => s.external_ids[0]);

    const all = await observe(w, ['sorted@example.org']);
    expect(order(all.body)).toEqual(['doc-r2', 'doc-r6', 'doc-r3', 'doc-r4', 'doc-r7', 'doc-r1', 'doc-r5']);
    const three = await observe(w, ['sorted@example.org'], { CTR_ENTITIES_LIMIT: 3 });
    expect(order(three.body)).toEqual(['doc-r2', 'doc-r6', 'doc-r3']);

    const limited = await world({ CTR_ENTITIES_LIMIT: '2' });
    limited.spycloud.route(emailPath('sorted@example.org'), page(records));
    expect(order((await observe(limited, ['sorted@example.org'])).body)).toEqual(['doc-r2', 'doc-r6']);
  });
});

describe('request hardening (RELAY.md §5)', () => {
  const TOO_LARGE = fatal('invalid argument', 'Invalid JSON payload received. The body is larger than 1 MiB.');

  /**
   * POSTs with node:http on a connection of its own (closed after), which hands over the
   * answer even when the relay closes the connection before taking the whole body
   * (fetch reports only the failed upload). A list of chunks is sent chunked.
   */
  function rawPost(url: string, body: string | string[], headers: Record<string, string>) {
    return new Promise<{ status: number; body: unknown; connection?: string }>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          connection: res.headers.connection,
        }));
      });
      req.on('error', reject);
      for (const chunk of typeof body === 'string' ? [body] : body) req.write(chunk);
      req.end();
    });
  }

  it('answers 413 with the contract envelope for a body over 1 MiB, and stays up', async () => {
    const w = await world();
    const big = JSON.stringify([{ type: 'email', value: 'a'.repeat(1 << 20) }]);
    const answer = await within(rawPost(`${w.relay.url}/observe/observables`, big, await w.auth()), 10_000, 'the 413');
    // The rest of the body is never read, so the connection cannot be reused: say so.
    expect(answer).toEqual({ status: 413, body: TOO_LARGE, connection: 'close' });
    expectFullExample(await observe(w));
  });

  it('accepts a body just under 1 MiB', async () => {
    const w = await world();
    const padding = 'p'.repeat((1 << 20) - 200);
    const body = JSON.stringify([{ type: 'email', value: EXAMPLE_EMAIL, padding }]);
    expect(body.length).toBeLessThan(1 << 20);
    expectFullExample(await w.relay.post('/observe/observables', body, await w.auth()));
  });

  it('refuses a chunked body over 1 MiB (413 or an early close), and stays up', async () => {
    const w = await world();
    const chunks = Array.from({ length: 8 }, (_, n) => (n === 0 ? '[' : '') + '"x",'.repeat(1 << 16));
    const answer = await within(rawPost(`${w.relay.url}/observe/observables`, chunks, await w.auth()), 10_000, 'the 413')
      .catch((error: unknown) => (error instanceof Error && /ECONNRESET|EPIPE|socket hang up/.test(error.message) ? undefined : Promise.reject(error)));
    if (answer !== undefined) expect(answer).toEqual({ status: 413, body: TOO_LARGE, connection: 'close' });
    expectFullExample(await observe(w));
  });


  it('accepts 1000 observables and refuses 1001', async () => {
    const w = await world();
    w.spycloud.route('/breach/data/emails/*', page([]));
    const emails = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.org`);
    const accepted = await within(observe(w, emails(1000)), 15_000, 'the answer for 1000 observables');
    expect(accepted.body).toEqual({ data: {} });
    expect(w.spycloud.seen.filter((s) => s.path.startsWith('/breach/data/emails/'))).toHaveLength(1000);

    w.spycloud.seen.length = 0;
    const refused = await observe(w, emails(1001));
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors[0]).toMatchObject({ type: 'fatal', code: 'invalid argument' });
    expect(refused.body.errors[0].message).toMatch(/^Invalid JSON payload received\. .*1000/);
    expect(w.spycloud.seen).toHaveLength(0);
  }, 30_000);
});
