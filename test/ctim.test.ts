// The CTIM mapping of RELAY.md §6 and the answer assembly of §5, pure and table-driven.
import { describe, expect, it } from 'vitest';
import { bundle, type Findings } from '../src/ctim/bundle.js';
import { toIndicator } from '../src/ctim/indicator.js';
import { toSighting } from '../src/ctim/sighting.js';
import type { BreachRecord, Catalog, CatalogLookup } from '../src/spycloud/types.js';

const EMAIL = { type: 'email', value: 'jdoe@acme-corp.example' };
const AT = '2023-11-02T00:00:00.000000Z';
const CATALOG_URI = 'https://portal.spycloud.com/breach/catalog/';
/** The time of the request: an indicator's valid time when its catalog has no publish date. */
const REQUEST_AT = '2024-05-01T08:00:00.000000Z';

const RECORD: BreachRecord = {
  email: 'jdoe@acme-corp.example',
  email_domain: 'acme-corp.example',
  email_username: 'jdoe',
  domain: 'acme-corp.example',
  document_id: 'doc-1',
  source_id: 4242,
  severity: 25,
  sighting: 3,
  infected_machine_id: 'machine-1',
  user_browser: 'Microsoft Edge',
  ip_addresses: ['198.51.100.23', '203.0.113.9'],
  password: 'Winter2023!',
  spycloud_publish_date: '2023-11-02T00:00:00Z',
};

const CATALOG: Catalog = {
  id: 4242,
  uuid: '41a7e0c2-6d3b-4c8e-9f1a-2b3c4d5e6f70',
  title: 'Example Forum 2022',
  description: 'In June 2022 the Example Forum user database was posted on a criminal marketplace.',
  site: 'forum.example.net',
  site_description: 'Hobbyist discussion forum',
  confidence: 1,
  combo_list_flag: false,
  spycloud_publish_date: '2022-06-15T00:00:00Z',
  assets: { email: 380122, username: 380122, password: 380122 },
};

const sighting = (record: BreachRecord, catalog?: Catalog) =>
  toSighting({ record, catalog, observable: EMAIL, observedAt: AT, id: 'sid-1', passwordDisplay: 'plaintext' });

