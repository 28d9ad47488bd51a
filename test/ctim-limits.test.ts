// CTIM that XDR accepts whatever SpyCloud sends (RELAY.md §6, issue 15): limits,
// fall-backs and password masking, end to end — the relay on a real port, SpyCloud
// a stand-in on 127.0.0.1 answering unusual but legal data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctimViolations, LIMITS, SCHEMA_VERSION } from './ctim-rules.js';
import { catalogs } from './support/spycloud.js';
import { json } from './support/stand-in.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const NOW = Date.parse('2026-03-15T14:30:00Z');
const REQUEST_TIME = '2026-03-15T14:30:00.000000Z';
const emailPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;
const page = (results: object[]) => json({ cursor: '', hits: results.length, results });

let world: XdrWorld;
beforeAll(async () => {
  world = await startXdrWorld({}, { now: () => NOW });
});
afterAll(() => world.close());

async function observe(email: string, records: object[], table: Record<string, object>, claims: Record<string, unknown> = {}) {
  world.spycloud.route(emailPath(email), page(records));
  world.spycloud.route('/breach/catalog/*', catalogs(table));
  const { status, body } = await world.relay.post('/observe/observables', [{ type: 'email', value: email }], await world.auth(claims));
  expect(status).toBe(200);
  return body;
}

describe('CTIM limits over HTTP', () => {
  // An emoji (a surrogate pair) straddles each cut, where a careless cut leaves half of it.
  const title = `${'t'.repeat(LIMITS.title - 2)}😀${'x'.repeat(3000)}`;
  const description = `${'d'.repeat(LIMITS.description - 2)}😀${'y'.repeat(2000)}`;
  const catalog = {
    id: 5150,
    uuid: 'uuid 5150/ü',
    title,
    description,
    site: 'not a host name',
    site_description: 'Where it leaked',
    confidence: 1,
    spycloud_publish_date: '2999-01-01T00:00:00Z',
    assets: { email: 1 },
  };
  const record = (extra: Record<string, unknown>) => ({ email: 'limits@example.org', source_id: 5150, document_id: `doc-${Math.random()}`, severity: 20, ...extra });

  it('cuts text to CTIM\'s limits with …, falls back for times outside 1970–2525, keeps count an integer, drops a site that is no URL', async () => {
    const body = await observe('limits@example.org', [
      record({ sighting: '3', spycloud_publish_date: '1969-12-31T23:59:59Z' }),
      record({ sighting: 2.5, spycloud_publish_date: '2600-01-01T00:00:00Z' }),
      record({ sighting: -4, spycloud_publish_date: null, country: null }),
      record({ sighting: 7, spycloud_publish_date: '2024-02-01T00:00:00Z' }),
    ], { 5150: catalog });
    expect(body.errors).toBeUndefined();
    expect(ctimViolations(body.data)).toEqual([]);
    const [indicator] = body.data.indicators.docs;
    expect(indicator.schema_version).toBe(SCHEMA_VERSION);
    expect(indicator.title).toBe(`${'t'.repeat(LIMITS.title - 2)}…`);
    expect(indicator.short_description).toHaveLength(LIMITS.short_description);
    expect(indicator.short_description.endsWith('…')).toBe(true);
    expect(indicator.description).toBe(`${'d'.repeat(LIMITS.description - 2)}…`);
    // The catalog's date is past 2525: the time of the request, as a record without a date gets.
    expect(indicator.valid_time).toEqual({ start_time: REQUEST_TIME });
    // The site parses as no URL: no reference to it; the portal URL has the uuid encoded.
    expect(indicator.external_references.map((r: { url: string }) => r.url))
      .toEqual(['https://portal.spycloud.com/breach/catalog/uuid%205150%2F%C3%BC']);
    const sightings = body.data.sightings.docs;
    expect(sightings.map((s: { count: number }) => s.count)).toEqual([7, 1, 1, 1]);
    expect(sightings.map((s: { observed_time: { start_time: string } }) => s.observed_time.start_time))
      .toEqual(['2024-02-01T00:00:00.000000Z', REQUEST_TIME, REQUEST_TIME, REQUEST_TIME]);
    for (const s of sightings) {
      expect(s.description.length).toBeLessThanOrEqual(LIMITS.description);
      expect(s.relations).toEqual([]);
      expect(s.source_uri).toBe('https://portal.spycloud.com/breach/catalog/uuid%205150%2F%C3%BC');
    }
    expect(body.data.relationships.docs.every((r: { schema_version: string }) => r.schema_version === SCHEMA_VERSION)).toBe(true);
  });

  it('a site URL only when it parses, the relation only to a host name', async () => {
    const body = await observe('sites@example.org', [
      record({ email: 'sites@example.org', source_id: 1 }),
      record({ email: 'sites@example.org', source_id: 2 }),
      record({ email: 'sites@example.org', source_id: 3 }),
    ], {
      1: { id: 1, site: 'Forum.Example.NET/board', site_description: 'd', spycloud_publish_date: '2020-01-01T00:00:00Z' },
      2: { id: 2, site: 'https://[::1', site_description: 'd' },
      3: { id: 3, site: 'http://198.51.100.7/x', site_description: 'd' },
    });
    expect(ctimViolations(body.data)).toEqual([]);
    const refs = body.data.indicators.docs.map((i: { external_references: Array<{ url: string }> }) => i.external_references.map((r) => r.url));
    expect(refs).toEqual([['https://Forum.Example.NET/board'], [], []]);
    const related = body.data.sightings.docs.map((s: { relations: Array<{ related: unknown }> }) => s.relations.map((r) => r.related));
    expect(related).toEqual([[{ type: 'domain', value: 'forum.example.net' }], [], []]);
  });
});

describe('masked passwords over HTTP', () => {
  it('masks every column whose name starts with password but password_type, drops salt, never shows a value', async () => {
    const secrets = { password: 'Winter2023!', password_old: 'Summer2019!', passwords: ['Autumn2020!', 'Spring2021!'], password_hash_md5: 5551234 };
    const body = await observe('masked@example.org', [{
      email: 'masked@example.org', source_id: 9, spycloud_publish_date: '2024-01-01T00:00:00Z',
      ...secrets, password_type: 'plaintext', salt: 'c0ffee',
    }], {});
    const { columns, rows } = body.data.sightings.docs[0].data;
    const row = Object.fromEntries(columns.map((c: { name: string }, n: number) => [c.name, rows[0][n]]));
    expect(row).toEqual({
      email: 'masked@example.org',
      password: 'W*********!',
      password_old: 'S*********!',
      passwords: ['A*********!', 'S*********!'],
      password_hash_md5: '5*****4',
      password_type: 'plaintext',
    });
    const text = JSON.stringify(body);
    for (const secret of ['Winter2023', 'Summer2019', 'Autumn2020', 'Spring2021', '5551234', 'c0ffee']) expect(text).not.toContain(secret);
  });
});
