// The SpyCloud sandbox (src/sandbox) over HTTP: what it serves and how, as the
// demo, the tests and the bench rely on it; and its synthetic dataset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acmeDataset, MISSING_CATALOG_ID, SANDBOX_API_KEY, SANDBOX_DOMAIN } from '../src/sandbox/dataset.js';
import { canonicalIp, parseBound, recordKeys, startSpyCloudSandbox, watchlistRecords, type RecordKind, type SpyCloudDataset } from '../src/sandbox/spycloud.js';
import { json, startStandIn, type StandIn } from '../src/sandbox/stand-in.js';
import { exampleDataset, startExampleSpyCloud } from './support/spycloud.js';
import { startRelay } from './support/relay.js';
import { hs256 } from './support/tokens.js';

const KEY = 'sandbox-test-key';
const DAY = 86_400_000;

const record = (n: number, extra: Record<string, unknown> = {}) => ({
  email: `user${n}@corp.example`,
  email_domain: 'corp.example',
  domain: 'corp.example',
  document_id: `doc-${n}`,
  source_id: 1,
  severity: 5,
  spycloud_publish_date: '2024-03-10T12:00:00Z',
  ...extra,
});

const DATASET: SpyCloudDataset = {
  records: [
    record(1, { email: 'Mixed.Case@Corp.Example', username: 'MixedUser', ip_addresses: ['198.51.100.7', '2001:db8:0:0::1'] }),
    record(2, { email: 'a/b?c#d%e@corp.example', spycloud_publish_date: '2024-03-01T00:00:00Z' }),
    record(3, { spycloud_publish_date: '2024-03-09T23:59:59Z' }),
    record(4, { spycloud_publish_date: '2024-03-11T00:00:00Z' }),
    record(5, { email: 'someone@other.example', email_domain: 'other.example', domain: 'elsewhere.example', spycloud_publish_date: '2024-03-10T06:00:00Z' }),
    { document_id: 'doc-6', source_id: 2, severity: 2, username: 'loner', ip_addresses: ['198.51.100.7'], spycloud_publish_date: '2024-03-10T00:00:00Z' },
  ],
  catalogs: [
    { id: 1, title: 'One' },
    { id: '2', title: 'Two' },
    { id: 3, title: 'Three' },
  ],
  watchlist: [{ identifier_type: 'domain', identifier_name: 'corp.example', status: 'ACTIVE' }],
};

let sandbox: StandIn;
beforeAll(async () => {
  sandbox = await startSpyCloudSandbox({ dataset: DATASET, apiKeys: [KEY, 'second-key'], pageSize: 2 });
});
afterAll(() => sandbox.close());

/** GET with `key` in X-API-Key, or no such header when `key` is null. */
async function get(path: string, key: string | null = KEY, on: StandIn = sandbox) {
  const response = await fetch(on.url + path, { headers: key === null ? {} : { 'x-api-key': key } });
  return { status: response.status, body: await response.json() as any };
}

