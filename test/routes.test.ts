// RELAY.md §2 routes and §5 body handling, on the relay on a real port.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_EMAIL } from './support/spycloud.js';
import { json } from './support/stand-in.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const NO_RESULTS = json({ cursor: '', hits: 0, results: [] });
const recordsPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;
const PREFIX = 'Invalid JSON payload received. ';

let world: XdrWorld;
beforeAll(async () => {
  world = await startXdrWorld();
});
afterAll(() => world.close());

const send = async (method: string, path: string, init: RequestInit = {}) => {
  const response = await fetch(world.relay.url + path, { method, ...init });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
};

const observe = (body: unknown, headers: Record<string, string> = {}) => world.relay.post('/observe/observables', body, headers);

const recordCalls = () => world.spycloud.seen.filter((s) => s.path.startsWith('/breach/data/emails/'));

async function expectStillServing() {
  expect(await send('POST', '/version')).toMatchObject({ status: 200, body: { version: PACKAGE_VERSION } });
}

describe('/version and /watchdog (no authentication)', () => {
  it('POST /version answers the package version', async () => {
    expect(PACKAGE_VERSION).toBe('1.0.0');
    for (const path of ['/version', '/version/']) {
      const { status, body, headers } = await send('POST', path);
      expect(status).toBe(200);
      expect(headers.get('content-type')).toMatch(/^application\/json/);
      expect(body).toEqual({ version: PACKAGE_VERSION });
    }
  });

  it('GET /watchdog echoes the Health-Check header', async () => {
    for (const path of ['/watchdog', '/watchdog/']) {
      expect(await send('GET', path, { headers: { 'Health-Check': 'probe-42' } })).toMatchObject({ status: 200, body: { data: 'probe-42' } });
    }
  });

  it('GET /watchdog without Health-Check fails as the contract says', async () => {
    const { status, body } = await send('GET', '/watchdog');
    expect(status).toBe(200);
    expect(body).toEqual({ errors: [{ type: 'fatal', code: 'health check failed', message: 'Invalid Health Check' }] });
  });
});

describe('unknown paths and wrong methods', () => {
  it.each([
    ['POST', '/'],
    ['GET', '/nope'],
    ['POST', '/observe'],
    ['POST', '/observe/observables/extra'],
    ['POST', '/refer/observables'],
    ['POST', '/health/check'],
    ['GET', '/version/1'],
  ])('%s %s → 404', async (method, path) => {
    const { status, body } = await send(method, path);
    expect(status).toBe(404);
    expect(body).toEqual({ code: 404, message: 'Not Found' });
  });

  it.each([
    ['GET', '/health', 'POST'],
    ['PUT', '/health/', 'POST'],
    ['GET', '/observe/observables', 'POST'],
    ['DELETE', '/observe/observables/', 'POST'],
    ['GET', '/version', 'POST'],
    ['PATCH', '/version', 'POST'],
    ['POST', '/watchdog', 'GET'],
    ['PUT', '/watchdog/', 'GET'],
  ])('%s %s → 405, Allow: %s', async (method, path, allow) => {
    const { status, body, headers } = await send(method, path);
    expect(status).toBe(405);
    expect(body).toEqual({ code: 405, message: 'Method Not Allowed' });
    expect(headers.get('allow')).toBe(allow);
  });

  it('trailing slashes reach the authenticated routes too', async () => {
    expect((await world.relay.post('/health/', undefined, await world.auth())).body).toEqual({ data: { status: 'ok' } });
    const { body } = await world.relay.post('/observe/observables/', [{ type: 'email', value: EXAMPLE_EMAIL }], await world.auth());
    expect(body.data.sightings.count).toBe(4);
  });

  it('still serves afterwards', expectStillServing);
});

