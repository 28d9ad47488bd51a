// RELAY.md §3, XDR-hosted mode: every authentication message, in precedence
// order, on both authenticated endpoints; audience, allow-list, JWKS cache and
// the per-request entities limit. Real JWKS host, real RS256 tokens, real relay.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { rawPost } from './support/raw-http.js';
import { EXAMPLE_EMAIL } from './support/spycloud.js';
import { json, startStandIn, type Handler, type StandIn } from './support/stand-in.js';
import { xdrSigner, type XdrSigner } from './support/tokens.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const MSG = {
  missing: 'Authorization header is missing',
  type: 'Wrong authorization type',
  structure: 'Wrong JWT structure',
  jwksHostMissing: 'jwks_host is missing in JWT payload. Make sure custom_jwks_host field is present in module_type',
  jwksHostWrong: 'Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure',
  kid: 'kid from JWT header not found in API response',
  signature: 'Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region.',
  audience: 'Wrong configuration-token-audience',
  payload: 'Wrong JWT payload structure',
  unauthorized: 'Unauthorized',
  expired: 'Token has expired',
} as const;

const PUBLIC_URL = 'https://relay.example.com';
const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'relay.example.com' };
const RECORDS_PATH = `/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Claims a valid token of `world` carries, for tokens built by hand. */
const claimsOf = (world: XdrWorld, extra: Record<string, unknown> = {}) =>
  ({ key: API_KEY, jwks_host: world.jwksHost.host, aud: world.relay.url, ...extra });

/** Holds requests until `count` have arrived, then lets them all through: proves they overlapped. */
function gate(count: number, then: Handler): Handler {
  const waiting: Array<() => void> = [];
  return (req, res, seen) => new Promise<void>((resolve) => {
    waiting.push(() => void Promise.resolve(then(req, res, seen)).then(resolve));
    if (waiting.length === count) for (const go of waiting.splice(0)) go();
  });
}

type Endpoint = { path: '/health' | '/observe/observables'; body?: unknown };
const ENDPOINTS: Endpoint[] = [
  { path: '/health' },
  { path: '/observe/observables', body: [{ type: 'email', value: EXAMPLE_EMAIL }] },
];

let world: XdrWorld;
let offList: StandIn;
beforeAll(async () => {
  world = await startXdrWorld();
  // Publishes the very keys that sign the tokens: only the allow-list keeps it out.
  offList = await startStandIn({ '/.well-known/jwks': json(world.signer.jwks) });
});
afterAll(async () => {
  await world.close();
  await offList.close();
});

describe.each(ENDPOINTS)('authentication on $path', ({ path, body }) => {
  const call = (w: XdrWorld, headers: Record<string, string> = {}) => w.relay.post(path, body, headers);

  /** The §3 envelope with exactly this text, and SpyCloud never asked with an unverified key. */
  async function expectRejected(w: XdrWorld, headers: Record<string, string>, text: string) {
    const before = w.spycloud.seen.length;
    const { status, body: answer } = await call(w, headers);
    expect(status).toBe(200);
    expect(answer).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: `Authorization failed: ${text}` }] });
    expect(w.spycloud.seen.length).toBe(before);
  }

  /** A normal answer, with SpyCloud asked using exactly `key`. */
  async function expectAccepted(w: XdrWorld, headers: Record<string, string>, key = API_KEY) {
    const before = w.spycloud.seen.length;
    const { status, body: answer } = await call(w, headers);
    expect(status).toBe(200);
    if (path === '/health') expect(answer).toEqual({ data: { status: 'ok' } });
    else {
      expect(answer.data.sightings.count).toBe(4);
      expect(answer.errors.filter((e: { type: string }) => e.type === 'fatal')).toEqual([]);
    }
    const calls = w.spycloud.seen.slice(before);
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect(c.headers['x-api-key']).toBe(key);
  }

  describe('rejections, first failing check wins', () => {
    // Each case builds the Authorization header value (undefined: no header).
    const cases: Array<[string, (w: XdrWorld) => Promise<string | undefined>, string]> = [
      ['no Authorization header', async () => undefined, MSG.missing],
      ['Basic scheme', async () => 'Basic dXNlcjpwYXNz', MSG.type],
      ['a valid token under another scheme', async (w) => `Token ${await w.token()}`, MSG.type],
      ['Bearer with no token', async () => 'Bearer', MSG.type],
      ['Bearer with two tokens', async (w) => `Bearer ${await w.token()} extra`, MSG.type],
      ['a token that is not a JWT', async () => 'Bearer not-a-jwt', MSG.structure],
      ['three parts of garbage', async () => 'Bearer a.b.c', MSG.structure],
      ['a payload that is not JSON', async (w) => `Bearer ${b64({ alg: 'RS256', kid: w.signer.kid })}.${b64('not json')}.${b64('sig')}`, MSG.structure],
      ['a payload that is a list', async (w) => `Bearer ${b64({ alg: 'RS256', kid: w.signer.kid })}.${b64([1, 2])}.${b64('sig')}`, MSG.structure],
      ['a header that is not JSON', async (w) => `Bearer ${b64('nope')}.${b64(claimsOf(w))}.${b64('sig')}`, MSG.structure],
      ['no jwks_host', async (w) => `Bearer ${await w.token({ jwks_host: undefined })}`, MSG.jwksHostMissing],
      ['an empty jwks_host', async (w) => `Bearer ${await w.token({ jwks_host: '' })}`, MSG.jwksHostMissing],
      ['no kid in the header', async (w) => `Bearer ${await w.signer.sign(claimsOf(w), { kid: undefined })}`, MSG.kid],
      ['a kid the host does not publish', async (w) => `Bearer ${await w.signer.sign(claimsOf(w), { kid: 'no-such-kid' })}`, MSG.kid],
      ['another RSA key under the same kid', async (w) => `Bearer ${await (await xdrSigner(w.signer.kid)).sign(claimsOf(w))}`, MSG.signature],
      ['an HS256 token naming the kid', async (w) => `Bearer ${await new SignJWT(claimsOf(w))
        .setProtectedHeader({ alg: 'HS256', kid: w.signer.kid })
        .sign(new TextEncoder().encode('a-shared-secret-of-more-than-32-chars'))}`, MSG.signature],
      ['an unsigned token naming the kid', async (w) => `Bearer ${b64({ alg: 'none', kid: w.signer.kid })}.${b64(claimsOf(w))}.`, MSG.signature],
      ['a valid signature over another payload', async (w) => {
        const [header, , signature] = (await w.token()).split('.');
        return `Bearer ${header}.${b64(claimsOf(w, { key: 'someone-elses-key' }))}.${signature}`;
      }, MSG.signature],
      ['a foreign aud', async (w) => `Bearer ${await w.token({ aud: 'https://elsewhere.example' })}`, MSG.audience],
      ['the relay on another port as aud', async (w) => `Bearer ${await w.token({ aud: 'http://127.0.0.1:1' })}`, MSG.audience],
      ['an aud list without this relay', async (w) => `Bearer ${await w.token({ aud: ['https://a.example', 'https://b.example'] })}`, MSG.audience],
      ['no aud', async (w) => `Bearer ${await w.token({ aud: undefined })}`, MSG.audience],
      ['no key', async (w) => `Bearer ${await w.token({ key: undefined })}`, MSG.payload],
      ['a key that is not a string', async (w) => `Bearer ${await w.token({ key: 12345 })}`, MSG.payload],
      ['a key with an inner space', async (w) => `Bearer ${await w.token({ key: 'sc test' })}`, MSG.unauthorized],
      ['a non-ASCII key', async (w) => `Bearer ${await w.token({ key: 'sc-tést' })}`, MSG.unauthorized],
      ['a key with a control character', async (w) => `Bearer ${await w.token({ key: 'sc-\u0007test' })}`, MSG.unauthorized],
      ['a key with a line break', async (w) => `Bearer ${await w.token({ key: 'sc\r\nX-Evil: 1' })}`, MSG.unauthorized],
      ['exp 120 s ago', async (w) => `Bearer ${await w.token({ exp: nowS() - 120 })}`, MSG.expired],
      // Precedence: the earlier check decides.
      ['no jwks_host and no key', async (w) => `Bearer ${await w.token({ jwks_host: undefined, key: undefined })}`, MSG.jwksHostMissing],
      ['an off-list jwks_host and no key', async (w) => `Bearer ${await w.token({ jwks_host: offList.host, key: undefined })}`, MSG.jwksHostWrong],
      ['an unknown kid and a foreign aud', async (w) => `Bearer ${await w.signer.sign(claimsOf(w, { aud: 'x' }), { kid: 'nope' })}`, MSG.kid],
      ['a bad signature and a foreign aud', async (w) => `Bearer ${await (await xdrSigner(w.signer.kid)).sign(claimsOf(w, { aud: 'x' }))}`, MSG.signature],
      ['a foreign aud and no key', async (w) => `Bearer ${await w.token({ aud: 'https://elsewhere.example', key: undefined })}`, MSG.audience],
      ['no key and expired', async (w) => `Bearer ${await w.token({ key: undefined, exp: nowS() - 3600 })}`, MSG.payload],
      ['a bad key and expired', async (w) => `Bearer ${await w.token({ key: 'sc test', exp: nowS() - 3600 })}`, MSG.unauthorized],
    ];
    it.each(cases)('%s', async (_case, header, text) => {
      const value = await header(world);
      await expectRejected(world, value === undefined ? {} : { authorization: value }, text);
    });

    it('never contacts a jwks_host off the allow-list, however it is dressed up', async () => {
      const allowed = world.jwksHost.host;
      for (const host of [offList.host, `${allowed}@${offList.host}`, `${offList.host}/${allowed}`, `${offList.host}#${allowed}`]) {
        await expectRejected(world, bearer(await world.token({ jwks_host: host })), MSG.jwksHostWrong);
      }
      expect(offList.seen).toEqual([]);
    });

    it('still answers a good request afterwards', async () => {
      await expectAccepted(world, await world.auth());
    });
  });

  describe('accepted tokens', () => {
    it.each([
      ['lower-case bearer', 'bearer'],
      ['upper-case BEARER', 'BEARER'],
    ])('%s', async (_case, scheme) => {
      await expectAccepted(world, { authorization: `${scheme} ${await world.token()}` });
    });

    it.each<[string, (w: XdrWorld) => Record<string, unknown>]>([
      ['an aud list containing this relay', (w) => ({ aud: ['https://other.example', w.relay.url] })],
      ['exp 30 s ago (within the leeway)', () => ({ exp: nowS() - 30 })],
      ['exp in the future', () => ({ exp: nowS() + 3600 })],
      ['no exp', () => ({ exp: undefined })],
    ])('%s', async (_case, claims) => {
      await expectAccepted(world, await world.auth(claims(world)));
    });

    it('a key with surrounding white space, sent to SpyCloud trimmed', async () => {
      await expectAccepted(world, await world.auth({ key: `  ${API_KEY}\t ` }));
    });
  });

  describe('jwks hosts that cannot serve their keys', () => {
    let broken: XdrWorld;
    let hosts: Record<string, StandIn>;
    beforeAll(async () => {
      hosts = {
        'answers 500': await startStandIn({ '/.well-known/jwks': json({ message: 'down' }, 500) }),
        'answers garbage JSON': await startStandIn({ '/.well-known/jwks': json('{"keys": [') }),
        'answers JSON without keys': await startStandIn({ '/.well-known/jwks': json({ nothing: true }) }),
        'answers HTML': await startStandIn({ '/.well-known/jwks': json('<html>hello</html>', 200, { 'content-type': 'text/html' }) }),
      };
      broken = await startXdrWorld({ JWKS_ALLOWED_HOSTS: Object.values(hosts).map((h) => h.host).join(',') });
    });
    afterAll(async () => {
      await broken.close();
      await Promise.all(Object.values(hosts).map((h) => h.close()));
    });

    it.each(['answers 500', 'answers garbage JSON', 'answers JSON without keys', 'answers HTML'])('an allowed host that %s', async (name) => {
      const host = hosts[name] as StandIn;
      await expectRejected(broken, await broken.auth({ jwks_host: host.host }), MSG.jwksHostWrong);
      expect(host.seen.map((s) => s.path)).toContain('/.well-known/jwks');
    });

    it('still serves: /version, and a host that just failed is not asked again within the minute', async () => {
      expect((await broken.relay.post('/version')).body).toEqual({ version: '1.0.0' });
      const host = hosts['answers 500'] as StandIn;
      const before = host.seen.length;
      await expectRejected(broken, await broken.auth({ jwks_host: host.host }), MSG.jwksHostWrong);
      expect(host.seen.length).toBe(before);
    });

    it('an allowed host that does not listen', async () => {
      const closed = await startStandIn();
      await closed.close();
      const relay = await startXdrWorld({ JWKS_ALLOWED_HOSTS: closed.host });
      try {
        await expectRejected(relay, await relay.auth({ jwks_host: closed.host }), MSG.jwksHostWrong);
      } finally {
        await relay.close();
      }
    });
  });

  describe('audience behind a proxy', () => {
    let trusting: XdrWorld;
    let published: XdrWorld;
    beforeAll(async () => {
      trusting = await startXdrWorld({ TRUST_PROXY: 'true' });
      published = await startXdrWorld({ RELAY_PUBLIC_URL: `${PUBLIC_URL}/` });
    });
    afterAll(async () => {
      await trusting.close();
      await published.close();
    });

    it('TRUST_PROXY=true: the audience is X-Forwarded-Proto://X-Forwarded-Host', async () => {
      await expectAccepted(trusting, { ...(await trusting.auth({ aud: PUBLIC_URL })), ...FORWARDED });
      await expectRejected(trusting, { ...(await trusting.auth()), ...FORWARDED }, MSG.audience);
    });

    it('TRUST_PROXY=true: host case and the default port do not matter, another host does', async () => {
      const spelled = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'Relay.EXAMPLE.com:443' };
      await expectAccepted(trusting, { ...(await trusting.auth({ aud: PUBLIC_URL })), ...spelled });
      const otherPort = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'relay.example.com:8443' };
      await expectRejected(trusting, { ...(await trusting.auth({ aud: PUBLIC_URL })), ...otherPort }, MSG.audience);
    });

    it('TRUST_PROXY=true without forwarded headers: the address the client called', async () => {
      await expectAccepted(trusting, await trusting.auth());
      await expectRejected(trusting, await trusting.auth({ aud: PUBLIC_URL }), MSG.audience);
    });

    it('TRUST_PROXY=false (default): forwarded headers are ignored', async () => {
      await expectRejected(world, { ...(await world.auth({ aud: PUBLIC_URL })), ...FORWARDED }, MSG.audience);
      await expectAccepted(world, { ...(await world.auth()), ...FORWARDED });
    });

    it('RELAY_PUBLIC_URL is the audience, whatever the request says', async () => {
      await expectAccepted(published, await published.auth({ aud: PUBLIC_URL }));
      await expectRejected(published, await published.auth(), MSG.audience);
      await expectRejected(published, { ...(await published.auth()), ...FORWARDED, host: 'relay.example.com' }, MSG.audience);
    });
  });
});