describe('toSighting (RELAY.md §6 Sighting)', () => {
  it('maps a record with its catalog field by field', () => {
    const observedTime = { start_time: AT, end_time: AT };
    expect(sighting(RECORD, CATALOG)).toStrictEqual({
      type: 'sighting',
      id: 'transient:sighting-sid-1',
      schema_version: '1.3.30',
      source: 'Spycloud',
      title: 'Reported to Spycloud',
      confidence: 'High',
      internal: false,
      count: 3,
      observables: [EMAIL],
      observed_time: observedTime,
      targets: [{ type: 'email', observables: [EMAIL], observed_time: observedTime }],
      severity: 'High',
      description: 'Present in Example Forum 2022',
      source_uri: `${CATALOG_URI}41a7e0c2-6d3b-4c8e-9f1a-2b3c4d5e6f70`,
      external_ids: ['doc-1', '4242', 'machine-1'],
      relations: [{
        origin: 'Spycloud Breach Module',
        relation: 'Leaked_From',
        source: EMAIL,
        related: { type: 'domain', value: 'forum.example.net' },
      }],
      data: {
        columns: ['email', 'user_browser', 'ip_addresses', 'password'].map((name) => ({ name, type: 'string' })),
        rows: [['jdoe@acme-corp.example', 'Microsoft Edge', ['198.51.100.23', '203.0.113.9'], 'Winter2023!']],
      },
    });
  });

  it('keeps the fixed fields without a catalog', () => {
    const s = sighting({ email: EMAIL.value });
    expect(s).toMatchObject({
      type: 'sighting', id: 'transient:sighting-sid-1', schema_version: '1.3.30', source: 'Spycloud',
      title: 'Reported to Spycloud', confidence: 'High', internal: false,
      observables: [EMAIL], observed_time: { start_time: AT, end_time: AT },
      targets: [{ type: 'email', observables: [EMAIL], observed_time: { start_time: AT, end_time: AT } }],
    });
  });

  it.each([
    [3, 3],
    [1, 1],
    [250, 250],
    [0, 1],
    [null, 1],
    ['', 1],
    [undefined, 1],
  ])('count: sighting %j → %j', (value, expected) => {
    expect(sighting({ ...RECORD, sighting: value }).count).toBe(expected);
  });

  it('count: no sighting field → 1', () => {
    const record = Object.fromEntries(Object.entries(RECORD).filter(([key]) => key !== 'sighting'));
    expect(sighting(record).count).toBe(1);
  });

  it.each([
    // combo_list_flag wins over the record's severity.
    [true, 2, 'Medium'],
    [true, 30, 'Medium'],
    [true, undefined, 'Medium'],
    [true, 'x', 'Medium'],
    [1, 30, 'Medium'], // "if c.combo_list_flag": any truthy flag
    [false, 30, 'Critical'],
    [0, 30, 'Critical'],
    [false, 0, 'Low'],
    [undefined, 0, 'Low'],
    [undefined, 1, 'Low'],
    [undefined, 2, 'Low'],
    [undefined, 3, 'Medium'],
    [undefined, 4, 'Medium'],
    [undefined, 5, 'Medium'],
    [undefined, 6, 'High'],
    [undefined, 20, 'High'],
    [undefined, 25, 'High'],
    [undefined, 26, 'Critical'],
    [undefined, 30, 'Critical'],
    [undefined, 100, 'Critical'],
    [undefined, -1, 'Unknown'],
    [undefined, '20', 'Unknown'],
    [undefined, null, 'Unknown'],
    [undefined, undefined, 'Unknown'],
    [undefined, Number.NaN, 'Unknown'],
  ])('severity: combo_list_flag %j, severity %j → %s', (combo, value, expected) => {
    expect(sighting({ ...RECORD, severity: value }, { ...CATALOG, combo_list_flag: combo }).severity).toBe(expected);
  });

  it.each([
    [2, 'Low'],
    [30, 'Critical'],
    ['20', 'Unknown'],
  ])('severity without a catalog: %j → %s', (value, expected) => {
    expect(sighting({ ...RECORD, severity: value }).severity).toBe(expected);
  });

  it.each([
    ['with a catalog', CATALOG, 'Present in Example Forum 2022'],
    ['without a catalog', undefined, 'Present in breach'],
    ['with a catalog without title', { ...CATALOG, title: undefined }, 'Present in breach'],
    ['with a catalog whose title is null', { ...CATALOG, title: null }, 'Present in breach'],
    ['with a catalog whose title is empty', { ...CATALOG, title: '' }, 'Present in breach'],
  ])('description %s', (_case, catalog, expected) => {
    expect(sighting(RECORD, catalog).description).toBe(expected);
  });

  it.each([
    ['with a catalog uuid', CATALOG, `${CATALOG_URI}41a7e0c2-6d3b-4c8e-9f1a-2b3c4d5e6f70`],
    ['catalog without uuid', { ...CATALOG, uuid: undefined }, undefined],
    ['catalog with null uuid', { ...CATALOG, uuid: null }, undefined],
    ['without a catalog', undefined, undefined],
  ])('source_uri %s', (_case, catalog, expected) => {
    const s = sighting(RECORD, catalog);
    if (expected === undefined) expect(s).not.toHaveProperty('source_uri');
    else expect(s.source_uri).toBe(expected);
  });

  it.each([
    ['all three', { document_id: 'doc-1', source_id: 4242, infected_machine_id: 'm-1' }, ['doc-1', '4242', 'm-1']],
    ['in the contract order, whatever the record order', { infected_machine_id: 'm-1', source_id: 4242, document_id: 'doc-1' }, ['doc-1', '4242', 'm-1']],
    ['source_id 0 is present', { document_id: 'doc-1', source_id: 0 }, ['doc-1', '0']],
    ['source_id as a string', { source_id: '4242' }, ['4242']],
    ['no document_id', { source_id: 4242, infected_machine_id: 'm-1' }, ['4242', 'm-1']],
    ['no source_id', { document_id: 'doc-1', infected_machine_id: 'm-1' }, ['doc-1', 'm-1']],
    ['no infected_machine_id', { document_id: 'doc-1', source_id: 4242 }, ['doc-1', '4242']],
    ['nulls are missing', { document_id: null, source_id: null, infected_machine_id: null }, []],
    ['none', { email: 'x@example.com' }, []],
  ])('external_ids: %s', (_case, record, expected) => {
    expect(sighting(record).external_ids).toStrictEqual(expected);
  });

  const leakedFrom = (host: string) => [{
    origin: 'Spycloud Breach Module',
    relation: 'Leaked_From',
    source: EMAIL,
    related: { type: 'domain', value: host },
  }];
  it.each([
    ['forum.example.net', leakedFrom('forum.example.net')],
    ['https://www.example.com/path', leakedFrom('www.example.com')],
    ['http://www.example.com', leakedFrom('www.example.com')],
    ['https://login.example.com:8443/a?b=c', leakedFrom('login.example.com')],
    ['n/a', []],
    ['', []],
    [null, []],
    [undefined, []],
  ])('relations: site %j', (site, expected) => {
    expect(sighting(RECORD, { ...CATALOG, site }).relations).toStrictEqual(expected);
  });

  it('relations: none without a catalog', () => {
    expect(sighting(RECORD).relations).toStrictEqual([]);
  });

  it('data: every field but the listed ones, in SpyCloud order, values as given (a null is no value: left out)', () => {
    const record: BreachRecord = {
      sighting: 2,
      target_url: 'https://sso.acme-corp.example/login',
      infected_machine_id: 'm-1',
      email_domain: 'acme-corp.example',
      ip_addresses: ['198.51.100.23'],
      domain: 'acme-corp.example',
      email_username: 'jdoe',
      country: null,
      document_id: 'doc-1',
      source_id: 4242,
      spycloud_publish_date: '2023-11-02T00:00:00Z',
      severity: 25,
      log_id: 17,
      email: 'jdoe@acme-corp.example',
    };
    expect(sighting(record).data).toStrictEqual({
      columns: ['target_url', 'ip_addresses', 'log_id', 'email'].map((name) => ({ name, type: 'string' })),
      rows: [['https://sso.acme-corp.example/login', ['198.51.100.23'], 17, 'jdoe@acme-corp.example']],
    });
  });

  it('data: nulls inside arrays and objects are left out too, the rest as given', () => {
    const record: BreachRecord = { ips: ['198.51.100.23', null], nested: { a: null, b: [1, null, { c: null }] } };
    expect(sighting(record).data.rows).toStrictEqual([[['198.51.100.23'], { b: [1, {}] }]]);
  });

  it('data: a record of only hidden fields gives an empty table', () => {
    expect(sighting({ document_id: 'd', source_id: 1, severity: 2 }).data).toStrictEqual({ columns: [], rows: [[]] });
  });
});

