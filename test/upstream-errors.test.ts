// RELAY.md §4.4: every way SpyCloud (or the road to it) can fail, on both
// /health and /observe/observables, plus §4.1 path encoding, §4.3 catalog
// failures and §5 partial data. Real SpyCloud stand-ins (one of them HTTPS).
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { catalogs, EXAMPLE_EMAIL, exampleCatalogs } from './support/spycloud.js';
import { json, startStandIn, type Handler } from './support/stand-in.js';
import { selfSignedCertificate } from './support/tls.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const recordsPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;
const HEALTH_PATH = '/watchlist/example.org';
const RECORDS = () => json(fixture('spycloud-breach-data-emails.json'));
const NO_RESULTS = json({ cursor: '', hits: 0, results: [] });
/** Answers nothing, ever: the relay must give up on its own. */
const silent: Handler = () => new Promise<void>(() => undefined);

type Endpoint = { path: '/health' | '/observe/observables'; upstream: string; body?: unknown };
const HEALTH: Endpoint = { path: '/health', upstream: HEALTH_PATH };
const OBSERVE: Endpoint = { path: '/observe/observables', upstream: recordsPath(EXAMPLE_EMAIL), body: [{ type: 'email', value: EXAMPLE_EMAIL }] };
const ENDPOINTS = [HEALTH, OBSERVE];

const fatal = (code: string, message: string) => ({ errors: [{ type: 'fatal', code, message }] });

const call = async (world: XdrWorld, endpoint: Endpoint) => {
  const answer = await world.relay.post(endpoint.path, endpoint.body, await world.auth());
  expect(answer.status).toBeLessThan(500);
  expect(answer.status).toBe(200);
  return answer.body;
};

/** The relay still serves a good request of both kinds (after the failures of a describe). */
async function expectStillServing(world: XdrWorld) {
  world.spycloud.route(HEALTH_PATH, json(fixture('spycloud-watchlist.json')));
  world.spycloud.route(recordsPath(EXAMPLE_EMAIL), RECORDS());
  world.spycloud.route('/breach/catalog/*', catalogs(exampleCatalogs()));
  expect(await call(world, HEALTH)).toEqual({ data: { status: 'ok' } });
  expect((await call(world, OBSERVE)).data.sightings.count).toBe(4);
}

const LONG = 'x'.repeat(150) + 'y'.repeat(150);