describe('audience and a request-target in absolute form (RELAY.md §3 step 7)', () => {
  // `POST https://host/health HTTP/1.1` over plain TCP: the target may name the host
  // (HTTP/1.1 says so), but the connection is not TLS, so the audience is http://.
  const health = async (w: XdrWorld, target: string, aud: string, extra: Record<string, string> = {}) => {
    const { host } = new URL(w.relay.url);
    const answer = await rawPost(w.relay.url, target, { Host: host, Authorization: `Bearer ${await w.token({ aud })}`, ...extra });
    expect(answer.status).toBe(200);
    return JSON.parse(answer.body);
  };
  const OK = { data: { status: 'ok' } };
  const REFUSED = { errors: [{ type: 'fatal', code: 'authorization error', message: `Authorization failed: ${MSG.audience}` }] };

  it('the scheme comes from the connection, not from an https:// request-target', async () => {
    const { host } = new URL(world.relay.url);
    expect(await health(world, `https://${host}/health`, `https://${host}`)).toEqual(REFUSED);
    expect(await health(world, `https://${host}/health`, `http://${host}`)).toEqual(OK);
    // The origin form, for comparison.
    expect(await health(world, '/health', `http://${host}`)).toEqual(OK);
  });

  it('TRUST_PROXY=true: X-Forwarded-Proto may say https, the request-target may not', async () => {
    const trusting = await startXdrWorld({ TRUST_PROXY: 'true' });
    try {
      const { host } = new URL(trusting.relay.url);
      expect(await health(trusting, `https://${host}/health`, `https://${host}`)).toEqual(REFUSED);
      expect(await health(trusting, `https://${host}/health`, `https://${host}`, { 'X-Forwarded-Proto': 'https' })).toEqual(OK);
    } finally {
      await trusting.close();
    }
  });
});