describe('toSighting for other observable types (RELAY.md §6 targets)', () => {
  const at = { start_time: AT, end_time: AT };
  const of = (observable: { type: string; value: string }, record: BreachRecord) =>
    toSighting({ record, catalog: CATALOG, observable, observedAt: AT, id: 'sid-1', passwordDisplay: 'plaintext' });

  it.each([
    ['domain', 'acme-corp.example'],
    ['ip', '198.51.100.23'],
    ['ipv6', '2001:db8::23'],
    ['user', 'jdoe77'],
  ])('a %s query: observables and relation source are the queried one, the target is the record email', (type, value) => {
    const queried = { type, value };
    const s = of(queried, { email: 'jane@acme-corp.example', source_id: 4242 });
    expect(s.observables).toStrictEqual([queried]);
    expect(s.targets).toStrictEqual([{ type: 'email', observables: [{ type: 'email', value: 'jane@acme-corp.example' }], observed_time: at }]);
    expect(s.relations.map((r) => r.source)).toStrictEqual([queried]);
  });

  it.each([
    ['no email field', {}],
    ['an empty email', { email: '' }],
    ['a null email', { email: null }],
    ['an email that is not a string', { email: ['a@example.com'] }],
  ])('a record with %s: the target is the queried observable, of its own type', (_case, record) => {
    const queried = { type: 'ip', value: '198.51.100.23' };
    expect(of(queried, record).targets).toStrictEqual([{ type: 'ip', observables: [queried], observed_time: at }]);
  });

  it('an email query targets the queried email, exactly as asked, whatever the record spells', () => {
    const queried = { type: 'email', value: 'JDoe@Acme-Corp.example' };
    expect(of(queried, { email: 'jdoe@acme-corp.example' }).targets)
      .toStrictEqual([{ type: 'email', observables: [queried], observed_time: at }]);
  });
});

