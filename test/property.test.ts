// Property-based: whatever XDR (or anyone) sends, and whatever SpyCloud answers, the
// relay answers the contract's envelope (RELAY.md §2, §5), never a 5xx, a stack trace
// or a secret in its logs; and whatever records and catalogs SpyCloud holds, every
// document of the answer is CTIM that XDR accepts (§6). One running relay per describe.
import fc from 'fast-check';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctimViolations } from './ctim-rules.js';
import { fixture } from './support/fixtures.js';
import { catalogs, EXAMPLE_EMAIL, exampleCatalogs } from './support/spycloud.js';
import { json, type Handler } from './support/stand-in.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const MiB = 1 << 20;
const RUNS = 200;
const STACK_FRAME = /\bat .*:\d+:\d+|\n\s+at /;

interface Answer {
  status: number;
  text: string;
}

/**
 * POSTs on a connection of its own with node:http, which sends any Latin-1 header value
 * and still reads an answer the relay sends before it has taken the whole body.
 * `undefined` when the relay closed the connection without an answer.
 */
function post(url: string, body: string, authorization: string | undefined): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization !== undefined) headers.authorization = authorization;
    const req = request(url, { method: 'POST', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (['ECONNRESET', 'EPIPE'].includes(error.code ?? '')) resolve(undefined);
      else reject(error);
    });
    req.end(body);
  });
}

/** The contract's envelope, and nothing else. */
function expectEnvelope(answer: Answer, allowed: readonly number[]) {
  expect(allowed).toContain(answer.status);
  const body: unknown = JSON.parse(answer.text);
  expect(typeof body === 'object' && body !== null && !Array.isArray(body)).toBe(true);
  const keys = Object.keys(body as object);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) expect(['data', 'errors']).toContain(key);
  const { data, errors } = body as { data?: unknown; errors?: unknown };
  if ('data' in (body as object)) expect(typeof data === 'object' && data !== null && !Array.isArray(data)).toBe(true);
  if ('errors' in (body as object)) {
    expect(Array.isArray(errors) && errors.length > 0).toBe(true);
    const list = errors as Array<Record<string, unknown>>;
    for (const [n, error] of list.entries()) {
      expect(Object.keys(error).sort()).toEqual(['code', 'message', 'type']);
      expect(['fatal', 'warning']).toContain(error.type);
      expect(typeof error.code).toBe('string');
      expect(typeof error.message).toBe('string');
      expect(error.message).not.toMatch(STACK_FRAME);
      // A fatal error ends the answer (RELAY.md §5).
      if (error.type === 'fatal') expect(n).toBe(list.length - 1);
    }
  }
  return body as { data?: Record<string, unknown>; errors?: Array<Record<string, string>> };
}

const base64url = (text: string) => Buffer.from(text).toString('base64url');
/** Any string a header value can carry: HTAB, SP, visible ASCII, obs-text (RFC 9110 §5.5). */
const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09))
    .map((code) => String.fromCharCode(code)),
  maxLength: 300,
});
const base64urlText = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 80 });

/** Bodies: valid and invalid JSON, wrong types, deep nesting, huge strings, observables of every shape. */
const bodies = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 5_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.integer({ min: 1, max: 5_000 }).map((n) => JSON.stringify([{ type: 'email', value: EXAMPLE_EMAIL }]).padEnd(n, ' ')),
  fc.integer({ min: 0, max: 2 * MiB }).map((n) => JSON.stringify([{ type: 'email', value: 'a'.repeat(n) + '@example.org' }])),
  fc.array(
    fc.record({
      type: fc.oneof(fc.constantFrom('email', 'EMAIL', 'Email', 'ip', 'domain', ''), fc.jsonValue()),
      value: fc.oneof(fc.constantFrom(EXAMPLE_EMAIL, 'a/b?c#d%e@example.org'), fc.emailAddress(), fc.string(), fc.jsonValue()),
      extra: fc.jsonValue(),
    }, { requiredKeys: [] }),
    { maxLength: 15 },
  ).map((items) => JSON.stringify(items)),
  fc.integer({ min: 995, max: 1005 }).map((n) => JSON.stringify(Array.from({ length: n }, () => ({ type: 'ip', value: '192.0.2.1' })))),
);