describe('/observe/observables body (RELAY.md §5)', () => {
  it.each([
    ['no supported type', [{ type: 'sha256', value: 'ab'.repeat(32) }, { type: 'url', value: 'https://example.com/' }]],
    ['an empty list', []],
  ])('%s: {"data": {}} without authentication or SpyCloud', async (_case, body) => {
    world.spycloud.seen.length = 0;
    const answer = await observe(body);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: {} });
    expect(world.spycloud.seen).toEqual([]);
  });

  it('a supported type without authentication: the header is missing', async () => {
    const answer = await observe([{ type: 'email', value: EXAMPLE_EMAIL }]);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Authorization header is missing' }] });
  });

  it.each<[string, string, RegExp]>([
    ['not JSON', '[{"type":"email",', /JSON/i],
    ['an empty body', '', /JSON/i],
    ['an object instead of a list', JSON.stringify({ type: 'email', value: EXAMPLE_EMAIL }), /list/i],
    ['an item without type', JSON.stringify([{ value: EXAMPLE_EMAIL }]), /"type"/],
    ['an empty value', JSON.stringify([{ type: 'email', value: '' }]), /"value"/],
    ['a non-string value', JSON.stringify([{ type: 'email', value: 42 }]), /"value"/],
    ['1001 observables', JSON.stringify(Array.from({ length: 1001 }, (_, n) => ({ type: 'email', value: `u${n}@example.com` }))), /1000/],
  ])('%s is an invalid argument, checked before authentication', async (_case, raw, details) => {
    // Sent with and without a valid token: the body is judged first either way.
    for (const headers of [{}, await world.auth()]) {
      const { status, body } = await observe(raw, headers);
      expect(status).toBe(200);
      expect(Object.keys(body)).toEqual(['errors']);
      expect(body.errors).toHaveLength(1);
      const [error] = body.errors;
      expect(error.type).toBe('fatal');
      expect(error.code).toBe('invalid argument');
      expect(error.message.startsWith(PREFIX)).toBe(true);
      expect(error.message.slice(PREFIX.length)).toMatch(details);
    }
  });

  const TOO_LARGE = {
    errors: [{ type: 'fatal', code: 'invalid argument', message: 'Invalid JSON payload received. The body is larger than 1 MiB.' }],
  };
  const bigBody = () => JSON.stringify([{ type: 'email', value: EXAMPLE_EMAIL, padding: 'x'.repeat((1 << 20) + 10) }]);

  /** 413 with the §5 envelope, or the connection closed early: both are allowed. */
  async function expectTooLarge(init: RequestInit) {
    let answer;
    try {
      answer = await send('POST', '/observe/observables', init);
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError); // fetch failed: the relay closed the connection
      return;
    }
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual(TOO_LARGE);
  }

  it('a body over 1 MiB (with Content-Length) → 413, and the relay stays up', async () => {
    await expectTooLarge({ headers: { 'content-type': 'application/json', ...(await world.auth()) }, body: bigBody() });
    await expectStillServing();
  });

  it('a body over 1 MiB sent chunked (no Content-Length) → 413, and the relay stays up', async () => {
    const bytes = new TextEncoder().encode(bigBody());
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.subarray(at, at + 64 * 1024));
        controller.close();
      },
    });
    await expectTooLarge({ headers: { 'content-type': 'application/json', ...(await world.auth()) }, body: stream, duplex: 'half' } as RequestInit);
    await expectStillServing();
  });

  it('a client that hangs up mid-body is no bug: no error log, no stack, the relay stays up', async () => {
    const { connect } = await import('node:net');
    const { port } = new URL(world.relay.url);
    const before = world.relay.logs.length;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('POST /observe/observables HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n[{"type":');
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await expectStillServing();
    const lines = world.relay.logs.slice(before).map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(lines.some((line) => 'stack' in (line.err ?? {}))).toBe(false);
  });

  it('a body just under 1 MiB is read', async () => {
    const padding = 'x'.repeat((1 << 20) - 200);
    const { status, body } = await observe([{ type: 'email', value: EXAMPLE_EMAIL, padding }], await world.auth());
    expect(status).toBe(200);
    expect(body.data.sightings.count).toBe(4);
  });

  it('types fold to lower case and identical pairs are looked up once', async () => {
    world.spycloud.seen.length = 0;
    const { body } = await observe([
      { type: 'EMAIL', value: EXAMPLE_EMAIL },
      { type: 'email', value: EXAMPLE_EMAIL },
      { type: 'Email', value: EXAMPLE_EMAIL },
    ], await world.auth());
    expect(recordCalls()).toHaveLength(1);
    expect(body.data.sightings.count).toBe(4);
    for (const sighting of body.data.sightings.docs) {
      expect(sighting.observables).toEqual([{ type: 'email', value: EXAMPLE_EMAIL }]);
    }
  });

  it('values are used exactly as given: no trimming, no lower-casing', async () => {
    const values = [' JDoe@Acme-Corp.example ', 'JDoe@Acme-Corp.example', 'JDOE@ACME-CORP.EXAMPLE'];
    for (const value of values) world.spycloud.route(recordsPath(value), NO_RESULTS);
    world.spycloud.seen.length = 0;
    const { status, body } = await observe(values.map((value) => ({ type: 'email', value })), await world.auth());
    expect(status).toBe(200);
    expect(body).toEqual({ data: {} });
    expect(recordCalls().map((s) => s.url)).toEqual(expect.arrayContaining(values.map(recordsPath)));
    expect(recordCalls()).toHaveLength(3);
  });

  it('still serves afterwards', expectStillServing);
});