/** Every page of a list answer, following cursors. */
async function allPages(path: string) {
  const pages: any[] = [];
  let cursor = '';
  do {
    const separator = path.includes('?') ? '&' : '?';
    const { status, body } = await get(cursor === '' ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`);
    expect(status).toBe(200);
    pages.push(body);
    cursor = body.cursor;
  } while (cursor !== '' && pages.length < 20);
  return pages;
}

const docs = (pages: any[]) => pages.flatMap((p) => p.results.map((r: any) => r.document_id));

describe('the API key (X-API-Key)', () => {
  it.each([
    ['no key', null, 'Missing API key'],
    ['an empty key', '', 'Missing API key'],
    ['another key', 'not-the-key', 'Invalid API key'],
  ])('refuses %s with 401 and a JSON message, on every route', async (_name, key, message) => {
    for (const path of ['/breach/data/emails/user1%40corp.example', '/breach/catalog/1', '/breach/data/watchlist', '/watchlist/corp.example', '/nowhere']) {
      expect(await get(path, key)).toEqual({ status: 401, body: { message } });
    }
  });

  it('accepts each of its keys', async () => {
    for (const key of [KEY, 'second-key']) expect((await get('/breach/data/emails/user3%40corp.example', key)).status).toBe(200);
  });

  it('accepts any non-empty key when it was given none (the worked example of the tests)', async () => {
    const open = await startExampleSpyCloud();
    try {
      expect((await get('/watchlist/example.org', 'whatever', open)).status).toBe(200);
      expect((await get('/watchlist/example.org', null, open)).status).toBe(401);
    } finally {
      await open.close();
    }
  });
});

describe('breach records (/breach/data/{emails,domains,ips,usernames}/{value})', () => {
  it('finds an email whatever its case, decoding the one path segment', async () => {
    for (const email of ['mixed.case@corp.example', 'MIXED.CASE@CORP.EXAMPLE']) {
      const { status, body } = await get(`/breach/data/emails/${encodeURIComponent(email)}`);
      expect(status).toBe(200);
      expect(body).toEqual({ cursor: '', hits: 1, results: [DATASET.records[0]] });
    }
    const odd = await get(`/breach/data/emails/${encodeURIComponent('a/b?c#d%e@corp.example')}`);
    expect(odd.body.results.map((r: any) => r.document_id)).toEqual(['doc-2']);
  });

  it('answers an unknown value with no results', async () => {
    expect(await get('/breach/data/emails/nobody%40corp.example')).toEqual({ status: 200, body: { cursor: '', hits: 0, results: [] } });
  });

  it('finds domains by the record\'s domain or email_domain, case-insensitively', async () => {
    expect(docs(await allPages('/breach/data/domains/CORP.example'))).toEqual(['doc-1', 'doc-2', 'doc-3', 'doc-4']);
    expect(docs(await allPages('/breach/data/domains/other.example'))).toEqual(['doc-5']);
    expect(docs(await allPages('/breach/data/domains/elsewhere.example'))).toEqual(['doc-5']);
  });

  it('finds IPs among ip_addresses, IPv6 in any spelling', async () => {
    expect(docs(await allPages('/breach/data/ips/198.51.100.7'))).toEqual(['doc-1', 'doc-6']);
    expect(docs(await allPages(`/breach/data/ips/${encodeURIComponent('2001:DB8::0:1')}`))).toEqual(['doc-1']);
    expect(docs(await allPages('/breach/data/ips/198.51.100.8'))).toEqual([]);
    expect([canonicalIp('2001:DB8:0::1'), canonicalIp('192.0.2.1'), canonicalIp('Not:An:IP')]).toEqual(['2001:db8::1', '192.0.2.1', 'not:an:ip']);
  });

  it('finds usernames case-insensitively, records without email included', async () => {
    expect(docs(await allPages('/breach/data/usernames/mixeduser'))).toEqual(['doc-1']);
    expect(docs(await allPages('/breach/data/usernames/LONER'))).toEqual(['doc-6']);
  });

  it.each(['gmail.com', 'GMail.com', 'outlook.com'])('refuses the webmail domain %s with 422 (query too broad)', async (domain) => {
    const { status, body } = await get(`/breach/data/domains/${domain}`);
    expect(status).toBe(422);
    expect(typeof body.message).toBe('string');
  });

  it('answers a value of more than one segment with 404, a malformed escape with 400', async () => {
    expect((await get('/breach/data/emails/a/b@corp.example')).status).toBe(404);
    expect((await get('/breach/data/emails/')).status).toBe(404);
    expect((await get('/breach/data/emails/%E0%A4%A')).status).toBe(400);
    expect((await get('/breach/data/passwords/x')).status).toBe(404);
  });

  it('pages with cursors: every record once, in dataset order, hits the total', async () => {
    const pages = await allPages('/breach/data/domains/corp.example');
    expect(pages.map((p) => p.results.length)).toEqual([2, 2]);
    expect(pages.map((p) => p.hits)).toEqual([4, 4]);
    expect(pages.at(-1).cursor).toBe('');
    expect(pages[0].cursor).not.toBe('');
  });

  it('answers a cursor it did not make with 400, as an expired one', async () => {
    for (const cursor of ['garbage', 'eyJvZmZzZXQiOi0xfQ', Buffer.from('{"offset":"2"}').toString('base64url')]) {
      expect((await get(`/breach/data/domains/corp.example?cursor=${cursor}`)).status).toBe(400);
    }
  });

  it('pages at 1000 records by default', async () => {
    const many = Array.from({ length: 1001 }, (_, n) => record(n, { email: 'busy@corp.example' }));
    const big = await startSpyCloudSandbox({ dataset: { records: many, catalogs: [], watchlist: [] } });
    try {
      const first = await get('/breach/data/emails/busy%40corp.example', KEY, big);
      expect(first.body.results).toHaveLength(1000);
      const second = await get(`/breach/data/emails/busy%40corp.example?cursor=${first.body.cursor}`, KEY, big);
      expect(second.body.results.map((r: any) => r.document_id)).toEqual(['doc-1000']);
      expect(second.body.cursor).toBe('');
    } finally {
      await big.close();
    }
  });
});

describe('catalogs (/breach/catalog/{id[,id…]})', () => {
  it('answers several comma-delimited ids in one list, in the order asked, leaving unknown ids out', async () => {
    const { status, body } = await get('/breach/catalog/3,404,1,2');
    expect(status).toBe(200);
    expect(body).toEqual({ cursor: '', hits: 3, results: [DATASET.catalogs[2], DATASET.catalogs[0], DATASET.catalogs[1]] });
  });

  it('decodes each id on its own, and answers none known with an empty list', async () => {
    expect((await get('/breach/catalog/%31,%32')).body.results.map((c: any) => c.title)).toEqual(['One', 'Two']);
    expect(await get('/breach/catalog/777')).toEqual({ status: 200, body: { cursor: '', hits: 0, results: [] } });
    expect((await get('/breach/catalog/1,%E0%A4%A')).status).toBe(400);
  });
});

describe('the watchlist (/breach/data/watchlist?since=&until=)', () => {
  it('holds the records of watched identifiers only', () => {
    expect(watchlistRecords(DATASET).map((r) => r.document_id)).toEqual(['doc-1', 'doc-2', 'doc-3', 'doc-4']);
  });

  it('answers the records published in [since, until], whole UTC days, paged with the window kept', async () => {
    const pages = await allPages('/breach/data/watchlist?since=2024-03-10&until=2024-03-10');
    expect(docs(pages)).toEqual(['doc-1']);
    const wider = await allPages('/breach/data/watchlist?since=2024-03-09&until=2024-03-11');
    expect(docs(wider)).toEqual(['doc-1', 'doc-3', 'doc-4']);
    expect(wider.map((p) => p.results.length)).toEqual([2, 1]);
  });

  it('takes date-times too, and either bound alone', async () => {
    expect(docs(await allPages('/breach/data/watchlist?since=2024-03-10T00:00:00Z&until=2024-03-10T11:59:59Z'))).toEqual([]);
    expect(docs(await allPages('/breach/data/watchlist?since=2024-03-10T12:00:00'))).toEqual(['doc-1', 'doc-4']);
    expect(docs(await allPages('/breach/data/watchlist?until=2024-03-09'))).toEqual(['doc-2', 'doc-3']);
    expect(docs(await allPages('/breach/data/watchlist'))).toEqual(['doc-1', 'doc-2', 'doc-3', 'doc-4']);
  });

  it('answers a malformed bound with 400', async () => {
    for (const query of ['since=yesterday', 'until=2024-13-45', 'since=10/03/2024']) {
      const { status, body } = await get(`/breach/data/watchlist?${query}`);
      expect(status).toBe(400);
      expect(body.message).toMatch(/must be YYYY-MM-DD/);
    }
  });

  it('parses bounds as SpyCloud does', () => {
    expect(parseBound(null, 'since')).toBeUndefined();
    expect(parseBound('2024-03-10', 'since')).toBe(Date.UTC(2024, 2, 10));
    expect(parseBound('2024-03-10', 'until')).toBe(Date.UTC(2024, 2, 11) - 1);
    expect(parseBound('2024-03-10T05:00:00+02:00', 'since')).toBe(Date.UTC(2024, 2, 10, 3));
  });

  it('answers /watchlist/{identifier} for a watched one, and 400 otherwise (what the relay\'s health check asks)', async () => {
    expect(await get('/watchlist/Corp.Example')).toEqual({ status: 200, body: { cursor: '', hits: 1, results: [DATASET.watchlist[0]] } });
    expect((await get('/watchlist/example.org')).status).toBe(400);
  });
});

describe('the sandbox as the relay\'s SpyCloud', () => {
  it('serves the worked example to the relay across pages of 2, with catalog 777 missing', async () => {
    const spycloud = await startSpyCloudSandbox({ dataset: exampleDataset(), apiKeys: [KEY], pageSize: 2, latencyMs: 5 });
    const secret = 's'.repeat(32);
    const relay = await startRelay({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: secret });
    try {
      const { body } = await relay.post('/observe/observables', [{ type: 'email', value: 'JDOE@acme-corp.example' }], { authorization: `Bearer ${await hs256({ key: KEY }, secret)}` });
      expect(body.data.sightings.count).toBe(4);
      expect(body.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 777' }]);
      expect(spycloud.seen.filter((s) => s.path.startsWith('/breach/data/emails/'))).toHaveLength(2);
      const refused = await relay.post('/health', undefined, { authorization: `Bearer ${await hs256({ key: 'other' }, secret)}` });
      expect(refused.body).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Invalid API key' }] });
    } finally {
      await relay.close();
      await spycloud.close();
    }
  });

  it('lets a test replace any of its answers, however broad the route', async () => {
    const spycloud = await startSpyCloudSandbox({ dataset: DATASET, routes: { '/breach/data/emails/*': json({ message: 'down' }, 503) } });
    try {
      expect((await get('/breach/data/emails/user1%40corp.example', KEY, spycloud)).status).toBe(503);
      expect((await get('/breach/data/domains/corp.example', KEY, spycloud)).status).toBe(200);
      spycloud.route('/breach/*', json({ message: 'gone' }, 410));
      expect((await get('/breach/data/domains/corp.example', KEY, spycloud)).status).toBe(410);
      expect((await get('/watchlist/corp.example', KEY, spycloud)).status).toBe(200);
    } finally {
      await spycloud.close();
    }
  });
});

describe('the loopback stand-in', () => {
  it('routes exact paths first, then the first prefix, records every request, and answers 599 off its routes', async () => {
    const standIn = await startStandIn({ '/a/b/*': json('b'), '/a/*': json('a'), '/a/b/c': json('exact') });
    try {
      const text = async (path: string) => (await fetch(standIn.url + path)).text();
      expect(await text('/a/b/c')).toBe('exact');
      expect(await text('/a/b/d?x=1')).toBe('b');
      expect(await text('/a/x')).toBe('a');
      const off = await fetch(`${standIn.url}/elsewhere`);
      expect(off.status).toBe(599);
      expect(standIn.seen.map((s) => [s.method, s.url, s.path])).toEqual([
        ['GET', '/a/b/c', '/a/b/c'], ['GET', '/a/b/d?x=1', '/a/b/d'], ['GET', '/a/x', '/a/x'], ['GET', '/elsewhere', '/elsewhere'],
      ]);
      expect(standIn.url).toBe(`http://${standIn.host}`);
    } finally {
      await standIn.close();
    }
  });

  it('refuses to start on a port in use', async () => {
    const first = await startStandIn();
    try {
      const port = Number(first.host.split(':')[1]);
      await expect(startStandIn({}, { port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe('the Acme Corp dataset', () => {
  const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);
  const dataset = acmeDataset({ now: NOW });
  const published = (r: Record<string, unknown>) => Date.parse(r.spycloud_publish_date as string);

  it('is the same for the same seed and now, another for another seed, and moves with now', () => {
    expect(acmeDataset({ now: NOW })).toEqual(dataset);
    expect(acmeDataset({ now: NOW, seed: 7 }).records).not.toEqual(dataset.records);
    const later = acmeDataset({ now: NOW + DAY });
    expect(later.records.map((r) => published(r) - DAY)).toEqual(dataset.records.map(published));
  });

  it('is about a reserved domain, and dates nothing after now', () => {
    for (const r of dataset.records) {
      if (typeof r.email === 'string') expect(r.email).toMatch(/@acme-corp\.example$/);
      expect(published(r)).toBeLessThanOrEqual(NOW);
    }
    expect(new Set(dataset.records.map((r) => r.document_id)).size).toBe(dataset.records.length);
  });

  it('holds infostealer records with stolen session cookies, plaintext and hashed passwords, a combolist and a catalog SpyCloud lacks', () => {
    const cookies = dataset.records.filter((r) => r.severity === 30);
    expect(cookies.length).toBeGreaterThan(5);
    for (const r of cookies) {
      for (const field of ['infected_machine_id', 'target_url', 'user_browser', 'ip_addresses']) expect(r[field]).toBeDefined();
    }
    expect(dataset.records.some((r) => r.password_type === 'plaintext' && typeof r.password_plaintext === 'string')).toBe(true);
    expect(dataset.records.some((r) => r.password_type === 'bcrypt')).toBe(true);
    expect(dataset.records.some((r) => r.password_type === 'sha1' && typeof r.salt === 'string')).toBe(true);
    const combolists = dataset.catalogs.filter((c) => c.combo_list_flag === 'YES');
    expect(combolists).toHaveLength(1);
    expect(dataset.records.some((r) => r.source_id === combolists[0]?.id)).toBe(true);
    const known = new Set(dataset.catalogs.map((c) => c.id));
    const unknown = new Set(dataset.records.map((r) => r.source_id).filter((id) => !known.has(id)));
    expect([...unknown]).toEqual([MISSING_CATALOG_ID]);
    expect(dataset.records.some((r) => r.email === undefined && typeof r.username === 'string')).toBe(true);
  });

  it('spreads the watchlist over the last 90 days, from the last 24 hours to the last month', () => {
    expect(dataset.watchlist).toEqual([expect.objectContaining({ identifier_type: 'domain', identifier_name: SANDBOX_DOMAIN })]);
    const ages = watchlistRecords(dataset).map((r) => (NOW - published(r)) / DAY).filter((days) => days <= 90);
    expect(ages.length).toBeGreaterThan(40);
    for (const [from, to] of [[0, 1], [1, 7], [7, 30], [30, 90]]) {
      expect(ages.some((days) => days > (from as number) && days <= (to as number))).toBe(true);
    }
  });

  it('has records for each sample of a supported type, and refuses the webmail one', async () => {
    const kinds: Record<string, RecordKind> = { email: 'emails', domain: 'domains', ip: 'ips', ipv6: 'ips', user: 'usernames' };
    const acme = await startSpyCloudSandbox({ dataset, apiKeys: [SANDBOX_API_KEY] });
    try {
      expect(new Set(dataset.samples.map((s) => s.type))).toEqual(new Set(Object.keys(kinds)));
      for (const sample of dataset.samples) {
        const kind = kinds[sample.type] as RecordKind;
        const { status, body } = await get(`/breach/data/${kind}/${encodeURIComponent(sample.value)}`, SANDBOX_API_KEY, acme);
        if (sample.value === 'gmail.com') {
          expect(status).toBe(422);
          continue;
        }
        expect(status).toBe(200);
        expect(body.results.length).toBeGreaterThan(0);
        expect(body.results.length).toBe(dataset.records.filter((r) => recordKeys(r, kind).includes(kind === 'ips' ? canonicalIp(sample.value) : sample.value.toLowerCase())).length);
      }
    } finally {
      await acme.close();
    }
  });
});