describe.each(ENDPOINTS)('SpyCloud errors on $path', (endpoint) => {
  let world: XdrWorld;
  beforeAll(async () => {
    world = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '1' });
  });
  afterAll(() => world.close());
  afterEach(() => {
    world.spycloud.seen.length = 0;
  });

  const upstreamCalls = () => world.spycloud.seen.filter((s) => s.path === endpoint.upstream).length;

  it.each<[string, Handler, ReturnType<typeof fatal>, number]>([
    ['401 with a message', json({ message: 'Invalid API key' }, 401), fatal('authorization error', 'Authorization failed: Invalid API key'), 1],
    ['403 with a message', json({ message: 'Key disabled' }, 403), fatal('authorization error', 'Authorization failed: Key disabled'), 1],
    ['403 without a message', json({}, 403), fatal('authorization error', 'Authorization failed: Forbidden'), 1],
    ['401 with an empty body', json('', 401, { 'content-type': 'text/plain' }), fatal('authorization error', 'Authorization failed: Unauthorized'), 1],
    ['403 with SpyCloud-Error: Invalid IP', json({ message: 'Forbidden' }, 403, { 'SpyCloud-Error': 'Invalid IP' }),
      fatal('authorization error', "Authorization failed: SpyCloud does not accept calls from this relay's IP address. Ask SpyCloud to allow-list it."), 1],
    ['401 with a message over 200 characters', json({ message: LONG }, 401), fatal('authorization error', `Authorization failed: ${LONG.slice(0, 200)}`), 1],
    ['404', json({ message: 'Not Found' }, 404), fatal('not found', 'The Spycloud not found.'), 1],
    ['500', json({ message: 'boom' }, 500), fatal('internal error', 'The Spycloud internal error.'), 1],
    ['429 throttled', json({ message: 'Too Many Requests' }, 429, { 'x-amzn-ErrorType': 'TooManyRequestsException:http://internal.amazon.com/' }),
      fatal('too many requests', 'Too many requests have been made to Spycloud. Please, try again later.'), 3],
    ['429 without a type', json({ message: 'Too Many Requests' }, 429),
      fatal('too many requests', 'Too many requests have been made to Spycloud. Please, try again later.'), 3],
    ['429 quota', json({ message: 'Limit Exceeded' }, 429, { 'x-amzn-ErrorType': 'LimitExceededException' }),
      fatal('too many requests', 'The monthly SpyCloud API quota of this key is exhausted. Contact SpyCloud to raise it.'), 1],
    ['418 with a message', json({ message: 'I am a teapot today' }, 418), fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 418 I am a teapot today.'), 1],
    ['418 with a message over 200 characters', json({ message: LONG }, 418), fatal('unknown', `Unexpected answer from SpyCloud: HTTP 418 ${LONG.slice(0, 200)}.`), 1],
    ['502, after retries', json('<html>bad gateway</html>', 502, { 'content-type': 'text/html' }),
      fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 502 Bad Gateway.'), 3],
    ['503 with a message, after retries', json({ message: 'down for maintenance' }, 503),
      fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 503 down for maintenance.'), 3],
    ['429 of another AWS type: not retried', json({ message: 'Rate exceeded' }, 429, { 'x-amzn-ErrorType': 'ThrottlingException' }),
      fatal('too many requests', 'Too many requests have been made to Spycloud. Please, try again later.'), 1],
    ['418 whose message ends in a period: one period', json({ message: 'Short and stout.' }, 418),
      fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 418 Short and stout.'), 1],
    ['504, after retries', json('', 504, { 'content-type': 'text/plain' }), fatal('unknown', 'Unexpected answer from SpyCloud: HTTP 504 Gateway Timeout.'), 3],
  ])('%s', async (_case, handler, expected, calls) => {
    world.spycloud.route(endpoint.upstream, handler);
    const body = await call(world, endpoint);
    expect(body).toEqual(expected);
    expect(upstreamCalls()).toBe(calls);
    expect(world.spycloud.seen.every((s) => s.headers['x-api-key'] === API_KEY)).toBe(true);
  });

  it('422: fatal for a health check, a warning for that observable when enriching', async () => {
    world.spycloud.route(endpoint.upstream, json({ message: 'query too broad' }, 422));
    const message = 'SpyCloud cannot answer a query this broad. Narrow it, for example to a full email address.';
    expect(await call(world, endpoint)).toEqual({ errors: [{ type: endpoint === HEALTH ? 'fatal' : 'warning', code: 'invalid argument', message }] });
    expect(upstreamCalls()).toBe(1);
  });

  it('a connection reset on every try: could not be reached, after retries', async () => {
    world.spycloud.route(endpoint.upstream, (req) => void req.socket.destroy());
    const body = await call(world, endpoint);
    expect(body.errors).toHaveLength(1);
    expect(body.data).toBeUndefined();
    expect(body.errors[0]).toMatchObject({ type: 'fatal', code: 'unknown' });
    expect(body.errors[0].message).toMatch(/^SpyCloud could not be reached: \S.*\.$/);
    expect(upstreamCalls()).toBe(3);
  });

  it('400 is no results, not an error', async () => {
    world.spycloud.route(endpoint.upstream, json({ message: 'Bad Request' }, 400));
    expect(await call(world, endpoint)).toEqual(endpoint === HEALTH ? { data: { status: 'ok' } } : { data: {} });
    expect(upstreamCalls()).toBe(1);
  });

  it.each<[string, Handler]>([
    ['not JSON', json('<html>maintenance</html>', 200, { 'content-type': 'text/html' })],
    ['JSON without results', json({ cursor: '', hits: 0 })],
    ['results that are not a list', json({ results: { a: 1 } })],
    ['JSON null', json('null')],
  ])('200 with a body that is %s', async (_case, handler) => {
    world.spycloud.route(endpoint.upstream, handler);
    // /health reads only the status: any 2xx means SpyCloud took the key (§2).
    expect(await call(world, endpoint)).toEqual(endpoint === HEALTH
      ? { data: { status: 'ok' } }
      : fatal('unknown', 'SpyCloud answered with an unexpected body (HTTP 200).'));
  });

  it('still serves good requests after all of these', async () => {
    await expectStillServing(world);
  });
});

describe.each(ENDPOINTS)('SpyCloud unreachable or slow, on $path', (endpoint) => {
  it('a certificate not trusted', async () => {
    const { cert, key } = selfSignedCertificate();
    const seen: string[] = [];
    const server: HttpsServer = createHttpsServer({ cert, key }, (req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"cursor":"","hits":0,"results":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const world = await startXdrWorld({ SPYCLOUD_API_URL: `https://127.0.0.1:${port}` });
    try {
      const body = await call(world, endpoint);
      expect(body.errors).toHaveLength(1);
      expect(body.data).toBeUndefined();
      const [error] = body.errors;
      expect(error.type).toBe('fatal');
      expect(error.code).toBe('unknown');
      expect(error.message.startsWith('Unable to verify SSL certificate: ')).toBe(true);
      expect(error.message.slice('Unable to verify SSL certificate: '.length).trim()).not.toBe('');
      expect(error.message).toContain('self-signed certificate');
      expect(seen).toEqual([]);
      expect((await world.relay.post('/version')).body).toEqual({ version: '1.0.0' });
    } finally {
      await world.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a timeout (SPYCLOUD_TIMEOUT_MS)', async () => {
    const world = await startXdrWorld({ SPYCLOUD_TIMEOUT_MS: '200' });
    try {
      world.spycloud.route(endpoint.upstream, silent);
      expect(await call(world, endpoint)).toEqual(fatal('unknown', 'SpyCloud did not answer within 200 ms.'));
      // A timeout is not retried.
      expect(world.spycloud.seen.filter((s) => s.path === endpoint.upstream)).toHaveLength(1);
      await expectStillServing(world);
    } finally {
      await world.close();
    }
  });

  it('the request budget (REQUEST_BUDGET_MS) runs out', async () => {
    const world = await startXdrWorld({ REQUEST_BUDGET_MS: '300' });
    try {
      world.spycloud.route(endpoint.upstream, silent);
      expect(await call(world, endpoint)).toEqual(fatal('unknown', 'The relay ran out of its 300 ms budget; results are partial.'));
      await expectStillServing(world);
    } finally {
      await world.close();
    }
  });

  it('a refused connection', async () => {
    const closed = await startStandIn();
    await closed.close();
    const world = await startXdrWorld({ SPYCLOUD_API_URL: closed.url });
    try {
      const body = await call(world, endpoint);
      expect(body.errors).toHaveLength(1);
      expect(body.data).toBeUndefined();
      const [error] = body.errors;
      expect(error).toMatchObject({ type: 'fatal', code: 'unknown' });
      expect(error.message).toMatch(/^SpyCloud could not be reached: \S.*\.$/);
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.message).not.toMatch(/\n\s+at /);
      expect((await world.relay.post('/version')).body).toEqual({ version: '1.0.0' });
    } finally {
      await world.close();
    }
  });
});

describe('catalog failures (RELAY.md §4.3)', () => {
  it('a catalog call answering 500 gives the sightings and one warning per id', async () => {
    const world = await startXdrWorld();
    try {
      world.spycloud.route('/breach/catalog/*', json({ message: 'boom' }, 500));
      const body = await call(world, OBSERVE);
      expect(body.data.sightings.count).toBe(4);
      expect(body.data.indicators).toBeUndefined();
      expect(body.data.relationships).toBeUndefined();
      expect(body.errors).toHaveLength(3);
      for (const error of body.errors) expect(error.type).toBe('warning');
      expect(body.errors.map((e: { message: string }) => e.message).sort()).toEqual(['31337', '4242', '777']
        .map((id) => `SpyCloud catalog ${id} could not be fetched: The Spycloud internal error.`).sort());
      expect(body.errors.every((e: { code: string }) => e.code === 'unknown')).toBe(true);
    } finally {
      await world.close();
    }
  });

  it('a catalog call answering 403 is fatal', async () => {
    const world = await startXdrWorld();
    try {
      world.spycloud.route('/breach/catalog/*', json({ message: 'Key disabled' }, 403));
      expect(await call(world, OBSERVE)).toEqual(fatal('authorization error', 'Authorization failed: Key disabled'));
      await expectStillServing(world);
    } finally {
      await world.close();
    }
  });
});

describe('path encoding and partial data', () => {
  let world: XdrWorld;
  beforeAll(async () => {
    world = await startXdrWorld();
  });
  afterAll(() => world.close());

  const observe = async (values: string[]) => {
    const { status, body } = await world.relay.post('/observe/observables', values.map((value) => ({ type: 'email', value })), await world.auth());
    expect(status).toBe(200);
    return body;
  };

  it('an email holding / ? # % reaches SpyCloud as ONE path segment', async () => {
    const email = 'a/b?c#d%e@example.com';
    world.spycloud.route(recordsPath(email), NO_RESULTS);
    world.spycloud.seen.length = 0;
    expect(await observe([email])).toEqual({ data: {} });
    expect(world.spycloud.seen.map((s) => s.url)).toEqual([`/breach/data/emails/${encodeURIComponent(email)}`]);
  });

  const refused = fatal('authorization error', 'Authorization failed: Key disabled');
  const seenValues = (body: any) => new Set(body.data.sightings.docs.map((s: any) => s.observables[0].value));

  it('a fatal error on the second email: the first one\'s data, then the error last', async () => {
    world.spycloud.route(recordsPath('refused@example.com'), json({ message: 'Key disabled' }, 403));
    world.spycloud.route(recordsPath('third@example.com'), RECORDS());
    const body = await observe([EXAMPLE_EMAIL, 'refused@example.com', 'third@example.com']);
    expect(body.data.sightings.count).toBe(4);
    expect(seenValues(body)).toEqual(new Set([EXAMPLE_EMAIL]));
    expect(body.errors.at(-1)).toEqual(refused.errors[0]);
    expect(body.errors.slice(0, -1).every((e: { type: string }) => e.type === 'warning')).toBe(true);
  });

  it('a fatal error on the first email: no data key, only the error', async () => {
    expect(await observe(['refused@example.com', EXAMPLE_EMAIL, 'third@example.com'])).toEqual(refused);
  });

  it('still serves good requests afterwards', async () => {
    await expectStillServing(world);
  });
});

describe('budget and odd values (RELAY.md §4.1, §4.3)', () => {
  let world: XdrWorld;
  beforeAll(async () => {
    world = await startXdrWorld({ REQUEST_BUDGET_MS: '700', SPYCLOUD_TIMEOUT_MS: '5000' });
  });
  afterAll(() => world.close());

  it('a catalog call cut short by the budget keeps the sightings and warns per catalog id', async () => {
    world.spycloud.route('/breach/catalog/*', silent);
    const body = await call(world, OBSERVE);
    expect(body.data.sightings.count).toBe(4);
    expect(body.data.indicators).toBeUndefined();
    const reason = 'The relay ran out of its 700 ms budget; results are partial.';
    expect(body.errors).toEqual(['31337', '4242', '777'].map((id) => ({
      type: 'warning', code: 'unknown', message: `SpyCloud catalog ${id} could not be fetched: ${reason}`,
    })));
  });

  it.each([['.', '%2E'], ['..', '%2E%2E']])('a user of %j stays one path segment (%s), never a dot segment', async (user, spelled) => {
    world.spycloud.route('/breach/data/usernames/*', NO_RESULTS);
    world.spycloud.seen.length = 0;
    const answer = await world.relay.post('/observe/observables', [{ type: 'user', value: user }], await world.auth());
    expect(answer.body).toEqual({ data: {} });
    expect(world.spycloud.seen.map((s) => s.url)).toEqual([`/breach/data/usernames/${spelled}`]);
  });

  it('a value with a lone surrogate is an invalid argument, before SpyCloud is asked', async () => {
    world.spycloud.seen.length = 0;
    const answer = await world.relay.post('/observe/observables', '[{"type":"email","value":"\\ud800@example.com"}]', await world.auth());
    expect(answer.body).toEqual(fatal('invalid argument', 'Invalid JSON payload received. Item 0 has a "value" that is not valid Unicode.'));
    expect(world.spycloud.seen).toEqual([]);
    expect(world.relay.logs.join('')).not.toContain('unexpected failure');
  });
});
