// RELAY.md §5 and §6 beyond email: domain, ip, ipv6 and user lookups over real HTTP
// (the exact SpyCloud path, pages, the entities limit, the mapping of observables,
// targets and relations), malformed values, a 422 among other observables.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_EMAIL } from './support/spycloud.js';
import { json, type Handler } from './support/stand-in.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const FORUM_INDICATOR = 'transient:indicator-28594711-b213-5240-9636-3f34c9df4ac4'; // catalog 4242
const STEALER_INDICATOR = 'transient:indicator-c293238e-37b9-5bbd-bc38-b816dc06a61b'; // catalog 31337
const TOO_BROAD = 'SpyCloud cannot answer a query this broad. Narrow it, for example to a full email address.';
const NO_777 = { type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 777' };

const page = (results: object[], cursor = '') => json({ cursor, hits: results.length, results });
const malformed = (type: string, value: string) =>
  ({ type: 'warning', code: 'invalid argument', message: `${type} ${value} is not a valid ${type}; it was not looked up.` });

/** Answers the first page, then the page named by `?cursor=`, like SpyCloud's paging. */
const paged = (pages: Record<string, object[]>, next: Record<string, string>): Handler => (req, res, seen) => {
  const cursor = new URL(seen.url, 'http://stand-in').searchParams.get('cursor') ?? '';
  page(pages[cursor] ?? [], next[cursor] ?? '')(req, res, seen);
};

const record = (documentId: string, sourceId: number, date: string, extra: object = {}) =>
  ({ document_id: documentId, source_id: sourceId, severity: 20, spycloud_publish_date: date, ...extra });

let world: XdrWorld;
beforeAll(async () => {
  world = await startXdrWorld();
});
afterAll(() => world.close());
afterEach(() => {
  world.spycloud.seen.length = 0;
});

const observe = async (body: unknown, claims: Record<string, unknown> = {}) => {
  const answer = await world.relay.post('/observe/observables', body, await world.auth(claims));
  expect(answer.status).toBe(200);
  return answer.body;
};
const recordCalls = () => world.spycloud.seen.filter((s) => s.path.startsWith('/breach/data/')).map((s) => s.url);
const observedAt = (date: string) => ({ start_time: date.replace('Z', '.000000Z'), end_time: date.replace('Z', '.000000Z') });

describe.each([
  { type: 'domain', value: 'acme-corp.example', path: '/breach/data/domains/acme-corp.example' },
  { type: 'ip', value: '10.0.0.1', path: '/breach/data/ips/10.0.0.1' },
  { type: 'ipv6', value: '2001:db8::23', path: '/breach/data/ips/2001%3Adb8%3A%3A23' },
  { type: 'user', value: 'j.doe/77?#%', path: '/breach/data/usernames/j.doe%2F77%3F%23%25' },
])('$type observables (RELAY.md §5, §6)', ({ type, value, path }) => {
  const queried = { type, value };
  const ANN = record('doc-ann', 4242, '2022-06-15T00:00:00Z', { email: 'ann@acme-corp.example', username: 'ann' });
  const BOB = record('doc-bob', 31337, '2023-11-02T00:00:00Z', { email: 'bob@acme-corp.example', ip_addresses: ['10.0.0.1'] });
  const NO_EMAIL = record('doc-anon', 4242, '2024-01-05T00:00:00Z', { username: 'j.doe/77?#%' });

  it('asks SpyCloud at the type\'s path, follows its pages, and maps every record newest first', async () => {
    world.spycloud.route(path, paged({ '': [ANN, BOB], 'next/page 2': [NO_EMAIL] }, { '': 'next/page 2' }));
    const body = await observe([queried]);
    expect(recordCalls()).toEqual([path, `${path}?cursor=next%2Fpage%202`]);

    const sightings = body.data.sightings.docs;
    expect(sightings.map((s: any) => s.external_ids[0])).toEqual(['doc-anon', 'doc-bob', 'doc-ann']);
    for (const s of sightings) expect(s.observables).toEqual([queried]);
    // Whose account: the record's email when it has one, else what was asked about.
    expect(sightings.map((s: any) => s.targets)).toEqual([
      [{ type, observables: [queried], observed_time: observedAt('2024-01-05T00:00:00Z') }],
      [{ type: 'email', observables: [{ type: 'email', value: 'bob@acme-corp.example' }], observed_time: observedAt('2023-11-02T00:00:00Z') }],
      [{ type: 'email', observables: [{ type: 'email', value: 'ann@acme-corp.example' }], observed_time: observedAt('2022-06-15T00:00:00Z') }],
    ]);
    // Leaked_From starts at the queried observable; catalog 31337's site is "n/a", so none.
    const leakedFrom = [{ origin: 'Spycloud Breach Module', relation: 'Leaked_From', source: queried, related: { type: 'domain', value: 'forum.example.net' } }];
    expect(sightings.map((s: any) => s.relations)).toEqual([leakedFrom, [], leakedFrom]);
    expect(body.data.indicators.docs.map((i: any) => i.id)).toEqual([FORUM_INDICATOR, STEALER_INDICATOR]);
    expect(body.data.relationships.docs.map((r: any) => [r.source_ref, r.target_ref]))
      .toEqual(sightings.map((s: any, n: number) => [s.id, n === 1 ? STEALER_INDICATOR : FORUM_INDICATOR]));
    expect(body.errors).toBeUndefined();
  });

  it('keeps the newest records within the token\'s entities limit', async () => {
    world.spycloud.route(path, page([ANN, NO_EMAIL, BOB]));
    const body = await observe([queried], { CTR_ENTITIES_LIMIT: 2 });
    expect(body.data.sightings.docs.map((s: any) => s.external_ids[0])).toEqual(['doc-anon', 'doc-bob']);
    expect(recordCalls()).toEqual([path]);
  });

  it('answers {"data": {}} when SpyCloud has nothing', async () => {
    world.spycloud.route(path, page([]));
    expect(await observe([{ type: type.toUpperCase(), value }])).toEqual({ data: {} });
    expect(recordCalls()).toEqual([path]);
  });
});

describe('malformed values (RELAY.md §5)', () => {
  it('are never sent upstream; each is a warning in request order, and the well-formed ones are still looked up', async () => {
    world.spycloud.route('/breach/data/usernames/jdoe', page([record('doc-1', 4242, '2022-06-15T00:00:00Z')]));
    const body = await observe([
      { type: 'ip', value: '10.0.0.256' },
      { type: 'user', value: 'jdoe' },
      { type: 'Domain', value: 'localhost' },
      { type: 'email', value: 'jdoe.acme-corp.example' },
      { type: 'ipv6', value: '2001:db8::g' },
      { type: 'IP', value: '2001:db8::1' },
    ]);
    expect(recordCalls()).toEqual(['/breach/data/usernames/jdoe']);
    expect(body.errors).toEqual([
      malformed('ip', '10.0.0.256'),
      malformed('domain', 'localhost'),
      malformed('email', 'jdoe.acme-corp.example'),
      malformed('ipv6', '2001:db8::g'),
      malformed('ip', '2001:db8::1'),
    ]);
    expect(body.data.sightings.docs.map((s: any) => s.observables)).toEqual([[{ type: 'user', value: 'jdoe' }]]);
  });

  it('only malformed values: warnings and no data, nothing asked of SpyCloud', async () => {
    const body = await observe([{ type: 'domain', value: 'not a domain' }]);
    expect(body).toEqual({ errors: [malformed('domain', 'not a domain')] });
    expect(world.spycloud.seen).toEqual([]);
  });

  it('a value is cut at 100 characters in its warning', async () => {
    const body = await observe([{ type: 'ip', value: `1.2.3.${'4'.repeat(200)}` }]);
    expect(body).toEqual({ errors: [malformed('ip', `1.2.3.${'4'.repeat(94)}`)] });
    expect(world.spycloud.seen).toEqual([]);
  });

  it('still need a valid token: nothing about them is said to a caller without one', async () => {
    const answer = await world.relay.post('/observe/observables', [{ type: 'ip', value: 'nope' }]);
    expect(answer.body).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Authorization header is missing' }] });
  });

  it('never reach the logs', async () => {
    const value = 'secret-looking-host-name-without-dots';
    await observe([{ type: 'domain', value }]);
    expect(world.relay.logs.join('')).not.toContain(value);
  });
});

describe('a SpyCloud 422 (RELAY.md §5)', () => {
  it('is a warning for that observable; the others are still looked up and answered', async () => {
    world.spycloud.route('/breach/data/domains/gmail.com', json({ message: 'query too broad' }, 422));
    world.spycloud.route('/breach/data/ips/192.0.2.7', page([record('doc-ip', 4242, '2022-06-15T00:00:00Z')]));
    const body = await observe([
      { type: 'domain', value: 'gmail.com' },
      { type: 'ip', value: 'bad' },
      { type: 'email', value: EXAMPLE_EMAIL },
      { type: 'ip', value: '192.0.2.7' },
    ]);
    expect(recordCalls().sort()).toEqual([
      '/breach/data/domains/gmail.com',
      `/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`,
      '/breach/data/ips/192.0.2.7',
    ]);
    // Malformed values first (found before any call), then the others as they arose in request order.
    expect(body.errors).toEqual([malformed('ip', 'bad'), { type: 'warning', code: 'invalid argument', message: TOO_BROAD }, NO_777]);
    const observables = body.data.sightings.docs.map((s: any) => s.observables[0].value);
    expect(observables).toEqual([...Array(4).fill(EXAMPLE_EMAIL), '192.0.2.7']);
  });

  it('keeps warnings in request order: a catalog warning of an earlier observable before a later 422', async () => {
    world.spycloud.route('/breach/data/domains/gmail.com', json({ message: 'query too broad' }, 422));
    const body = await observe([{ type: 'email', value: EXAMPLE_EMAIL }, { type: 'domain', value: 'gmail.com' }]);
    expect(body.errors).toEqual([NO_777, { type: 'warning', code: 'invalid argument', message: TOO_BROAD }]);
  });

  it('one warning per observable SpyCloud finds too broad, and a later fatal error still ends the answer', async () => {
    world.spycloud.route('/breach/data/domains/*', json({ message: 'query too broad' }, 422));
    world.spycloud.route('/breach/data/usernames/refused', json({ message: 'Key disabled' }, 403));
    const body = await observe([
      { type: 'domain', value: 'gmail.com' },
      { type: 'domain', value: 'outlook.com' },
      { type: 'user', value: 'refused' },
    ]);
    const tooBroad = { type: 'warning', code: 'invalid argument', message: TOO_BROAD };
    expect(body).toEqual({ errors: [tooBroad, tooBroad, { type: 'fatal', code: 'authorization error', message: 'Authorization failed: Key disabled' }] });
  });
});
