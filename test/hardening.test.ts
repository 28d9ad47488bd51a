// Bounded work per request and tenant isolation (issue 7; RELAY.md §3, §4, §5, §8),
// over real HTTP: the relay on a real port, SpyCloud and JWKS hosts as loopback stand-ins.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { enrich } from '../src/enrich.js';
import type { RelayOptions } from '../src/relay.js';
import { AnswerBytes } from '../src/spycloud/answer-bytes.js';
import { CatalogStore } from '../src/spycloud/catalog-store.js';
import { ConnectionSlots } from '../src/spycloud/connection-slots.js';
import { SpyCloudClient } from '../src/spycloud/client.js';
import { KeyLimiter } from '../src/spycloud/key-limiter.js';
import { SpyCloudTransport } from '../src/spycloud/transport.js';
import { catalogs } from './support/spycloud.js';
import { json, startStandIn, type Handler, type StandIn } from './support/stand-in.js';
import { hs256 } from './support/tokens.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';
import { startRelay } from './support/relay.js';

const WRONG_JWKS_HOST = 'Authorization failed: Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure';
const OTHER_KEY = 'sc-other-key-77aa01';

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function world(env: Record<string, string> = {}, options: RelayOptions = {}): Promise<XdrWorld> {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5', ...env }, options);
  closers.push(() => w.close());
  return w;
}

async function standIn(routes: Record<string, Handler>): Promise<StandIn> {
  const s = await startStandIn(routes);
  closers.push(() => s.close());
  return s;
}

const emailPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;
const emails = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.org`);
const observe = async (w: XdrWorld, values: string[], claims: Record<string, unknown> = {}) =>
  w.relay.post('/observe/observables', values.map((value) => ({ type: 'email', value })), await w.auth(claims));

/** `n` records of `email`, newest first, over catalogs 1..catalogCount. */
const records = (email: string, n: number, catalogCount = 5) => Array.from({ length: n }, (_, i) => ({
  email,
  document_id: `${email}-${i}`,
  source_id: 1 + (i % catalogCount),
  severity: 20,
  spycloud_publish_date: new Date(Date.UTC(2024, 0, 1) - i * 60_000).toISOString(),
}));
const page = (results: object[]) => json({ cursor: '', hits: results.length, results });
const catalogTable = (count: number) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i + 1), { id: i + 1, uuid: `uuid-${i + 1}`, title: `Breach ${i + 1}` }]));

describe('one answer is bounded (finding 1)', () => {
  it('clamps a token\'s entities limit to 1000 per observable', async () => {
    const w = await world();
    w.spycloud.route(emailPath('many@example.org'), page(records('many@example.org', 1500)));
    w.spycloud.route('/breach/catalog/*', catalogs(catalogTable(5)));
    const { body } = await observe(w, ['many@example.org'], { CTR_ENTITIES_LIMIT: 5000 });
    expect(body.errors).toBeUndefined();
    expect(body.data.sightings.count).toBe(1000);
    // The newest 1000, in order.
    expect(body.data.sightings.docs.at(-1).external_ids[0]).toBe('many@example.org-999');
  });

  it('stops at MAX_SIGHTINGS_PER_ANSWER: cuts there, looks no later observable up, and says so', async () => {
    // A fixed cap of 8 calls per key (no adaptive growth) makes the count of lookups exact.
    const w = await world({ MAX_SIGHTINGS_PER_ANSWER: '250', SPYCLOUD_MAX_CONCURRENCY: '8' });
    const all = emails(20);
    for (const email of all) w.spycloud.route(emailPath(email), page(records(email, 100)));
    w.spycloud.route('/breach/catalog/*', catalogs(catalogTable(5)));
    const { body } = await observe(w, all);
    expect(body.data.sightings.count).toBe(250);
    const shown = body.data.sightings.docs.map((s: any) => s.observables[0].value);
    expect(shown.slice(0, 100).every((v: string) => v === all[0])).toBe(true);
    expect(shown.slice(200).every((v: string) => v === all[2])).toBe(true);
    expect(body.data.relationships.count).toBe(250);
    expect(body.errors).toEqual([{
      type: 'warning', code: 'too many results',
      message: 'The answer holds the first 250 sightings; narrow the investigation for the rest.',
    }]);
    // Eight lookups start at once; once three have answered the answer is full and no new one starts.
    const looked = w.spycloud.seen.filter((s) => s.path.startsWith('/breach/data/emails/')).length;
    expect(looked).toBeLessThanOrEqual(10);
  });

  it('an answer that ends exactly at the cap with observables left still warns', async () => {
    const w = await world({ MAX_SIGHTINGS_PER_ANSWER: '100' });
    const all = emails(2);
    for (const email of all) w.spycloud.route(emailPath(email), page(records(email, 100)));
    w.spycloud.route('/breach/catalog/*', catalogs(catalogTable(5)));
    const { body } = await observe(w, all);
    expect(body.data.sightings.count).toBe(100);
    expect(body.errors.map((e: any) => e.code)).toEqual(['too many results']);
  });
  it('gives other requests a turn between observables while it assembles the answer', async () => {
    const spycloud = await standIn({ '/breach/catalog/*': catalogs(catalogTable(5)) });
    for (const email of emails(4)) spycloud.route(emailPath(email), page(records(email, 10)));
    const dispatcher = new Agent();
    closers.push(() => dispatcher.close());
    const transport = new SpyCloudTransport({
      baseUrl: spycloud.url, timeoutMs: 5_000, retryBaseMs: 0, userAgent: 'test', dispatcher,
      limiter: new KeyLimiter(8), answerBytes: new AnswerBytes(1 << 20), connections: new ConnectionSlots(8), now: Date.now, random: Math.random,
    });
    const client = new SpyCloudClient(transport, new CatalogStore(3600, Date.now), 10);
    const pauses: number[] = [];
    let mapped = 0;
    const scope = { arrivedAt: Date.now(), deadline: Date.now() + 10_000, budgetMs: 10_000, upstreamCalls: 0 };
    const tenant = { apiKey: API_KEY, entitiesLimit: 100, passwordDisplay: 'masked' as const, tenant: 't' };
    const result = await enrich(emails(4).map((value) => ({ type: 'email' as const, value })), tenant, scope, {
      spycloud: client,
      newId: () => `id-${mapped++}`,
      now: Date.now,
      maxSightings: 5000,
      pause: async () => {
        pauses.push(mapped);
      },
    });
    expect((result.data.sightings as { count: number }).count).toBe(40);
    // A pause after each of the first three observables' sightings (and their relationships) were mapped.
    expect(pauses).toEqual([20, 40, 60]);
  });
});

describe('SpyCloud answers are bounded (finding 2)', () => {
  it('takes a page of 150,000 records (too many to spread as arguments) and keeps the newest', async () => {
    const w = await world();
    const many = Array.from({ length: 150_000 }, (_, i) => ({ source_id: 1, document_id: `d${i}`, spycloud_publish_date: '2020-01-01T00:00:00Z' }));
    many[123_456] = { ...many[123_456], spycloud_publish_date: '2024-05-05T00:00:00Z' } as (typeof many)[number];
    w.spycloud.route(emailPath('huge@example.org'), page(many));
    w.spycloud.route('/breach/catalog/*', catalogs(catalogTable(1)));
    const { status, body } = await observe(w, ['huge@example.org']);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.sightings.count).toBe(100);
    expect(body.data.sightings.docs[0].external_ids[0]).toBe('d123456');
  });

  it('refuses an answer larger than the relay-wide byte limit with a clear error, and keeps serving', async () => {
    const w = await world({ SPYCLOUD_MAX_BUFFERED_MB: '1' });
    const big = records('big@example.org', 12_000, 1); // about 1.5 MB of JSON
    w.spycloud.route(emailPath('big@example.org'), page(big));
    const { body } = await observe(w, ['big@example.org']);
    expect(body).toEqual({ errors: [{
      type: 'fatal', code: 'unknown',
      message: "SpyCloud's answers would pass the relay's limit of 1 MiB held at once; try again shortly, or narrow the investigation.",
    }] });
    expect((await w.relay.post('/version')).body).toEqual({ version: '1.0.0' });
  });

  it('an answer that does not fit beside another being read pauses, and goes on once that one is done', async () => {
    const w = await world({ SPYCLOUD_MAX_BUFFERED_MB: '1' });
    // The first answer streams all its 600 KB and then stalls, unfinished, until the test lets it end.
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let streaming = false;
    w.spycloud.route(emailPath('first@example.org'), async (_req, res) => {
      const text = JSON.stringify({ cursor: '', hits: 1, results: [{ email: 'first@example.org', source_id: 1, padding: 'x'.repeat(600_000) }] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text);
      streaming = true;
      await stalled;
      res.end();
    });
    // The second is 0.7 MB, its length declared: it does not fit beside the first's 600 KB, and it holds only what came.
    const secondText = JSON.stringify({ cursor: '', hits: 5_400, results: records('second@example.org', 5_400, 1) });
    w.spycloud.route(emailPath('second@example.org'), (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(secondText)) });
      res.end(secondText);
    });
    w.spycloud.route('/breach/catalog/*', catalogs(catalogTable(1)));
    const first = observe(w, ['first@example.org']);
    while (!streaming) await new Promise((resolve) => setTimeout(resolve, 5));
    let secondDone = false;
    const second = observe(w, ['second@example.org']).finally(() => {
      secondDone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(secondDone).toBe(false);
    resume();
    expect((await first).body.data.sightings.count).toBe(1);
    const { body } = await second;
    expect(body.errors).toBeUndefined();
    expect(body.data.sightings.count).toBe(100);
  });

  it('holds at most SPYCLOUD_MAX_CONNECTIONS connections to SpyCloud, however many calls are due', async () => {
    const w = await world({ SPYCLOUD_MAX_CONNECTIONS: '2' });
    let open = 0;
    let most = 0;
    w.spycloud.server.on('connection', (socket) => {
      open += 1;
      most = Math.max(most, open);
      socket.once('close', () => {
        open -= 1;
      });
    });
    w.spycloud.route('/breach/data/emails/*', async (req, res, seen) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      page([])(req, res, seen);
    });
    const { body } = await observe(w, emails(8));
    expect(body).toEqual({ data: {} });
    expect(w.spycloud.seen.length).toBe(8);
    expect(most).toBeLessThanOrEqual(2);
  });
});

describe('JWKS hosts that fail (finding 3)', () => {
  it('a failing host with nothing cached is asked at most once a minute, however many requests come', async () => {
    let now = Date.UTC(2025, 0, 1);
    const failing = await standIn({ '/.well-known/jwks': json({ message: 'down' }, 500) });
    const w = await world({ JWKS_ALLOWED_HOSTS: failing.host }, { now: () => now });
    const auth = await w.auth({ jwks_host: failing.host });
    for (let i = 0; i < 5; i++) {
      const { body } = await w.relay.post('/observe/observables', [{ type: 'email', value: 'a@example.org' }], auth);
      expect(body.errors[0].message).toBe(WRONG_JWKS_HOST);
    }
    // Unauthenticated health checks count too.
    await w.relay.post('/health', undefined, auth);
    expect(failing.seen.length).toBe(1);
    now += 60_000;
    await w.relay.post('/health', undefined, auth);
    expect(failing.seen.length).toBe(2);
  });

  it('stops reading a key set at 1 MiB, without waiting for the host to finish', async () => {
    // The host streams for ever; the relay's upstream timeout is long, so only the cap ends the read.
    const endless = await standIn({
      '/.well-known/jwks': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[');
        const chunk = `${'{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB"},'.repeat(1000)}`;
        let closed = false;
        res.once('close', () => {
          closed = true;
        });
        const pour = () => {
          while (!closed && res.write(chunk));
          if (!closed) res.once('drain', pour);
        };
        pour();
      },
    });
    const w = await world({ JWKS_ALLOWED_HOSTS: endless.host, SPYCLOUD_TIMEOUT_MS: '600000' });
    const { body } = await w.relay.post('/health', undefined, await w.auth({ jwks_host: endless.host }));
    expect(body.errors[0].message).toBe(WRONG_JWKS_HOST);
  });
});

describe('catalogs SpyCloud did not return (finding 4)', () => {
  it('one tenant\'s "missing" never replaces the catalog another tenant found', async () => {
    let now = Date.UTC(2025, 0, 1);
    const w = await world({}, { now: () => now });
    w.spycloud.route(emailPath('a@example.org'), page(records('a@example.org', 1, 1)));
    // SpyCloud gives catalog 1 to API_KEY, but not to OTHER_KEY (a 404 for it).
    w.spycloud.route('/breach/catalog/*', (req, res, seen) =>
      seen.headers['x-api-key'] === OTHER_KEY
        ? json({ message: 'Not found' }, 404)(req, res, seen)
        : catalogs(catalogTable(1))(req, res, seen));
    expect((await observe(w, ['a@example.org'])).body.data.indicators.count).toBe(1);
    now += 25 * 3_600_000; // the found entry has expired (past its TTL and the day it may be served stale)
    const other = await observe(w, ['a@example.org'], { key: OTHER_KEY });
    expect(other.body.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 1' }]);
    // The other tenant's "missing" is remembered for it alone: asked again, no new catalog call.
    const calls = () => w.spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/')).length;
    const before = calls();
    expect((await observe(w, ['a@example.org'], { key: OTHER_KEY })).body.errors[0].code).toBe('not found');
    expect(calls()).toBe(before);
    // It never hid the catalog from the tenant SpyCloud gives it to.
    const again = await observe(w, ['a@example.org']);
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data.indicators.count).toBe(1);
  });
});

describe('request logs never quote SpyCloud (finding 5)', () => {
  it('logs the status and the error code of a failed catalog call, not its text', async () => {
    const w = await world();
    w.spycloud.route(emailPath('a@example.org'), page(records('a@example.org', 1, 1)));
    const echo = `invalid key ${API_KEY} for a@example.org password hunter2`;
    w.spycloud.route('/breach/catalog/*', json({ message: echo }, 502));
    const { body } = await observe(w, ['a@example.org']);
    // The answer keeps RELAY.md §4.3's text (an analyst sees what SpyCloud said) ...
    expect(body.errors[0].message).toContain('Unexpected answer from SpyCloud: HTTP 502');
    const logs = w.relay.logs.join('');
    // ... the log does not.
    expect(logs).not.toContain('hunter2');
    expect(logs).not.toContain(API_KEY);
    const line = w.relay.logs.map((l) => JSON.parse(l)).find((l) => l.path === '/observe/observables');
    expect(line).toMatchObject({ upstream_status: 502, error: { type: 'warning', code: 'unknown' } });
  });
});

describe('tokens not yet valid (finding 6)', () => {
  const nowS = () => Math.floor(Date.now() / 1000);

  it('XDR-hosted: an nbf more than 60 s ahead is refused; within the leeway it is accepted', async () => {
    const w = await world();
    w.spycloud.route(emailPath('a@example.org'), page([]));
    const early = await observe(w, ['a@example.org'], { nbf: nowS() + 300 });
    expect(early.body).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Token is not yet valid' }] });
    expect((await observe(w, ['a@example.org'], { nbf: nowS() + 30 })).body).toEqual({ data: {} });
  });

  it('self-hosted: the same rule', async () => {
    const secret = 'hardening-test-secret-0123456789abcdef';
    const spycloud = await standIn({ '/breach/data/emails/*': page([]) });
    const relay = await startRelay({ SECRET_KEY: secret, SPYCLOUD_API_URL: spycloud.url });
    closers.push(() => relay.close());
    const post = async (nbf: number) => (await relay.post('/observe/observables', [{ type: 'email', value: 'a@example.org' }], {
      authorization: `Bearer ${await hs256({ key: API_KEY, nbf }, secret)}`,
    })).body;
    expect(await post(nowS() + 300)).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Token is not yet valid' }] });
    expect(await post(nowS() - 10)).toEqual({ data: {} });
  });
});