/** What to put in Authorization; tokens that must be signed are signed in the property. */
type AuthSpec =
  | { kind: 'raw'; value: string | undefined }
  | { kind: 'signed'; scheme: string; claims: Record<string, unknown>; kid: string | undefined };

const jwtHeaders = fc.oneof(
  fc.jsonValue(),
  fc.record({
    alg: fc.oneof(fc.constantFrom('RS256', 'HS256', 'none', 'ES256', 'PS256', ''), fc.jsonValue()),
    kid: fc.oneof(fc.constant('test-key-1'), fc.string(), fc.jsonValue()),
    typ: fc.constantFrom('JWT', 'jwt'),
    crit: fc.jsonValue(),
  }, { requiredKeys: [] }),
);

function authSpecs(world: () => XdrWorld): fc.Arbitrary<AuthSpec> {
  const claims = fc.record({
    key: fc.oneof(fc.constant(API_KEY), fc.string(), headerText, fc.jsonValue(), fc.constant(undefined)),
    jwks_host: fc.oneof(fc.constant(world().jwksHost.host), fc.domain(), fc.jsonValue(), fc.constant(undefined)),
    aud: fc.oneof(fc.constant(world().relay.url), fc.constant([world().relay.url, 'x']), fc.webUrl(), fc.jsonValue()),
    exp: fc.oneof(fc.integer({ min: 0, max: 4_000_000_000 }), fc.jsonValue()),
    CTR_ENTITIES_LIMIT: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string(), fc.jsonValue()),
    PASSWORD_DISPLAY: fc.jsonValue(),
  }, { requiredKeys: [] });
  const raw = (value: fc.Arbitrary<string | undefined>) => value.map((v): AuthSpec => ({ kind: 'raw', value: v }));
  return fc.oneof(
    raw(fc.constant(undefined)),
    raw(headerText),
    raw(fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', ''), fc.array(base64urlText, { minLength: 1, maxLength: 5 }))
      .map(([scheme, parts]) => `${scheme} ${parts.join('.')}`)),
    raw(fc.tuple(jwtHeaders, fc.oneof(fc.jsonValue(), claims), base64urlText)
      .map(([header, payload, signature]) => `Bearer ${base64url(JSON.stringify(header) ?? '')}.${base64url(JSON.stringify(payload) ?? '')}.${signature}`)),
    fc.record({
      kind: fc.constant('signed' as const),
      scheme: fc.constantFrom('Bearer', 'bearer', 'Bearer  '),
      claims,
      kid: fc.oneof(fc.constant('test-key-1'), fc.constant(undefined), fc.string()),
    }),
  );
}