describe('password display in the data table (RELAY.md §6)', () => {
  const RECORD_WITH_SECRETS: BreachRecord = {
    email: 'jdoe@acme-corp.example',
    password: 'Winter2023!',
    password_plaintext: 'Winter2023!',
    password_type: 'plaintext',
    salt: 'c0ffee',
    password_hash_md5: '5f4dcc3b5aa765d61d8327deb882cf99',
    username: 'jdoe77',
  };
  const table = (record: BreachRecord, passwordDisplay: 'plaintext' | 'masked' | 'hidden') =>
    toSighting({ record, catalog: undefined, observable: EMAIL, observedAt: AT, id: 'sid-1', passwordDisplay }).data;
  const columns = (...names: string[]) => names.map((name) => ({ name, type: 'string' }));

  it('plaintext: every column as SpyCloud gives it', () => {
    expect(table(RECORD_WITH_SECRETS, 'plaintext')).toStrictEqual({
      columns: columns('email', 'password', 'password_plaintext', 'password_type', 'salt', 'password_hash_md5', 'username'),
      rows: [['jdoe@acme-corp.example', 'Winter2023!', 'Winter2023!', 'plaintext', 'c0ffee', '5f4dcc3b5aa765d61d8327deb882cf99', 'jdoe77']],
    });
  });

  it('masked: every password column but password_type keeps only its ends, salt is gone, the rest as given', () => {
    expect(table(RECORD_WITH_SECRETS, 'masked')).toStrictEqual({
      columns: columns('email', 'password', 'password_plaintext', 'password_type', 'password_hash_md5', 'username'),
      rows: [['jdoe@acme-corp.example', 'W*********!', 'W*********!', 'plaintext', `5${'*'.repeat(30)}9`, 'jdoe77']],
    });
  });

  it('masked: columns such as passwords and Password_Old are masked too, whatever their values', () => {
    const record: BreachRecord = { passwords: ['hunter22', null, 'abc'], Password_Old: 'Summer2019', password_count: 4, password_meta: { a: 'x' } };
    expect(table(record, 'masked')).toStrictEqual({
      columns: columns('passwords', 'Password_Old', 'password_count', 'password_meta'),
      rows: [[['h******2', '***'], 'S********9', '*', '{*******}']],
    });
  });

  it('hidden: every password column but password_type is gone, and salt', () => {
    expect(table(RECORD_WITH_SECRETS, 'hidden')).toStrictEqual({
      columns: columns('email', 'password_type', 'username'),
      rows: [['jdoe@acme-corp.example', 'plaintext', 'jdoe77']],
    });
  });

  it.each([
    ['abcd', 'a**d'],
    ['abc', '***'],
    ['ab', '**'],
    ['a', '*'],
    ['', ''],
    ['pässwörd', 'p******d'],
    // A character outside the BMP is one character, never split into halves.
    ['😀secret😀', '😀******😀'],
    ['😀ab', '***'],
    [12345678, '1******8'],
    [['hunter22', 'abc'], ['h******2', '***']],
  ])('masked: %j → %j', (password, expected) => {
    const { rows } = table({ password, password_plaintext: password }, 'masked');
    expect(rows).toStrictEqual([[expected, expected]]);
  });

  it('password_type stays in every mode', () => {
    for (const mode of ['plaintext', 'masked', 'hidden'] as const) {
      expect(table({ password_type: 'bcrypt' }, mode)).toStrictEqual({ columns: columns('password_type'), rows: [['bcrypt']] });
    }
  });
});

