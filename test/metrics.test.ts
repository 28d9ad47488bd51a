// GET /metrics and GET /healthz (RELAY.md §2, §7, §8): the counters move with the
// relay's work, no label or value ever holds a key, a tenant hash, an
// observable value or a token, and /metrics is served on METRICS_PORT only.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../src/lambda.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { fixture } from './support/fixtures.js';
import { EXAMPLE_EMAIL } from './support/spycloud.js';
import { json, type Handler } from './support/stand-in.js';
import { WATCHLIST_PATH, watchlistPages, watchRecord } from './support/watchlist.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

let worlds: XdrWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  worlds = [];
});

async function world(env: Record<string, string> = {}) {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '1', ...env });
  worlds.push(w);
  return w;
}

const scrape = async (w: XdrWorld) => {
  const response = await fetch(w.relay.metricsUrl as string);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
};

/** The value of one series, e.g. series(text, 'relay_requests_total', { route: '/version', status: '200' }). */
function series(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => {
    if (!l.startsWith(`${name}{`) && !l.startsWith(`${name} `)) return false;
    const inside = l.slice(name.length).match(/^\{(.*)\}/)?.[1]?.split(',') ?? [];
    return wanted.length === inside.length && wanted.every((w) => inside.includes(w));
  });
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('GET /metrics', () => {
  it('counts requests, SpyCloud calls, catalog cache and JWKS fetches, and names no tenant, key, value or token', async () => {
    const w = await world();
    const auth = await w.auth();
    const before = await scrape(w);
    expect(before.status).toBe(200);
    expect(before.type).toMatch(/^text\/plain/);
    expect(series(before.text, 'relay_requests_total', { route: '/observe/observables', status: '200' })).toBe(0);

    for (let i = 0; i < 2; i++) {
      const answer = await w.relay.post('/observe/observables', fixture('request-observe.json'), auth);
      expect(answer.body.data.sightings.count).toBe(4);
    }
    await w.relay.post('/version');
    await w.relay.post('/no/such/path/jdoe@acme-corp.example');
    const { text } = await scrape(w);
    expect(series(text, 'relay_requests_total', { route: '/observe/observables', status: '200' })).toBe(2);
    expect(series(text, 'relay_requests_total', { route: '/version', status: '200' })).toBe(1);
    expect(series(text, 'relay_requests_total', { route: 'other', status: '404' })).toBe(1);
    expect(series(text, 'relay_request_duration_seconds_count', { route: '/observe/observables' })).toBe(2);
    expect(series(text, 'relay_upstream_calls_total', { kind: 'records', status: '200' })).toBe(2);
    expect(series(text, 'relay_upstream_calls_total', { kind: 'catalog', status: '200' })).toBe(1);
    // The example's three catalog ids: missed once, then found in the cache (777 is unknown to SpyCloud: missed again? no, remembered).
    expect(series(text, 'relay_catalog_cache_total', { result: 'miss' })).toBe(3);
    expect(series(text, 'relay_catalog_cache_total', { result: 'hit' })).toBe(3);
    expect(series(text, 'relay_jwks_fetches_total', { outcome: 'ok' })).toBe(1);
    // Scrapes are not relay requests: they come on the metrics port.
    expect(series(text, 'relay_requests_in_flight')).toBe(0);
    expect(series(text, 'relay_requests_total', { route: '/metrics', status: '200' })).toBe(0);
    expect(text).toContain('process_cpu_seconds_total');

    const tenant = createHash('sha256').update(API_KEY).digest('hex').slice(0, 12);
    for (const secret of [API_KEY, tenant, EXAMPLE_EMAIL, 'acme-corp', auth.authorization.slice(7), auth.authorization.slice(7, 40)]) {
      expect(text).not.toContain(secret);
    }
  });

  it('counts retries and timeouts by endpoint kind', async () => {
    const w = await world({ SPYCLOUD_TIMEOUT_MS: '200' });
    let calls = 0;
    const flaky: Handler = (req, res, seen) => (calls++ === 0 ? json({ message: 'busy' }, 503) : json({ cursor: '', hits: 0, results: [] }))(req, res, seen);
    w.spycloud.route(`/breach/data/emails/${encodeURIComponent('flaky@example.org')}`, flaky);
    w.spycloud.route(`/breach/data/emails/${encodeURIComponent('slow@example.org')}`, () => undefined);
    const auth = await w.auth();
    expect((await w.relay.post('/observe/observables', [{ type: 'email', value: 'flaky@example.org' }], auth)).body).toEqual({ data: {} });
    const slow = await w.relay.post('/observe/observables', [{ type: 'email', value: 'slow@example.org' }], auth);
    expect(slow.body.errors[0].message).toBe('SpyCloud did not answer within 200 ms.');
    const { text } = await scrape(w);
    expect(series(text, 'relay_upstream_calls_total', { kind: 'records', status: '503' })).toBe(1);
    expect(series(text, 'relay_upstream_retries_total', { kind: 'records' })).toBe(1);
    expect(series(text, 'relay_upstream_calls_total', { kind: 'records', status: 'timeout' })).toBe(1);
    expect(series(text, 'relay_upstream_timeouts_total', { kind: 'records' })).toBe(1);
  });

  it('counts /health calls and tile aggregate reads and hits', async () => {
    const now = Date.now();
    const w = await world();
    w.spycloud.route(WATCHLIST_PATH, watchlistPages([[watchRecord({ at: new Date(now - 3_600_000).toISOString(), email: 'a@acme.example', severity: 30, source: 1 })]]));
    const auth = await w.auth();
    expect((await w.relay.post('/health', undefined, auth)).body).toEqual({ data: { status: 'ok' } });
    for (let i = 0; i < 2; i++) {
      const tile = await w.relay.post('/tiles/tile-data', { tile_id: 'spycloud-exposure', period: 'last_7_days' }, auth);
      expect(tile.body.data.data[0]).toMatchObject({ label: 'Exposed records', value: 1 });
    }
    const { text } = await scrape(w);
    expect(series(text, 'relay_upstream_calls_total', { kind: 'health', status: '200' })).toBe(1);
    expect(series(text, 'relay_upstream_calls_total', { kind: 'watchlist', status: '200' })).toBe(1);
    expect(series(text, 'relay_tiles_cache_total', { result: 'read' })).toBe(1);
    expect(series(text, 'relay_tiles_cache_total', { result: 'hit' })).toBe(1);
    expect(series(text, 'relay_requests_total', { route: '/tiles/tile-data', status: '200' })).toBe(2);
  });

  it('is served on METRICS_PORT only: the relay\'s port answers 404, the metrics port nothing but /metrics', async () => {
    const w = await world();
    const metricsUrl = new URL(w.relay.metricsUrl as string);
    expect(metricsUrl.hostname).toBe('127.0.0.1');
    expect(metricsUrl.port).not.toBe(new URL(w.relay.url).port);
    expect(w.relay.metricsListening).toBe(metricsUrl.origin);
    const onRelayPort = await fetch(`${w.relay.url}/metrics`);
    expect(onRelayPort.status).toBe(404);
    expect(await onRelayPort.json()).toEqual({ code: 404, message: 'Not Found' });
    expect((await scrape(w)).status).toBe(200);
    expect((await fetch(`${metricsUrl.origin}/metrics/`)).status).toBe(200);
    const post = await fetch(metricsUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    // The relay's routes are not on the metrics port.
    expect((await fetch(`${metricsUrl.origin}/healthz`)).status).toBe(404);
    expect((await fetch(`${metricsUrl.origin}/version`, { method: 'POST' })).status).toBe(404);
  });

  it('closes the metrics port with the relay', async () => {
    const w = await world();
    const { port } = new URL(w.relay.metricsUrl as string);
    expect((await scrape(w)).status).toBe(200);
    await w.relay.close();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('is not served with METRICS_ENABLED=false, nor by the Lambda handler', async () => {
    const w = await world({ METRICS_ENABLED: 'false' });
    expect(w.relay.metricsUrl).toBeUndefined();
    expect((await fetch(`${w.relay.url}/metrics`)).status).toBe(404);
    const handler = createHandler(loadConfig({ SECRET_KEY: 's'.repeat(32) }), { logger: createLogger('silent') });
    const answer = await handler({
      version: '2.0', rawPath: '/metrics', rawQueryString: '', headers: { host: 'relay.example.com' },
      requestContext: { http: { method: 'GET', path: '/metrics' }, domainName: 'relay.example.com', stage: '$default' },
      isBase64Encoded: false,
    } as never);
    expect(answer.statusCode).toBe(404);
  });
});

describe('GET /healthz', () => {
  it('answers {"status":"ok"} without a token and without asking SpyCloud; other methods get 405', async () => {
    const w = await world();
    const response = await fetch(`${w.relay.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(w.spycloud.seen).toEqual([]);
    const post = await fetch(`${w.relay.url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});