describe('JWKS cache (RELAY.md §3 step 4)', () => {
  let clock: XdrWorld;
  let offsetMs = 0;
  beforeAll(async () => {
    clock = await startXdrWorld({}, { now: () => Date.now() + offsetMs });
  });
  afterAll(() => clock.close());

  const jwksFetches = () => clock.jwksHost.seen.filter((s) => s.path === '/.well-known/jwks').length;
  const health = (token: string) => clock.relay.post('/health', undefined, bearer(token));
  const tokenOf = (signer: XdrSigner) => signer.sign({ key: API_KEY, jwks_host: clock.jwksHost.host, aud: clock.relay.url });

  it('keeps the key set, refetches for an unknown kid at most once a minute, and then accepts the new key', async () => {
    expect((await health(await clock.token())).body).toEqual({ data: { status: 'ok' } });
    expect((await health(await clock.token())).body).toEqual({ data: { status: 'ok' } });
    expect(jwksFetches()).toBe(1);

    // XDR rotates its keys: the host now publishes only a new key under a new kid.
    const rotated = await xdrSigner('test-key-2');
    clock.jwksHost.route('/.well-known/jwks', json(rotated.jwks));
    const fresh = await tokenOf(rotated);

    offsetMs = 30_000;
    const early = await health(fresh);
    expect(early.body.errors[0].message).toBe(`Authorization failed: ${MSG.kid}`);
    expect(jwksFetches()).toBe(1);

    offsetMs = 61_000;
    expect((await health(fresh)).body).toEqual({ data: { status: 'ok' } });
    expect(jwksFetches()).toBe(2);
    // The new set is cached in turn.
    expect((await health(fresh)).body).toEqual({ data: { status: 'ok' } });
    expect(jwksFetches()).toBe(2);
  });

  it('a token accepted before is refused once its kid names another key (verified tokens are remembered per key)', async () => {
    const signer = await xdrSigner('shared-kid');
    clock.jwksHost.route('/.well-known/jwks', json(signer.jwks));
    offsetMs += 10 * 60_000 + 1_000;
    const token = await tokenOf(signer);
    expect((await health(token)).body).toEqual({ data: { status: 'ok' } });
    expect((await health(token)).body).toEqual({ data: { status: 'ok' } });

    // Same kid, another key: the remembered verification must not outlive the key it was made with.
    const impostor = await xdrSigner('shared-kid');
    clock.jwksHost.route('/.well-known/jwks', json(impostor.jwks));
    offsetMs += 10 * 60_000 + 1_000;
    expect((await health(token)).body.errors[0].message).toBe(`Authorization failed: ${MSG.signature}`);
    expect((await health(await tokenOf(impostor))).body).toEqual({ data: { status: 'ok' } });
  });

  let current: XdrSigner;
  it('refetches the whole set after its 10 minute lifetime', async () => {
    const before = jwksFetches();
    offsetMs += 10 * 60_000 + 1_000;
    current = await xdrSigner('test-key-2');
    clock.jwksHost.route('/.well-known/jwks', json(current.jwks));
    expect((await health(await tokenOf(current))).body).toEqual({ data: { status: 'ok' } });
    expect(jwksFetches()).toBe(before + 1);
  });

  it('counts a failed refetch toward the once-a-minute limit, and keeps the known keys meanwhile', async () => {
    offsetMs += 61_000;
    clock.jwksHost.route('/.well-known/jwks', json({ message: 'down' }, 500));
    const before = jwksFetches();
    const unknownKid = await clock.signer.sign({ key: API_KEY, jwks_host: clock.jwksHost.host, aud: clock.relay.url }, { kid: 'unknown-kid' });
    for (let i = 0; i < 3; i++) {
      expect((await health(unknownKid)).body.errors[0].message).toBe(`Authorization failed: ${MSG.kid}`);
    }
    expect(jwksFetches()).toBe(before + 1);
    expect((await health(await tokenOf(current))).body).toEqual({ data: { status: 'ok' } });
  });
});