describe('hostile input (property-based)', () => {
  let world: XdrWorld;
  const secretsSeen: string[] = [];

  beforeAll(async () => {
    world = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '1', SPYCLOUD_TIMEOUT_MS: '3000', REQUEST_BUDGET_MS: '5000' });
    // Every email is someone with the worked example's breach records.
    world.spycloud.route('/breach/data/emails/*', json(fixture('spycloud-breach-data-emails.json')));
  });
  afterAll(() => world.close());

  async function authorization(spec: AuthSpec): Promise<string | undefined> {
    if (spec.kind === 'raw') return spec.value;
    const claims = { key: API_KEY, jwks_host: world.jwksHost.host, aud: world.relay.url, ...spec.claims };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name as keyof typeof claims];
    const token = await world.signer.sign(claims, { kid: spec.kid });
    return `${spec.scheme} ${token}`;
  }

  const remember = (value: string | undefined) => {
    const token = value?.trim().split(/\s+/).at(-1);
    if (token !== undefined && token.length >= 24) secretsSeen.push(token);
  };

  it('answers /observe/observables with the envelope, HTTP 200 or 413, whatever the body and Authorization', async () => {
    await fc.assert(fc.asyncProperty(bodies, authSpecs(() => world), async (body, spec) => {
      const auth = await authorization(spec);
      remember(auth);
      const answer = await post(`${world.relay.url}/observe/observables`, body, auth);
      // Closing early is allowed only for a body over 1 MiB (RELAY.md §5).
      if (answer === undefined) {
        expect(Buffer.byteLength(body)).toBeGreaterThan(MiB);
        return;
      }
      expectEnvelope(answer, Buffer.byteLength(body) > MiB ? [413] : [200]);
    }), { numRuns: RUNS });
  }, 60_000);

  it('answers /health with the envelope and HTTP 200, whatever the body and Authorization', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 100 }), authSpecs(() => world), async (body, spec) => {
      const auth = await authorization(spec);
      remember(auth);
      const answer = await post(`${world.relay.url}/health`, body, auth);
      expect(answer).toBeDefined();
      const envelope = expectEnvelope(answer as Answer, [200]);
      if (envelope.data !== undefined) expect(envelope).toEqual({ data: { status: 'ok' } });
    }), { numRuns: RUNS });
  }, 60_000);

  it('answers with the envelope and HTTP 200 whatever SpyCloud answers', async () => {
    const upstream = fc.record({
      status: fc.constantFrom(200, 200, 200, 200, 204, 302, 400, 401, 403, 404, 422, 429, 500, 502, 503, 504, 599),
      headers: fc.record({
        'x-amzn-ErrorType': fc.constantFrom('TooManyRequestsException', 'LimitExceededException', 'Other'),
        'SpyCloud-Error': fc.constantFrom('Invalid IP', 'other'),
        'Retry-After': fc.constantFrom('0', '3600', 'soon', 'Wed, 21 Oct 2015 07:28:00 GMT'),
      }, { requiredKeys: [] }),
      body: fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.jsonValue().map((value) => JSON.stringify(value)),
        fc.record({
          cursor: fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }), fc.jsonValue()),
          message: fc.oneof(fc.string({ maxLength: 400 }), fc.jsonValue()),
          results: fc.array(fc.oneof(
            fc.jsonValue(),
            fc.record({
              email: fc.oneof(fc.emailAddress(), fc.jsonValue()),
              source_id: fc.oneof(fc.constantFrom(31337, 4242, 777, '31337'), fc.integer(), fc.string(), fc.jsonValue()),
              document_id: fc.oneof(fc.uuid(), fc.jsonValue()),
              spycloud_publish_date: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.jsonValue()),
              severity: fc.oneof(fc.integer({ min: -5, max: 40 }), fc.jsonValue()),
              sighting: fc.oneof(fc.nat(), fc.jsonValue()),
              infected_machine_id: fc.jsonValue(),
              password: fc.string(),
            }, { requiredKeys: [] }),
          ), { maxLength: 12 }),
        }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
      ),
    });
    let current: { status: number; headers: Record<string, string>; body: string } | undefined;
    const answer: Handler = (req, res, seen) => json((current as NonNullable<typeof current>).body, current?.status, current?.headers)(req, res, seen);
    world.spycloud.route('/breach/data/emails/*', answer);
    const catalogTable = exampleCatalogs();
    try {
      await fc.assert(fc.asyncProperty(upstream, fc.boolean(), async (reply, brokenCatalogs) => {
        current = reply;
        world.spycloud.route('/breach/catalog/*', brokenCatalogs ? answer : catalogs(catalogTable));
        const email = `fuzz-${Math.random().toString(36).slice(2)}@example.org`;
        const result = await post(`${world.relay.url}/observe/observables`, JSON.stringify([{ type: 'email', value: email }]), `Bearer ${await world.token()}`);
        expect(result).toBeDefined();
        expectEnvelope(result as Answer, [200]);
      }), { numRuns: RUNS });
    } finally {
      world.spycloud.route('/breach/data/emails/*', json(fixture('spycloud-breach-data-emails.json')));
      world.spycloud.route('/breach/catalog/*', catalogs(catalogTable));
    }
  }, 60_000);

  it('still answers a good enrichment afterwards, and never logged a token', async () => {
    const answer = await post(`${world.relay.url}/observe/observables`, JSON.stringify([{ type: 'email', value: EXAMPLE_EMAIL }]), `Bearer ${await world.token()}`);
    const body = expectEnvelope(answer as Answer, [200]);
    expect((body.data?.sightings as { count: number }).count).toBe(4);
    const logs = world.relay.logs.join('');
    expect(logs).not.toContain(API_KEY);
    for (const token of secretsSeen) expect(logs).not.toContain(token);
  });
});

