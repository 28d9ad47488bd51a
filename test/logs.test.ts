// RELAY.md §8: one structured line per request, useful to an operator, and no
// secret or tenant data in any log line.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { redactUrlCredentials } from '../src/redact.js';
import { fixture } from './support/fixtures.js';
import { EXAMPLE_EMAIL } from './support/spycloud.js';
import { json } from './support/stand-in.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const TENANT = createHash('sha256').update(API_KEY).digest('hex').slice(0, 12);

/** Every password-like value of the example's breach records. */
const PASSWORDS: string[] = fixture('spycloud-breach-data-emails.json').results
  .flatMap((r: Record<string, unknown>) => [r.password, r.password_plaintext])
  .filter((p: unknown): p is string => typeof p === 'string' && p !== '');

describe('request logs (RELAY.md §8)', () => {
  let world: XdrWorld;
  let token: string;
  let foreignToken: string;
  let lines: Array<Record<string, any>>;
  let raw: string;

  beforeAll(async () => {
    world = await startXdrWorld();
    // An upstream refusal: its error lands in the request line, the email must not.
    // SpyCloud's text may echo a key or an email: the log carries its status and the relay's code only.
    world.spycloud.route(`/breach/data/emails/${encodeURIComponent('refused@example.com')}`, json({ message: `Key ${API_KEY} disabled for refused@example.com` }, 403));
    token = await world.token();
    foreignToken = await world.token({ aud: 'https://elsewhere.example' });
    const auth = { authorization: `Bearer ${token}` };
    const enriched = await world.relay.post('/observe/observables', fixture('request-observe.json'), auth);
    expect(enriched.body.data.sightings.count).toBe(4);
    const refused = await world.relay.post('/observe/observables', [{ type: 'email', value: 'refused@example.com' }], auth);
    expect(refused.body.errors[0].code).toBe('authorization error');
    const failedAuth = await world.relay.post('/observe/observables', [{ type: 'email', value: EXAMPLE_EMAIL }], { authorization: `Bearer ${foreignToken}` });
    expect(failedAuth.body.errors[0].message).toBe('Authorization failed: Wrong configuration-token-audience');
    expect((await world.relay.post('/health', undefined, auth)).body).toEqual({ data: { status: 'ok' } });
    raw = world.relay.logs.join('');
    lines = raw.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  });
  afterAll(() => world.close());

  it('writes one JSON line per request', () => {
    expect(lines.filter((l) => l.path !== undefined).map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual([
      'POST /observe/observables 200',
      'POST /observe/observables 200',
      'POST /observe/observables 200',
      'POST /health 200',
    ]);
  });

  it('contains neither the API key, nor a JWT, nor its signature', () => {
    expect(raw).not.toContain(API_KEY);
    for (const jwt of [token, foreignToken]) {
      expect(raw).not.toContain(jwt);
      expect(raw).not.toContain(jwt.split('.')[2]);
      expect(raw).not.toContain(jwt.split('.')[1]);
    }
  });

  it('contains no password of the breach records and no email address', () => {
    expect(PASSWORDS.length).toBeGreaterThan(0);
    for (const password of PASSWORDS) expect(raw).not.toContain(password);
    expect(raw).not.toContain(EXAMPLE_EMAIL);
    expect(raw).not.toContain('refused@example.com');
    expect(raw.toLowerCase()).not.toContain('acme-corp.example');
  });

  it('says what an operator needs on the request line', () => {
    const [enrichment, refused, failedAuth, health] = lines.filter((l) => l.path !== undefined);
    expect(enrichment).toMatchObject({
      method: 'POST', path: '/observe/observables', status: 200,
      observables: 1, types: ['email'], upstream_calls: 2, tenant: TENANT,
    });
    expect(typeof enrichment?.duration_ms).toBe('number');
    expect(enrichment?.duration_ms).toBeGreaterThanOrEqual(0);

    expect(refused).toMatchObject({ observables: 1, types: ['email'], upstream_calls: 1, tenant: TENANT });
    expect(refused?.error).toEqual({ type: 'fatal', code: 'authorization error' });
    expect(refused?.upstream_status).toBe(403);
    expect(JSON.stringify(refused)).not.toContain('disabled');

    // Authentication failed: no tenant is known, nothing went upstream.
    expect(failedAuth).toMatchObject({ status: 200, observables: 1, types: ['email'] });
    expect(failedAuth?.tenant).toBeUndefined();
    expect(failedAuth?.upstream_calls ?? 0).toBe(0);
    // The relay's own reason (a fixed text of RELAY.md §3) is safe and tells the operator what to fix.
    expect(failedAuth?.error).toEqual({ type: 'fatal', code: 'authorization error', reason: 'Authorization failed: Wrong configuration-token-audience' });
    expect(failedAuth?.upstream_status).toBeUndefined();

    expect(health).toMatchObject({ method: 'POST', path: '/health', status: 200, upstream_calls: 1, tenant: TENANT });
    expect(typeof health?.duration_ms).toBe('number');
  });

  it('carries no stack trace for expected failures', () => {
    expect(raw).not.toMatch(/\n\s+at /);
    expect(lines.some((l) => l.err !== undefined || l.stack !== undefined)).toBe(false);
  });
});

describe('URL logins (RELAY.md §8: no password in any message)', () => {
  it.each([
    ['https://user:pass@api.spycloud.io/enterprise-v2', 'https://***@api.spycloud.io/enterprise-v2'],
    ['got "http://alice:p@ss@proxy.example:3128"', 'got "http://***@proxy.example:3128"'],
    ['http://alice@proxy.example/ and https://b:c@d.example?x=1', 'http://***@proxy.example/ and https://***@d.example?x=1'],
    ['HTTPS://U:P@HOST', 'HTTPS://***@HOST'],
    ['got "http://user:p/ss@proxy.example:3128"', 'got "http://***@proxy.example:3128"'],
    ['http://user:p?s#s:x@proxy.example:3128/path and more', 'http://***@proxy.example:3128/path and more'],
    ["proxy 'https://tok/en+==@proxy.example' refused", "proxy 'https://***@proxy.example' refused"],
    // Where a login ends cannot be told from a path holding an @: the safe side hides both.
    ['https://api.spycloud.io/enterprise-v2/breach/data/emails/jdoe@example.com', 'https://***@example.com'],
  ])('%s → %s', (text, redacted) => {
    expect(redactUrlCredentials(text)).toBe(redacted);
  });

  it.each([
    'https://api.spycloud.io/enterprise-v2/breach/data/emails/jdoe',
    'jdoe@example.com',
    'mailto:jdoe@example.com',
  ])('leaves %s as it is (no URL with an @)', (text) => {
    expect(redactUrlCredentials(text)).toBe(text);
  });

  it('no log line carries one, whatever field it is in', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.error({ err: new Error('connect ECONNREFUSED via http://alice:hunter2@proxy.example:3128'), upstream: 'https://bob:s3cret@api.example', proxy: 'http://carol:p/ss#w@proxy.example' }, 'unexpected failure');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string);
    expect(line.err.message).toBe('connect ECONNREFUSED via http://***@proxy.example:3128');
    expect(line.upstream).toBe('https://***@api.example');
    expect(line.proxy).toBe('http://***@proxy.example');
    for (const secret of ['alice', 'hunter2', 'bob', 's3cret', 'carol', 'p/ss#w']) expect(lines[0]).not.toContain(secret);
  });
});