describe('toIndicator (RELAY.md §6 Indicator)', () => {
  const siteRef = (url: string) => ({ source_name: 'Spycloud', description: 'Hobbyist discussion forum', url });
  const catalogRef = {
    source_name: 'Spycloud',
    description: CATALOG.description,
    url: `${CATALOG_URI}41a7e0c2-6d3b-4c8e-9f1a-2b3c4d5e6f70`,
    external_id: '41a7e0c2-6d3b-4c8e-9f1a-2b3c4d5e6f70',
  };

  it('maps a full catalog field by field', () => {
    expect(toIndicator(CATALOG, REQUEST_AT)).toStrictEqual({
      type: 'indicator',
      id: 'transient:indicator-28594711-b213-5240-9636-3f34c9df4ac4',
      schema_version: '1.3.30',
      producer: 'Spycloud',
      title: 'Example Forum 2022',
      short_description: 'Example Forum 2022',
      description: CATALOG.description,
      valid_time: { start_time: '2022-06-15T00:00:00.000000Z' },
      confidence: 'High',
      external_ids: ['4242', '41a7e0c2-6d3b-4c8e-9f1a-2b3c4d5e6f70'],
      external_references: [siteRef('https://forum.example.net'), catalogRef],
      tags: ['email', 'username', 'password'],
    });
  });

  it('leaves out every field of a catalog that has only an id (never null)', () => {
    expect(toIndicator({ id: 31337 }, REQUEST_AT)).toStrictEqual({
      type: 'indicator',
      id: 'transient:indicator-c293238e-37b9-5bbd-bc38-b816dc06a61b',
      schema_version: '1.3.30',
      producer: 'Spycloud',
      valid_time: { start_time: REQUEST_AT },
      confidence: 'Low',
      external_ids: ['31337'],
      external_references: [],
      tags: [],
    });
  });

  it.each([
    [31337, 'transient:indicator-c293238e-37b9-5bbd-bc38-b816dc06a61b'],
    ['31337', 'transient:indicator-c293238e-37b9-5bbd-bc38-b816dc06a61b'],
    [4242, 'transient:indicator-28594711-b213-5240-9636-3f34c9df4ac4'],
  ])('id of catalog %j is %s', (id, expected) => {
    expect(toIndicator({ ...CATALOG, id }, REQUEST_AT).id).toBe(expected);
  });

  it.each([
    ['title', { title: undefined }, ['title', 'short_description'], 'description'],
    ['title null', { title: null }, ['title', 'short_description'], 'description'],
    ['description', { description: undefined }, ['description'], 'title'],
    ['description null', { description: null }, ['description'], 'title'],
    ['description empty', { description: '' }, ['description'], 'title'],
  ])('missing %s leaves its CTIM field out', (_case, change, absent, kept) => {
    const indicator = toIndicator({ ...CATALOG, ...change }, REQUEST_AT);
    for (const key of absent) expect(indicator).not.toHaveProperty(key);
    expect(indicator).toHaveProperty(kept);
    expect(Object.values(indicator)).not.toContain(null);
  });

  it.each([
    ['2022-06-15T00:00:00Z', '2022-06-15T00:00:00.000000Z'],
    ['2022-06-15T01:00:00+02:00', '2022-06-14T23:00:00.000000Z'],
    ['2022-06-15', '2022-06-15T00:00:00.000000Z'],
  ])('valid_time from spycloud_publish_date %s', (date, expected) => {
    expect(toIndicator({ ...CATALOG, spycloud_publish_date: date }, REQUEST_AT).valid_time).toStrictEqual({ start_time: expected });
  });

  it.each([
    [1, 'High'],
    [2, 'Medium'],
    [3, 'Low'],
    [0, 'Low'],
    [4, 'Low'],
    [-1, 'Low'],
    [1.5, 'Low'],
    ['1', 'Low'],
    ['High', 'Low'],
    // Names on Object.prototype are not confidences either.
    ['constructor', 'Low'],
    ['toString', 'Low'],
    [null, 'Low'],
    [undefined, 'Low'],
  ])('confidence %j → %s', (confidence, expected) => {
    expect(toIndicator({ ...CATALOG, confidence }, REQUEST_AT).confidence).toBe(expected);
  });

  it.each([
    [{ id: 4242, uuid: 'u-1' }, ['4242', 'u-1']],
    [{ id: '4242', uuid: 'u-1' }, ['4242', 'u-1']],
    [{ id: 4242 }, ['4242']],
    [{ id: 4242, uuid: null }, ['4242']],
  ])('external_ids of %j → %j', (catalog, expected) => {
    expect(toIndicator(catalog, REQUEST_AT).external_ids).toStrictEqual(expected);
  });

  it.each([
    ['site and catalog, in that order', {}, [siteRef('https://forum.example.net'), catalogRef]],
    ['site with http:// dropped: only an https URL is a reference', { site: 'http://forum.example.net' }, [catalogRef]],
    ['site with https:// kept', { site: 'https://forum.example.net/board' }, [siteRef('https://forum.example.net/board'), catalogRef]],
    ['site that only starts with "https"', { site: 'httpsforum.example' }, [siteRef('https://httpsforum.example'), catalogRef]],
    ['site n/a', { site: 'n/a' }, [catalogRef]],
    ['no site', { site: undefined }, [catalogRef]],
    ['empty site', { site: '' }, [catalogRef]],
    ['no site_description', { site_description: undefined }, [catalogRef]],
    ['null site_description', { site_description: null }, [catalogRef]],
    ['no description', { description: undefined }, [siteRef('https://forum.example.net')]],
    ['no uuid', { uuid: undefined }, [siteRef('https://forum.example.net')]],
    ['none', { site: 'n/a', uuid: undefined }, []],
  ])('external_references: %s', (_case, change, expected) => {
    expect(toIndicator({ ...CATALOG, ...change }, REQUEST_AT).external_references).toStrictEqual(expected);
  });

  it.each([
    [{ password: 1, email: 2, full_name: 3 }, ['password', 'email', 'full_name']],
    [{}, []],
    [null, []],
    [undefined, []],
    [['email'], []],
  ])('tags from assets %j → %j', (assets, expected) => {
    expect(toIndicator({ ...CATALOG, assets }, REQUEST_AT).tags).toStrictEqual(expected);
  });
});