describe('entities limit (RELAY.md §3)', () => {
  let limited: XdrWorld;
  beforeAll(async () => {
    limited = await startXdrWorld({ CTR_ENTITIES_LIMIT: '1' });
  });
  afterAll(() => limited.close());

  const sightings = async (claims: Record<string, unknown>) => {
    const { status, body } = await limited.relay.post('/observe/observables', [{ type: 'email', value: EXAMPLE_EMAIL }], await limited.auth(claims));
    expect(status).toBe(200);
    return body.data.sightings.count as number;
  };

  it.each<[string, unknown, number]>([
    ['a number', 2, 2],
    ['a numeric string', '2', 2],
    ['larger than the records', 50, 4],
    // Clamped to 1000, not refused: any positive whole number asks for "many".
    ['past 2^53 (clamped)', 1e21, 4],
    ['thirty digits (clamped)', '9'.repeat(30), 4],
    ['four hundred digits (clamped)', '9'.repeat(400), 4],
    ['zero (env wins)', 0, 1],
    ['negative (env wins)', -2, 1],
    ['a fraction (env wins)', 1.5, 1],
    ['not numeric (env wins)', 'abc', 1],
    ['absent (env wins)', undefined, 1],
  ])('claim CTR_ENTITIES_LIMIT %s', async (_case, claim, expected) => {
    expect(await sightings({ CTR_ENTITIES_LIMIT: claim })).toBe(expected);
  });

  it('concurrent requests each keep their own limit', async () => {
    limited.spycloud.route(RECORDS_PATH, gate(3, json(fixture('spycloud-breach-data-emails.json'))));
    try {
      expect(await Promise.all([sightings({ CTR_ENTITIES_LIMIT: 3 }), sightings({ CTR_ENTITIES_LIMIT: '2' }), sightings({})]))
        .toEqual([3, 2, 1]);
    } finally {
      limited.spycloud.route(RECORDS_PATH, json(fixture('spycloud-breach-data-emails.json')));
    }
  });
});
