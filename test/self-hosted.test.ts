// RELAY.md §3, self-hosted mode (SECRET_KEY set): HS256 only, its error texts,
// exp, the entities limit from the environment or the token, and no JWKS or
// audience at all. Real relay, real SpyCloud stand-in, real JWTs.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { maskedAnswer } from './support/passwords.js';
import { startRelay, type TestRelay } from './support/relay.js';
import { EXAMPLE_EMAIL, startExampleSpyCloud } from './support/spycloud.js';
import { json, startStandIn, type StandIn } from './support/stand-in.js';
import { hs256, unsigned, xdrSigner } from './support/tokens.js';
import { API_KEY } from './support/xdr.js';

const SECRET = 'self-hosted-secret-0123456789-abcdef';
const OTHER_SECRET = 'another-secret-of-enough-length-9876543210';
const ONE_EMAIL = [{ type: 'email', value: EXAMPLE_EMAIL }];
const nowS = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const refused = (text: string) => ({
  errors: [{ type: 'fatal', code: 'authorization error', message: `Authorization failed: ${text}` }],
});

/** Gives the random sighting/relationship ids the worked example's labels, in order of appearance. */
function labelled(answer: any) {
  const labels = new Map<string, string>();
  for (const kind of ['sighting', 'relationship'] as const) {
    const docs: { id: string }[] = answer.data[`${kind}s`].docs;
    docs.forEach((doc, n) => labels.set(doc.id, `transient:${kind}-<${kind} uuid #${n + 1}>`));
  }
  const text = JSON.stringify(answer).replace(/transient:(sighting|relationship)-[0-9a-f-]{36}/g, (id) => labels.get(id) ?? id);
  return JSON.parse(text);
}

let spycloud: StandIn;
let jwksHost: StandIn;
let relay: TestRelay;
let limited: TestRelay;

beforeAll(async () => {
  const signer = await xdrSigner();
  spycloud = await startExampleSpyCloud();
  // A working JWKS host, allowed and reachable: self-hosted mode must still never ask it.
  jwksHost = await startStandIn({ '/.well-known/jwks': json(signer.jwks) });
  const env = {
    SPYCLOUD_API_URL: spycloud.url,
    SECRET_KEY: SECRET,
    JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks',
    JWKS_ALLOWED_HOSTS: jwksHost.host,
  };
  relay = await startRelay(env);
  limited = await startRelay({ ...env, CTR_ENTITIES_LIMIT: '2' });
});

afterAll(async () => {
  await Promise.all([relay.close(), limited.close()]);
  await Promise.all([spycloud.close(), jwksHost.close()]);
});

