// The worked example of RELAY.md §6, end to end: real JWKS host, real SpyCloud
// stand-in, real RS256 token, the relay on a real port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { hiddenAnswer, maskedAnswer, passwordsOf } from './support/passwords.js';
import { catalogCalls, EXAMPLE_EMAIL } from './support/spycloud.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Replaces random ids by the example's labels, checking each is a uuid4 and each label is used once. */
function labelRandomIds(answer: any) {
  const labels = new Map<string, string>();
  const label = (id: string, kind: 'sighting' | 'relationship') => {
    const uuid = id.slice(`transient:${kind}-`.length);
    expect(id.startsWith(`transient:${kind}-`)).toBe(true);
    expect(uuid).toMatch(UUID4);
    expect(labels.has(id)).toBe(false);
    const n = [...labels.values()].filter((l) => l.includes(kind)).length + 1;
    labels.set(id, `transient:${kind}-<${kind} uuid #${n}>`);
  };
  for (const s of answer.data.sightings.docs) label(s.id, 'sighting');
  for (const r of answer.data.relationships.docs) label(r.id, 'relationship');
  const swap = (id: string) => {
    expect(labels.has(id) || id.startsWith('transient:indicator-')).toBe(true);
    return labels.get(id) ?? id;
  };
  for (const s of answer.data.sightings.docs) s.id = swap(s.id);
  for (const r of answer.data.relationships.docs) {
    r.id = swap(r.id);
    r.source_ref = swap(r.source_ref);
  }
  return answer;
}

describe('worked example (RELAY.md §6), PASSWORD_DISPLAY=plaintext', () => {
  let world: XdrWorld;
  beforeAll(async () => {
    world = await startXdrWorld({ PASSWORD_DISPLAY: 'plaintext' });
  });
  afterAll(() => world.close());

  it('answers exactly the expected observe response', async () => {
    const { status, body } = await world.relay.post('/observe/observables', fixture('request-observe.json'), await world.auth());
    expect(status).toBe(200);
    const indicatorIds = new Set(body.data.indicators.docs.map((i: { id: string }) => i.id));
    for (const r of body.data.relationships.docs) expect(indicatorIds.has(r.target_ref)).toBe(true);
    expect(labelRandomIds(body)).toEqual(fixture('expected-observe-response.json'));
    // One call for all three catalogs, each id once, in order of first use.
    expect(catalogCalls(world.spycloud).map((s) => s.path)).toEqual(['/breach/catalog/31337,4242,777']);
  });

  it('asks SpyCloud once for the records and once for all catalogs, with the key and its own User-Agent', async () => {
    world.spycloud.seen.length = 0;
    await world.relay.post('/observe/observables', fixture('request-observe.json'), await world.auth());
    const records = world.spycloud.seen.filter((s) => s.path.startsWith('/breach/data/emails/'));
    expect(records.map((s) => s.url)).toEqual([`/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`]);
    expect(records[0]?.headers['x-api-key']).toBe(API_KEY);
    expect(records[0]?.headers.accept).toBe('application/json');
    expect(records[0]?.headers['user-agent']).toMatch(/^spycloud-xdr-relay\/1\.0\.0/);
    // Catalogs 31337 and 4242 are cached from the first test; 777 was "missing" and is cached too.
    expect(catalogCalls(world.spycloud)).toEqual([]);
  });

  it('answers a health check with status ok', async () => {
    const { body } = await world.relay.post('/health', undefined, await world.auth());
    expect(body).toEqual({ data: { status: 'ok' } });
    expect(world.spycloud.seen.at(-1)?.url).toBe('/watchlist/example.org');
  });
});

describe('worked example in the other password display modes (RELAY.md §6)', () => {
  const PASSWORDS = passwordsOf(fixture('spycloud-breach-data-emails.json'));

  it.each([
    ['by default, masked', {}, maskedAnswer],
    ['PASSWORD_DISPLAY=masked', { PASSWORD_DISPLAY: 'masked' }, maskedAnswer],
    ['PASSWORD_DISPLAY=hidden', { PASSWORD_DISPLAY: 'hidden' }, hiddenAnswer],
  ])('%s: the same answer with its passwords shown that way, and none in plaintext', async (_case, env, expected) => {
    const world = await startXdrWorld(env);
    try {
      const { body } = await world.relay.post('/observe/observables', fixture('request-observe.json'), await world.auth());
      const text = JSON.stringify(body);
      expect(PASSWORDS.length).toBeGreaterThan(0);
      for (const password of PASSWORDS) expect(text).not.toContain(password);
      // The kind of password is still there for the analyst.
      expect(text).toContain('"password_type"');
      expect(labelRandomIds(body)).toEqual(expected(fixture('expected-observe-response.json')));
    } finally {
      await world.close();
    }
  });

  it('the masked example really differs from the plaintext one where §6 says', () => {
    const plaintext = fixture('expected-observe-response.json');
    const masked = maskedAnswer(plaintext);
    const passwordRow = (answer: any) => answer.data.sightings.docs.map((s: any) => {
      const n = s.data.columns.findIndex((c: { name: string }) => c.name === 'password_plaintext');
      return n < 0 ? undefined : s.data.rows[0][n];
    });
    // Newest first: the infostealer record, the forum's bcrypt one, the combolist, the forum's oldest.
    expect(passwordRow(plaintext)).toEqual(['Winter2023!', undefined, 'acme1234', undefined]);
    expect(passwordRow(masked)).toEqual(['W*********!', undefined, 'a******4', undefined]);
  });
});

describe('a record with no date anywhere (RELAY.md §6)', () => {
  it('is observed at the time the request arrived, not when the answer was assembled', async () => {
    let offsetMs = 0;
    const world = await startXdrWorld({}, { now: () => Date.UTC(2024, 0, 2, 3, 4, 5) + offsetMs });
    try {
      world.spycloud.route(`/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`, (_req, res) => {
        offsetMs = 20_000; // 20 s pass while SpyCloud answers (within the 25 s budget)
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ cursor: '', hits: 1, results: [{ email: EXAMPLE_EMAIL }] }));
      });
      const { body } = await world.relay.post('/observe/observables', [{ type: 'email', value: EXAMPLE_EMAIL }], await world.auth());
      expect(body.data.sightings.docs[0].observed_time).toEqual({
        start_time: '2024-01-02T03:04:05.000000Z',
        end_time: '2024-01-02T03:04:05.000000Z',
      });
    } finally {
      await world.close();
    }
  });
});