/** Text of every kind: unicode (emoji included), around CTIM's limits, ASCII, other JSON. */
const oddText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  // Long ones, a few characters (emoji among them) repeated past 1024, 2048 or 5000 code units.
  fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), fc.integer({ min: 300, max: 6_000 })).map(([text, n]) => text.repeat(n)),
  fc.constantFrom('', ' ', 'n/a', 'null'),
);
const oddValue = fc.oneof(oddText, fc.jsonValue({ maxDepth: 2 }));

/** Dates SpyCloud might send, and ones it should not: out of CTIM's range, offsets, fractions, garbage. */
const oddDate = fc.oneof(
  fc.date({ min: new Date(Date.UTC(1900, 0, 1)), max: new Date(Date.UTC(2700, 0, 1)), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.date({ min: new Date(Date.UTC(1960, 0, 1)), max: new Date(Date.UTC(2600, 0, 1)), noInvalidDate: true }).map((d) => `${d.toISOString().slice(0, 19)}+05:30`),
  fc.constantFrom('1969-12-31T23:59:59Z', '1970-01-01T00:00:00Z', '2525-01-01T00:00:00Z', '2525-01-01T00:00:01Z', '0001-01-01',
    '9999-12-31T23:59:59.999999Z', '2024-02-30', '2024-01-01T24:00:00Z', '2024-01-01 10:00:00', '2023-11-02T10:20:30.123456789Z'),
  oddValue,
);

/** Sites of every shape: host names, URLs, IP addresses, unicode, nonsense. */
const oddSite = fc.oneof(
  fc.domain(),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.ipV4(),
  fc.ipV6().map((ip) => `https://[${ip}]/`),
  fc.constantFrom('n/a', '', 'http://', 'https://', 'not a host', 'Forum.Example.NET/board', 'bücher.example', 'ftp://x.example', 'https://[::1'),
  oddValue,
);

const CATALOG_IDS = ['11', '12', '13', '14'];

const oddCatalog = (id: string) => fc.record({
  id: fc.constantFrom(Number(id), id),
  uuid: fc.oneof(fc.uuid(), oddValue),
  title: oddValue,
  description: oddValue,
  site: oddSite,
  site_description: oddValue,
  confidence: fc.oneof(fc.integer({ min: 0, max: 4 }), oddValue),
  combo_list_flag: fc.oneof(fc.boolean(), oddValue),
  spycloud_publish_date: oddDate,
  assets: fc.oneof(fc.dictionary(oddText, fc.nat(), { maxKeys: 4 }), oddValue),
}, { requiredKeys: ['id'] });

const oddRecord = fc.record({
  email: fc.oneof(fc.emailAddress(), oddValue),
  username: oddValue,
  source_id: fc.oneof(fc.constantFrom(...CATALOG_IDS, ...CATALOG_IDS.map(Number)), oddValue),
  document_id: fc.oneof(fc.uuid(), oddValue),
  infected_machine_id: oddValue,
  spycloud_publish_date: oddDate,
  severity: fc.oneof(fc.integer({ min: -5, max: 40 }), oddValue),
  sighting: fc.oneof(fc.integer({ min: -3, max: 1_000 }), fc.constantFrom('3', 2.5, 1e300, -0, Number.MAX_SAFE_INTEGER + 2), oddValue),
  password: oddValue,
  password_old: oddValue,
  passwords: fc.oneof(fc.array(oddValue, { maxLength: 3 }), oddValue),
  password_type: oddValue,
  salt: oddValue,
  target_url: oddValue,
}, { requiredKeys: [] }).chain((record) => fc.dictionary(fc.string({ maxLength: 12 }), oddValue, { maxKeys: 3 })
  .map((extra) => ({ ...extra, ...record })));

/** Each supported type once, answered by SpyCloud with the run's records. */
const QUERIES = [
  { type: 'email', value: 'someone@example.org', path: '/breach/data/emails/*' },
  { type: 'domain', value: 'example.org', path: '/breach/data/domains/*' },
  { type: 'user', value: 'someone', path: '/breach/data/usernames/*' },
  { type: 'ip', value: '192.0.2.1', path: '/breach/data/ips/*' },
];

describe('CTIM whatever SpyCloud holds (property-based, RELAY.md §6)', () => {
  let world: XdrWorld;

  beforeAll(async () => {
    // No catalog cache: each run's catalogs are the ones SpyCloud answers.
    world = await startXdrWorld({ CATALOG_CACHE_TTL_S: '0', SPYCLOUD_RETRY_BASE_MS: '1' });
  });
  afterAll(() => world.close());

  it('every document of the answer satisfies CTIM\'s rules', async () => {
    const runs = fc.record({
      records: fc.array(oddRecord, { maxLength: 8 }),
      catalogs: fc.tuple(...CATALOG_IDS.map((id) => fc.option(oddCatalog(id), { nil: undefined }))),
      queries: fc.subarray(QUERIES, { minLength: 1 }),
      display: fc.constantFrom('plaintext', 'masked', 'hidden'),
    });
    const seen = { sightings: 0, indicators: 0, references: 0, relations: 0 };
    await fc.assert(fc.asyncProperty(runs, async ({ records, catalogs: found, queries, display }) => {
      for (const { path } of QUERIES) world.spycloud.route(path, json({ cursor: '', hits: records.length, results: records }));
      const table = Object.fromEntries(found.flatMap((c, n) => (c === undefined ? [] : [[CATALOG_IDS[n] as string, c]])));
      world.spycloud.route('/breach/catalog/*', catalogs(table));
      const body = JSON.stringify(queries.map(({ type, value }) => ({ type, value })));
      const answer = await post(`${world.relay.url}/observe/observables`, body, `Bearer ${await world.token({ PASSWORD_DISPLAY: display })}`);
      expect(answer).toBeDefined();
      const envelope = expectEnvelope(answer as Answer, [200]);
      expect(envelope.errors?.filter((e) => e.type === 'fatal') ?? []).toEqual([]);
      expect(ctimViolations(envelope.data ?? {})).toEqual([]);
      const data = envelope.data as { sightings?: { docs: any[] }; indicators?: { docs: any[] } } | undefined;
      seen.sightings += data?.sightings?.docs.length ?? 0;
      seen.indicators += data?.indicators?.docs.length ?? 0;
      seen.references += data?.indicators?.docs.reduce((n, i) => n + i.external_references.length, 0) ?? 0;
      seen.relations += data?.sightings?.docs.reduce((n, s) => n + s.relations.length, 0) ?? 0;
    }), { numRuns: RUNS });
    // The runs did reach every kind of document, not only empty answers.
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(RUNS / 10);
  }, 120_000);
});