describe('self-hosted mode (SECRET_KEY, HS256)', () => {
  it('enriches the worked example, passwords masked, with a good HS256 token that carries only the key', async () => {
    const { status, body } = await relay.post('/observe/observables', fixture('request-observe.json'), bearer(await hs256({ key: API_KEY }, SECRET)));
    expect(status).toBe(200);
    expect(labelled(body)).toEqual(maskedAnswer(fixture('expected-observe-response.json')));
    const records = spycloud.seen.find((s) => s.path.startsWith('/breach/data/emails/'));
    expect(records?.headers['x-api-key']).toBe(API_KEY);
  });

  it('shows the passwords in plaintext to a token whose PASSWORD_DISPLAY claim asks for it', async () => {
    const token = await hs256({ key: API_KEY, PASSWORD_DISPLAY: 'plaintext' }, SECRET);
    const { body } = await relay.post('/observe/observables', fixture('request-observe.json'), bearer(token));
    expect(labelled(body)).toEqual(fixture('expected-observe-response.json'));
  });

  it('answers a health check with the same token', async () => {
    const { body } = await relay.post('/health', undefined, bearer(await hs256({ key: API_KEY }, SECRET)));
    expect(body).toEqual({ data: { status: 'ok' } });
    expect(spycloud.seen.at(-1)?.url).toBe('/watchlist/example.org');
  });

  it('needs no audience and ignores jwks_host: a token naming both still works, and no JWKS host is ever asked', async () => {
    const token = await hs256({ key: API_KEY, jwks_host: jwksHost.host, aud: 'https://somewhere-else.example' }, SECRET);
    const { body } = await relay.post('/observe/observables', ONE_EMAIL, bearer(token));
    expect(body.data.sightings.count).toBe(4);
    // The worked example's catalog 777 is unknown to SpyCloud: its warning, and nothing else.
    expect(body.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 777' }]);
    expect(jwksHost.seen).toEqual([]);
  });

  const refusals: Array<[string, () => Promise<string> | string, string]> = [
    ['a token signed with another secret', () => hs256({ key: API_KEY }, OTHER_SECRET), 'Failed to decode JWT with provided key'],
    ['an unsigned token (alg: none)', () => unsigned({ key: API_KEY }), 'Failed to decode JWT with provided key'],
    ['an RS256 token, even one XDR would sign', async () => (await xdrSigner()).sign({ key: API_KEY }), 'Failed to decode JWT with provided key'],
    [
      'an HS512 token signed with the very SECRET_KEY',
      () => new SignJWT({ key: API_KEY }).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(SECRET)),
      'Failed to decode JWT with provided key',
    ],
    ['a token that expired an hour ago', () => hs256({ key: API_KEY, exp: nowS() - 3_600 }, SECRET), 'Token has expired'],
    ['a token without the key claim', () => hs256({ CTR_ENTITIES_LIMIT: 5 }, SECRET), 'Wrong JWT payload structure'],
    ['a token that is not a JWT', () => 'not-a-jwt', 'Wrong JWT structure'],
    ['a token whose payload is not JSON', () => `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.bm90IGpzb24.c2ln`, 'Wrong JWT structure'],
  ];

  for (const endpoint of ['/observe/observables', '/health'] as const) {
    for (const [what, make, text] of refusals) {
      it(`${endpoint} refuses ${what}: "${text}", without calling SpyCloud`, async () => {
        const before = spycloud.seen.length;
        const body = endpoint === '/health' ? undefined : ONE_EMAIL;
        const answer = await relay.post(endpoint, body, bearer(await make()));
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual(refused(text));
        expect(spycloud.seen.length).toBe(before);
      });
    }
  }

  it('accepts a token whose exp is still ahead', async () => {
    const { body } = await relay.post('/observe/observables', ONE_EMAIL, bearer(await hs256({ key: API_KEY, exp: nowS() + 600 }, SECRET)));
    expect(body.data.sightings.count).toBe(4);
  });
});

describe('entities limit in self-hosted mode', () => {
  it('applies CTR_ENTITIES_LIMIT from the environment when the token has no claim', async () => {
    const { body } = await limited.post('/observe/observables', ONE_EMAIL, bearer(await hs256({ key: API_KEY }, SECRET)));
    expect(body.data.sightings.count).toBe(2);
    expect(body.data.sightings.docs).toHaveLength(2);
  });

  it('lets the token claim win over the environment, as a number or a numeric string', async () => {
    for (const claim of [3, '3']) {
      const { body } = await limited.post('/observe/observables', ONE_EMAIL, bearer(await hs256({ key: API_KEY, CTR_ENTITIES_LIMIT: claim }, SECRET)));
      expect(body.data.sightings.count).toBe(3);
    }
  });

  it('falls back to the environment for a claim that is not a positive integer', async () => {
    const { body } = await limited.post('/observe/observables', ONE_EMAIL, bearer(await hs256({ key: API_KEY, CTR_ENTITIES_LIMIT: 0 }, SECRET)));
    expect(body.data.sightings.count).toBe(2);
  });

  it('never asked the JWKS host, in any test of this file', () => {
    expect(jwksHost.seen).toEqual([]);
  });
});