describe('bundle (RELAY.md §5 answer, §6 Relationship)', () => {
  const REQUEST_TIME = '2024-01-01T12:00:00.000000Z';
  const context = () => {
    let n = 0;
    return { newId: () => `id-${++n}`, requestTime: REQUEST_TIME, passwordDisplay: 'plaintext' as const };
  };
  const catalog = (id: number, extra: Record<string, unknown> = {}): Catalog =>
    ({ id, uuid: `uuid-${id}`, title: `Breach ${id}`, spycloud_publish_date: '2020-01-01T00:00:00Z', ...extra });
  const found = (...catalogs: Catalog[]) =>
    new Map<string, CatalogLookup>(catalogs.map((c) => [String(c.id), { status: 'found', catalog: c }]));
  const record = (sourceId: unknown, extra: Record<string, unknown> = {}): BreachRecord =>
    ({ email: 'x', source_id: sourceId, spycloud_publish_date: '2023-01-01T00:00:00Z', ...extra });
  const findings = (value: string, records: BreachRecord[], catalogs: ReadonlyMap<string, CatalogLookup>): Findings =>
    ({ observable: { type: 'email', value }, records, catalogs });

  it('de-duplicates indicators across observables in order of first use, one relationship per sighting', () => {
    const catalogs = found(catalog(1), catalog(2), catalog(3));
    const { data, warnings } = bundle([
      findings('a@example.com', [record(2), record(1)], catalogs),
      findings('b@example.com', [record(1), record(3), record(2)], catalogs),
    ], context());
    expect(warnings).toStrictEqual([]);
    const { sightings, indicators, relationships } = data as any;

    expect(sightings.count).toBe(5);
    expect(sightings.docs).toHaveLength(5);
    expect(sightings.docs.map((s: any) => s.observables[0].value))
      .toStrictEqual(['a@example.com', 'a@example.com', 'b@example.com', 'b@example.com', 'b@example.com']);
    expect(sightings.docs.map((s: any) => s.external_ids)).toStrictEqual([['2'], ['1'], ['1'], ['3'], ['2']]);

    expect(indicators.count).toBe(3);
    expect(indicators.docs.map((i: any) => i.external_ids[0])).toStrictEqual(['2', '1', '3']);

    expect(relationships.count).toBe(5);
    expect(relationships.docs).toHaveLength(5);
    const indicatorOf = new Map(indicators.docs.map((i: any) => [i.external_ids[0], i.id]));
    sightings.docs.forEach((s: any, n: number) => {
      expect(relationships.docs[n]).toStrictEqual({
        type: 'relationship',
        id: expect.stringMatching(/^transient:relationship-id-\d+$/),
        schema_version: '1.3.30',
        relationship_type: 'sighting-of',
        source_ref: s.id,
        target_ref: indicatorOf.get(s.external_ids[0]),
      });
    });
    // Every id handed out is used once.
    const ids = [...sightings.docs, ...relationships.docs].map((d: any) => d.id);
    expect(new Set(ids).size).toBe(10);
  });

  it('warns once per catalog id per request, in the order they arose, and keeps the sightings', () => {
    const catalogs = new Map<string, CatalogLookup>([
      ['777', { status: 'missing' }],
      ['888', { status: 'failed', reason: 'SpyCloud answered 503' }],
      ['4242', { status: 'found', catalog: catalog(4242) }],
    ]);
    const { data, warnings } = bundle([
      findings('a@example.com', [record(777), record(4242), record(777), record(888)], catalogs),
      findings('b@example.com', [record(888), record('777'), record(777)], catalogs),
    ], context());
    expect(warnings).toStrictEqual([
      { type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 777' },
      { type: 'warning', code: 'unknown', message: 'SpyCloud catalog 888 could not be fetched: SpyCloud answered 503' },
    ]);
    const { sightings, indicators, relationships } = data as any;
    expect(sightings.count).toBe(7);
    expect(sightings.docs.map((s: any) => s.description)).toStrictEqual([
      'Present in breach', 'Present in Breach 4242', 'Present in breach', 'Present in breach',
      'Present in breach', 'Present in breach', 'Present in breach',
    ]);
    expect(indicators.count).toBe(1);
    expect(relationships.docs.map((r: any) => r.source_ref)).toStrictEqual([sightings.docs[1].id]);
  });

  it('warns "not found" for an id the lookup did not answer at all', () => {
    const { warnings } = bundle([findings('a@example.com', [record(5)], new Map())], context());
    expect(warnings).toStrictEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 5' }]);
  });

  it.each([
    ['no source_id', {}],
    ['source_id undefined', { source_id: undefined }],
    ['source_id null', { source_id: null }],
    ['source_id empty', { source_id: '' }],
  ])('a record with %s gives a sighting and no warning', (_case, change) => {
    const { email, spycloud_publish_date: date } = record(1);
    const { data, warnings } = bundle([findings('a@example.com', [{ email, spycloud_publish_date: date, ...change }], new Map())], context());
    expect(warnings).toStrictEqual([]);
    expect(Object.keys(data)).toStrictEqual(['sightings']);
    expect((data as any).sightings.count).toBe(1);
  });

  it.each([
    ['the record date', { spycloud_publish_date: '2023-05-06T07:08:09Z' }, 'found', '2023-05-06T07:08:09.000000Z'],
    ['the record date, converted to UTC', { spycloud_publish_date: '2023-05-06T01:00:00+02:00' }, 'found', '2023-05-05T23:00:00.000000Z'],
    ['the catalog date when the record has none', { spycloud_publish_date: undefined }, 'found', '2020-01-01T00:00:00.000000Z'],
    ['the catalog date when the record date is unparseable', { spycloud_publish_date: 'yesterday' }, 'found', '2020-01-01T00:00:00.000000Z'],
    ['the request time when neither has one', { spycloud_publish_date: undefined }, 'found, undated', REQUEST_TIME],
    ['the request time when the catalog is missing', { spycloud_publish_date: undefined }, 'missing', REQUEST_TIME],
    ['the request time when the catalog lookup failed', { spycloud_publish_date: null }, 'failed', REQUEST_TIME],
  ])('observed_time is %s', (_case, change, status, expected) => {
    const lookup: CatalogLookup = status === 'found' ? { status: 'found', catalog: catalog(9) }
      : status === 'found, undated' ? { status: 'found', catalog: catalog(9, { spycloud_publish_date: undefined }) }
        : status === 'missing' ? { status: 'missing' } : { status: 'failed', reason: 'timeout' };
    const { data } = bundle([findings('a@example.com', [record(9, change)], new Map([['9', lookup]]))], context());
    expect((data as any).sightings.docs[0].observed_time).toStrictEqual({ start_time: expected, end_time: expected });
  });

  it.each([
    ['no findings', []],
    ['findings without records', [findings('a@example.com', [], new Map())]],
  ])('%s → data {}', (_case, input) => {
    expect(bundle(input, context())).toStrictEqual({ data: {}, warnings: [] });
  });
});

describe('ids that are not strings or numbers (hostile SpyCloud answers)', () => {
  const hostile = { toString: 1 };
  const observable = { type: 'email', value: 'a@example.org' };

  it('are left out of a sighting, never stringified', () => {
    const record: BreachRecord = { document_id: hostile, source_id: { a: 1 }, infected_machine_id: 'm-1' };
    const catalog: Catalog = { id: 7, uuid: hostile, title: 'T' };
    const sighting = toSighting({ record, catalog, observable, observedAt: '2024-01-01T00:00:00.000000Z', id: 'x', passwordDisplay: 'plaintext' });
    expect(sighting.external_ids).toEqual(['m-1']);
    expect('source_uri' in sighting).toBe(false);
  });

  it('are left out of an indicator', () => {
    const indicator = toIndicator({ id: 7, uuid: hostile, description: 'd' }, REQUEST_AT);
    expect(indicator.external_ids).toEqual(['7']);
    expect(indicator.external_references).toEqual([]);
  });

  it('give no catalog and no warning in a bundle', () => {
    const findings: Findings[] = [{ observable, records: [{ source_id: hostile }, { source_id: { a: 1 } }], catalogs: new Map() }];
    const { data, warnings } = bundle(findings, { newId: () => 'id', requestTime: '2024-01-01T00:00:00.000000Z', passwordDisplay: 'masked' });
    expect((data.sightings as { count: number }).count).toBe(2);
    expect(data.indicators).toBeUndefined();
    expect(warnings).toEqual([]);
  });
});
