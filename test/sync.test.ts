// `spycloud-relay sync` over real HTTP (RELAY.md §10): the SpyCloud sandbox serves
// Acme's watchlist in small pages, the XDR sandbox plays the token endpoint and
// CTIA's bundle import. Expectations are worked out here from the dataset.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { runSyncCommand } from '../src/cli/sync.js';
import { acmeDataset, SANDBOX_API_KEY, type AcmeDataset } from '../src/sandbox/dataset.js';
import { startSpyCloudSandbox, watchlistRecords } from '../src/sandbox/spycloud.js';
import { json, type StandIn } from '../src/sandbox/stand-in.js';
import { SANDBOX_XDR_CLIENT_SECRET, startXdrSandbox, type XdrSandbox, type XdrSandboxOptions } from '../src/sandbox/xdr.js';
import type { SyncDeps } from '../src/sync/index.js';

const DAY_MS = 86_400_000;
const NOW = Date.parse('2026-06-15T12:00:00Z');
/** A window that holds the last 12 days of Acme's watchlist: several sources, combolist included. */
const SINCE = '2026-06-03';

interface World {
  dataset: AcmeDataset;
  spycloud: StandIn;
  xdr: XdrSandbox;
  env: Record<string, string>;
  /** Runs the command; its stdout, stderr and exit code. */
  sync: (args?: string[], deps?: SyncDeps, env?: Record<string, string>) => Promise<{ code: number; stdout: string; stderr: string }>;
  close: () => Promise<void>;
}

const open: World[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((world) => world.close()));
});

async function world(options: { pageSize?: number; xdr?: XdrSandboxOptions; spycloudLatencyMs?: number } = {}): Promise<World> {
  const dataset = acmeDataset({ now: NOW });
  const spycloud = await startSpyCloudSandbox({ dataset, apiKeys: [SANDBOX_API_KEY], pageSize: options.pageSize ?? 4, latencyMs: options.spycloudLatencyMs });
  const xdr = await startXdrSandbox(options.xdr);
  const env = { ...xdr.syncEnv(spycloud.url, SANDBOX_API_KEY), SPYCLOUD_RETRY_BASE_MS: '1' };
  const created: World = {
    dataset,
    spycloud,
    xdr,
    env,
    sync: async (args = ['--since', SINCE], deps = {}, extra = {}) => {
      let stdout = '';
      let stderr = '';
      const code = await runSyncCommand({
        args,
        env: { ...env, ...extra },
        stdout: { write: (text) => (stdout += text) },
        stderr: { write: (text) => (stderr += text) },
        deps: { now: () => NOW, xdrRetryBaseMs: 1, ...deps },
      });
      return { code, stdout, stderr };
    },
    close: async () => {
      await Promise.all([spycloud.close(), xdr.close()]);
    },
  };
  open.push(created);
  return created;
}

type Entity = Record<string, any>;

const storedOf = (xdr: XdrSandbox, type: string): Entity[] => [...xdr.stored.values()].filter((e) => e.type === type).map((e) => e.entity as Entity);

/** The run's JSON log line(s). */
const logLines = (stdout: string): Entity[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Entity);

/** RELAY.md §10 restated: the watchlist records in the window with severity ≥ 20, by (identity, source). */
function expectedGroups(dataset: AcmeDataset, since: string, minSeverity = 20) {
  const from = Date.parse(`${since}T00:00:00Z`);
  const groups = new Map<string, Entity[]>();
  for (const record of watchlistRecords(dataset)) {
    if (Date.parse(record.spycloud_publish_date as string) < from || (record.severity as number) < minSeverity) continue;
    const identity = typeof record.email === 'string' ? record.email.toLowerCase() : record.username;
    const key = `${String(record.source_id)}|${String(identity)}`;
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return groups;
}

const passwordsOf = (dataset: AcmeDataset): string[] =>
  dataset.records.flatMap((r) => Object.entries(r).filter(([k, v]) => k.startsWith('password') && k !== 'password_type' && typeof v === 'string').map(([, v]) => v as string));

const emailsOf = (dataset: AcmeDataset): string[] => [...new Set(dataset.records.map((r) => r.email).filter((e): e is string => typeof e === 'string'))];

describe('spycloud-relay sync', () => {
  it('imports one incident per (identity, source) with its sightings as members and the breach indicator linked', async () => {
    const w = await world();
    const { code, stdout, stderr } = await w.sync();
    expect(code, stderr).toBe(0);
    const groups = expectedGroups(w.dataset, SINCE);
    expect(groups.size).toBeGreaterThan(4);
    const incidents = storedOf(w.xdr, 'incident');
    const sightings = storedOf(w.xdr, 'sighting');
    const relationships = storedOf(w.xdr, 'relationship');
    const indicators = storedOf(w.xdr, 'indicator');
    expect(incidents).toHaveLength(groups.size);
    const records = [...groups.values()].flat();
    expect(sightings).toHaveLength(records.length);
    expect(sightings.map((s) => s.external_ids[0]).sort()).toEqual(records.map((r) => `spycloud-record-${r.document_id}`).sort());

    const incidentIds = new Set(incidents.map((i) => i.id));
    const sightingById = new Map(sightings.map((s) => [s.id, s]));
    const indicatorIds = new Set(indicators.map((i) => i.id));
    const members = relationships.filter((r) => r.relationship_type === 'member-of');
    expect(members).toHaveLength(records.length);
    // Every member points from a stored sighting to a stored incident, and each incident holds exactly its group.
    const byIncident = new Map<string, string[]>();
    for (const member of members) {
      expect(sightingById.has(member.source_ref)).toBe(true);
      expect(incidentIds.has(member.target_ref)).toBe(true);
      byIncident.set(member.target_ref, [...(byIncident.get(member.target_ref) ?? []), sightingById.get(member.source_ref)?.external_ids[0]]);
    }
    for (const incident of incidents) {
      const [, sourceId] = /^spycloud-incident-(\d+)-[0-9a-f]{16}$/.exec(incident.external_ids[0]) ?? [];
      const group = [...groups.entries()].find(([key, list]) => key.startsWith(`${sourceId}|`)
        && incident.title.includes(String(key.split('|')[1])) && list.length === byIncident.get(incident.id)?.length);
      expect(group, incident.title).toBeDefined();
      expect(byIncident.get(incident.id)?.sort()).toEqual(group?.[1].map((r) => `spycloud-record-${r.document_id}`).sort());
      expect(incident).toMatchObject({ status: 'New', confidence: 'High', tlp: 'amber', promotion_method: 'Automated' });
      // The highest of its sightings (§6: a combolist is Medium; 26 and above Critical, 6–25 High).
      const catalog = w.dataset.catalogs.find((c) => c.id === group?.[1][0]?.source_id);
      const severities = (group?.[1] ?? []).map((r) => r.severity as number);
      const expected = catalog?.combo_list_flag ? 'Medium' : Math.max(...severities) >= 26 ? 'Critical' : 'High';
      expect(incident.severity).toBe(expected);
      expect(incident.incident_time.discovered <= incident.incident_time.opened).toBe(true);
    }
    // sighting-of: each sighting with a known catalog points at its stored indicator.
    const sightingOf = relationships.filter((r) => r.relationship_type === 'sighting-of');
    expect(sightingOf.length).toBe(records.length);
    for (const rel of sightingOf) expect(indicatorIds.has(rel.target_ref)).toBe(true);
    expect(indicators.length).toBe(new Set(records.map((r) => r.source_id)).size);
    for (const entity of [...incidents, ...sightings, ...relationships, ...indicators]) {
      expect(entity.tlp).toBe('amber');
      expect(entity.external_ids.every((x: string) => x.startsWith('spycloud-'))).toBe(true);
    }

    const [log] = logLines(stdout);
    expect(log).toMatchObject({
      msg: 'sync run',
      since: SINCE,
      records_kept: records.length,
      incidents: { created: groups.size, exists: expect.any(Number), errors: 0 },
      sightings: { created: records.length, exists: 0, errors: 0 },
      tokens: 1,
    });
    expect(log?.pages).toBeGreaterThan(3);
    expect(w.xdr.calls.token).toBe(1);
  });

  it('keeps one incident for records of one (identity, source) spread over pages, and adds later records to it', async () => {
    const w = await world({ pageSize: 2 });
    const groups = expectedGroups(w.dataset, SINCE);
    const [key, records] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
    expect(records?.length).toBeGreaterThan(4);
    const { code, stdout } = await w.sync();
    expect(code).toBe(0);
    // Sent again with each page's part of the group, CTIA answered `exists` and linked the members to the stored one.
    expect(logLines(stdout)[0]?.incidents.exists).toBeGreaterThan(0);
    const incidents = storedOf(w.xdr, 'incident');
    expect(incidents).toHaveLength(groups.size);
    const identity = String(key?.split('|')[1]);
    const incident = incidents.find((i) => i.title.includes(identity) && i.external_ids[0].startsWith(`spycloud-incident-${key?.split('|')[0]}-`));
    const members = storedOf(w.xdr, 'relationship').filter((r) => r.relationship_type === 'member-of' && r.target_ref === incident?.id);
    expect(members).toHaveLength(records?.length ?? -1);

    // A day later SpyCloud has one more record of that identity in that source: it joins the same incident.
    const later = { ...records?.[0], document_id: 'a-later-record', spycloud_publish_date: '2026-06-15T10:00:00Z' };
    const spycloud = await startSpyCloudSandbox({ dataset: { ...w.dataset, records: [...w.dataset.records, later] }, apiKeys: [SANDBOX_API_KEY] });
    try {
      const next = await w.sync(undefined, {}, { SPYCLOUD_API_URL: spycloud.url });
      expect(next.code).toBe(0);
      expect(logLines(next.stdout)[0]).toMatchObject({ incidents: { created: 0 }, sightings: { created: 1 }, relationships: { created: 2 } });
    } finally {
      await spycloud.close();
    }
    const joined = storedOf(w.xdr, 'relationship').filter((r) => r.relationship_type === 'member-of' && r.target_ref === incident?.id);
    expect(joined).toHaveLength((records?.length ?? 0) + 1);
    expect(storedOf(w.xdr, 'incident')).toHaveLength(groups.size);
  });

  it('creates nothing on a rerun of the same window', async () => {
    const w = await world();
    expect((await w.sync()).code).toBe(0);
    const before = w.xdr.stored.size;
    const again = await w.sync();
    expect(again.code).toBe(0);
    expect(w.xdr.stored.size).toBe(before);
    const [log] = logLines(again.stdout);
    for (const type of ['incidents', 'sightings', 'relationships', 'indicators']) {
      expect(log?.[type].created, type).toBe(0);
      expect(log?.[type].exists, type).toBeGreaterThan(0);
    }
  });

  it('completes an import interrupted after the first bundle on the next run, with no duplicate', async () => {
    const clean = await world();
    await clean.sync();
    const reference = new Map(['incident', 'sighting', 'relationship', 'indicator'].map((t) => [t, storedOf(clean.xdr, t).length]));

    const w = await world();
    w.xdr.dropAfter(1);
    const broken = await w.sync();
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/XDR failed, the run ended early: XDR could not be reached/);
    expect(logLines(broken.stdout)[0]?.failure).toEqual({ source: 'xdr', code: 'unknown' });
    expect(w.xdr.stored.size).toBeLessThan(clean.xdr.stored.size);

    w.xdr.dropAfter(undefined);
    const resumed = await w.sync();
    expect(resumed.code, resumed.stderr).toBe(0);
    for (const [type, count] of reference) expect(storedOf(w.xdr, type), type).toHaveLength(count);
    const externalIds = [...w.xdr.stored.values()].flatMap((e) => e.entity.external_ids as string[]);
    expect(new Set(externalIds).size).toBe(externalIds.length);
  });

  it('fetches a new token when XDR says the one in use expired mid-run, and reuses a live one', async () => {
    let xdrNow = NOW;
    const w = await world({ xdr: { now: () => xdrNow, tokenLifetimeS: 3600 } });
    let bundles = 0;
    const { code, stdout } = await w.sync(undefined, {
      // Before the third bundle, an hour and more passes in XDR: its token has expired there.
      onIncidents: () => {
        bundles += 1;
        if (bundles === 3) xdrNow += 2 * 3_600_000;
      },
    });
    expect(bundles).toBeGreaterThan(3);
    expect(code).toBe(0);
    expect(w.xdr.calls.token).toBe(2);
    expect(logLines(stdout)[0]?.tokens).toBe(2);
    // Every bundle imported once, plus the one refused with jwt_expired.
    expect(w.xdr.calls.import).toBe(bundles + 1);
  });

  it('renews the token shortly before it expires, without waiting for XDR to refuse it', async () => {
    // One clock for the sync and XDR: a 120 s token is renewed from 108 s on (90 % of its life).
    let clock = NOW;
    const w = await world({ xdr: { now: () => clock, tokenLifetimeS: 120 } });
    let bundles = 0;
    const { code, stdout, stderr } = await w.sync(undefined, {
      now: () => clock,
      // Before the third bundle, 130 s have passed: the token has expired in XDR.
      onIncidents: () => {
        bundles += 1;
        if (bundles === 3) clock += 130_000;
      },
    });
    expect(code, stderr).toBe(0);
    expect(bundles).toBeGreaterThan(3);
    expect(w.xdr.calls.token).toBe(2);
    expect(logLines(stdout)[0]?.tokens).toBe(2);
    // No import was refused for its token and sent again.
    expect(w.xdr.calls.import).toBe(bundles);
  });

  it('retries XDR 429 and 500 answers, and fetches a new token once on a 401', async () => {
    for (const status of [429, 500, 401]) {
      const w = await world();
      w.xdr.failNext('import', status === 401 ? 1 : 2, status);
      const { code, stderr } = await w.sync();
      expect(code, `${status}: ${stderr}`).toBe(0);
      expect(storedOf(w.xdr, 'incident').length).toBe(expectedGroups(w.dataset, SINCE).size);
      expect(w.xdr.calls.token).toBe(status === 401 ? 2 : 1);
    }
  });

  it('waits as long as an XDR 429 says in Retry-After, in seconds or as an HTTP date', async () => {
    // A back-off far past the run's budget: only a Retry-After that is read gets the import retried in time.
    const slowBackOff = { xdrRetryBaseMs: 3_600_000, random: () => 0.5 };
    for (const retryAfter of ['0', new Date(NOW + 1_000).toUTCString(), new Date(NOW - DAY_MS).toUTCString()]) {
      const w = await world();
      w.xdr.failNext('import', 1, 429, retryAfter);
      const { code, stderr } = await w.sync(undefined, slowBackOff);
      expect(code, `${retryAfter}: ${stderr}`).toBe(0);
      expect(storedOf(w.xdr, 'incident').length).toBe(expectedGroups(w.dataset, SINCE).size);
    }
  });

  it('fails with exit 1 and says so when XDR keeps refusing the token, or keeps failing', async () => {
    const refused = await world();
    refused.xdr.failNext('import', 2, 401);
    const first = await refused.sync();
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('XDR failed, the run ended early: XDR refused the import (HTTP 401 jwt_expired): give the API client the Private Intelligence scope');

    const down = await world();
    down.xdr.failNext('import', 100, 503);
    const second = await down.sync();
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('XDR failed, the run ended early: Unexpected answer from XDR (import): HTTP 503 Service Unavailable.');
    // 1 try and 4 retries.
    expect(down.xdr.calls.import).toBe(5);
  });

  it('retries an XDR call that times out, then says XDR did not answer', async () => {
    const w = await world({ xdr: { latencyMs: 400 } });
    const { code, stderr } = await w.sync(undefined, { xdrTimeoutMs: 100 });
    expect(code).toBe(1);
    expect(stderr).toContain('XDR failed, the run ended early: XDR did not answer within 100 ms (token).');
    // 1 try and 4 retries.
    expect(w.xdr.standIn.seen.filter((s) => s.path === '/iroh/oauth2/token')).toHaveLength(5);
    expect(w.spycloud.seen).toHaveLength(0);
  });

  it('stops within SYNC_BUDGET_S when XDR is too slow, and says so', async () => {
    const w = await world({ xdr: { latencyMs: 3_000 } });
    const started = Date.now();
    const { code, stderr, stdout } = await w.sync(undefined, { now: Date.now }, { SYNC_BUDGET_S: '1' });
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_900);
    expect(stderr).toContain('XDR failed, the run ended early: The sync ran out of its 1 s budget (SYNC_BUDGET_S); the next run imports the rest.');
    expect(logLines(stdout)[0]?.errors.xdr).toBe(1);
  });

  it('stops within SYNC_BUDGET_S when SpyCloud is too slow, and names the sync\'s budget, not the relay\'s', async () => {
    const w = await world({ spycloudLatencyMs: 3_000 });
    const started = Date.now();
    const { code, stderr, stdout } = await w.sync(undefined, { now: Date.now }, { SYNC_BUDGET_S: '1' });
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_900);
    expect(stderr).toContain('SpyCloud failed, the run ended early: The sync ran out of its 1 s budget (SYNC_BUDGET_S); the next run imports the rest.');
    expect(stderr).not.toContain('REQUEST_BUDGET_MS');
    expect(stderr).not.toContain('ms budget');
    expect(logLines(stdout)[0]?.errors.spycloud).toBe(1);
  });

  it('stops before reading SpyCloud when XDR refuses the client credentials', async () => {
    const w = await world();
    const { code, stderr, stdout } = await w.sync(undefined, {}, { XDR_CLIENT_SECRET: 'not-the-secret' });
    expect(code).toBe(1);
    expect(stderr).toContain("XDR refused the API client's credentials (HTTP 400 invalid_client): check XDR_CLIENT_ID, XDR_CLIENT_SECRET and XDR_REGION.");
    expect(w.spycloud.seen).toHaveLength(0);
    expect(stdout + stderr).not.toContain('not-the-secret');
  });

  it('reports entities XDR refuses (exit 1) and imports them on the next run', async () => {
    const w = await world();
    const victim = [...expectedGroups(w.dataset, SINCE).values()][0]?.[0];
    w.xdr.refuseEntities((entity) => (entity.external_ids as string[])[0] === `spycloud-record-${String(victim?.document_id)}`);
    const { code, stderr, stdout } = await w.sync();
    expect(code).toBe(1);
    // Its relationships refer to it, so CTIA cannot resolve them either.
    expect(stderr).toContain('XDR refused 1 sighting, 2 relationships; the next run tries them again.');
    const [log] = logLines(stdout);
    expect(log?.sightings.errors).toBe(1);
    expect(log?.relationships.errors).toBe(2);
    expect(log?.errors.entity).toBeGreaterThanOrEqual(1);
    expect(log?.level).toBe(50);

    w.xdr.refuseEntities(undefined);
    const again = await w.sync();
    expect(again.code, again.stderr).toBe(0);
    expect(logLines(again.stdout)[0]).toMatchObject({ sightings: { created: 1 }, relationships: { created: 2 } });
  });

  it('counts a bundle CTIA refuses whole (400) and goes on with the next ones', async () => {
    const w = await world();
    w.xdr.failNext('import', 1, 400);
    const { code, stderr, stdout } = await w.sync();
    expect(code).toBe(1);
    expect(stderr).toMatch(/\(1 whole bundle as invalid CTIM\)/);
    const [log] = logLines(stdout);
    expect(log?.errors.bundle).toBe(1);
    expect(log?.bundles).toBeGreaterThan(1);
    expect(log?.incidents.created).toBeGreaterThan(0);
  });

  it('ends with exit 1 and names SpyCloud when the watchlist cannot be read', async () => {
    const w = await world();
    w.spycloud.route('/breach/data/watchlist', json({ message: 'boom' }, 500));
    const { code, stderr, stdout } = await w.sync();
    expect(code).toBe(1);
    expect(stderr).toContain('SpyCloud failed, the run ended early: The Spycloud internal error.');
    expect(logLines(stdout)[0]?.failure).toEqual({ source: 'spycloud', code: 'internal error' });
    expect(w.xdr.calls.import).toBe(0);
  });

  it('reads the next page while the current one is imported', async () => {
    const w = await world({ xdr: { latencyMs: 100 } });
    const nextPageRead: boolean[] = [];
    // Called as CTIA handles each entity, 100 ms after the bundle arrived.
    w.xdr.refuseEntities(() => {
      if (nextPageRead.length === 0) nextPageRead.push(w.spycloud.seen.some((s) => s.url.includes('cursor=')));
      return false;
    });
    // Every record kept: the first page has a bundle of its own.
    expect((await w.sync(undefined, {}, { SYNC_MIN_SEVERITY: '0' })).code).toBe(0);
    expect(nextPageRead).toEqual([true]);
  });

  it('takes a 400 on a later page for an expired cursor (exit 1), not for the end of the watchlist', async () => {
    const w = await world();
    const records = [...expectedGroups(w.dataset, SINCE).values()].flat();
    w.spycloud.route('/breach/data/watchlist', (req, res, seen) => (seen.url.includes('cursor=')
      ? json({ message: 'Invalid cursor' }, 400)
      : json({ cursor: 'c2', hits: records.length, results: records.slice(0, 3) }))(req, res, seen));
    const { code, stderr, stdout } = await w.sync();
    expect(code).toBe(1);
    expect(stderr).toContain('SpyCloud failed, the run ended early: SpyCloud refused the cursor of the next page (HTTP 400)');
    expect(logLines(stdout)[0]).toMatchObject({ pages: 1, sightings: { created: 3 } });
  });

  it('takes a 400 on the first watchlist page for a refused query (exit 1), not for an empty watchlist', async () => {
    const w = await world();
    w.spycloud.route('/breach/data/watchlist', json({ message: 'Invalid parameter since_modification_date' }, 400));
    const { code, stderr, stdout } = await w.sync();
    expect(code).toBe(1);
    expect(stderr).toContain('SpyCloud failed, the run ended early: SpyCloud refused the watchlist query (HTTP 400)');
    expect(stderr).not.toContain('Invalid parameter');
    expect(logLines(stdout)[0]).toMatchObject({ records_read: 0, failure: { source: 'spycloud', code: 'unknown' }, errors: { spycloud: 1 } });
    expect(w.xdr.calls.import).toBe(0);
  });

  it('sends no password, plaintext or masked, with the default SYNC_PASSWORD_DISPLAY', async () => {
    const w = await world();
    expect((await w.sync()).code).toBe(0);
    const sent = w.xdr.received.join('\n');
    expect(sent.length).toBeGreaterThan(1000);
    const passwords = passwordsOf(w.dataset);
    expect(passwords.length).toBeGreaterThan(10);
    for (const password of passwords) expect(sent).not.toContain(password);
    expect(sent).not.toMatch(/"name":"(password|password_plaintext|salt)"/);
    expect(sent).not.toMatch(/\*\*\*/);
    expect(sent).toContain('"password_type"');
  });

  it('sends masked passwords only when SYNC_PASSWORD_DISPLAY=masked', async () => {
    const w = await world();
    expect((await w.sync(undefined, {}, { SYNC_PASSWORD_DISPLAY: 'masked' })).code).toBe(0);
    const sent = w.xdr.received.join('\n');
    for (const password of passwordsOf(w.dataset)) expect(sent).not.toContain(`"${password}"`);
    expect(sent).toMatch(/"name":"password_plaintext"/);
  });

  it('--dry-run previews titles and counts and calls nothing in XDR, even without XDR credentials', async () => {
    const w = await world();
    const { code, stdout } = await w.sync(['--dry-run', '--since', SINCE], {}, { XDR_CLIENT_ID: '', XDR_CLIENT_SECRET: '' });
    expect(code).toBe(0);
    expect(w.xdr.standIn.seen).toHaveLength(0);
    const groups = expectedGroups(w.dataset, SINCE);
    expect(stdout).toContain(`Would import ${groups.size} incidents`);
    expect(stdout.match(/^ {2}SpyCloud: credentials of .+ exposed in .+ \[(Critical|High|Medium)\]$/gm)).toHaveLength(groups.size);
    for (const password of passwordsOf(w.dataset)) expect(stdout).not.toContain(password);
    const records = [...groups.values()].flat();
    expect(logLines(stdout)[0]).toMatchObject({
      dry_run: true,
      incidents: { planned: groups.size, created: 0 },
      sightings: { planned: records.length },
      relationships: { planned: 2 * records.length },
      indicators: { planned: new Set(records.map((r) => r.source_id)).size },
    });
  });

  it('reads the last SYNC_LOOKBACK_DAYS by default, from a UTC date', async () => {
    const w = await world();
    const { code, stdout } = await w.sync([], {}, { SYNC_LOOKBACK_DAYS: '2' });
    expect(code).toBe(0);
    const since = new Date(NOW - 2 * DAY_MS).toISOString().slice(0, 10);
    expect(w.spycloud.seen.some((s) => s.url === `/breach/data/watchlist?since_modification_date=${since}`)).toBe(true);
    expect(logLines(stdout)[0]?.incidents.created).toBe(expectedGroups(w.dataset, since).size);
  });

  it('logs one line per run with no email, secret, key or token', async () => {
    const w = await world();
    const { stdout, stderr } = await w.sync();
    const output = stdout + stderr;
    expect(logLines(stdout)).toHaveLength(1);
    for (const email of emailsOf(w.dataset)) expect(output).not.toContain(email);
    expect(output).not.toContain(SANDBOX_XDR_CLIENT_SECRET);
    expect(output).not.toContain(SANDBOX_API_KEY);
    const tokens = w.xdr.standIn.seen.map((s) => /^Bearer (.+)$/.exec(String(s.headers.authorization ?? ''))?.[1]).filter((t) => t !== undefined);
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(output).not.toContain(token);
  });

  it('exits 2 on bad configuration or command line', async () => {
    const w = await world();
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [[], { XDR_REGION: 'mars' }, /XDR_REGION must be one of us, eu, apjc/],
      [[], { XDR_CLIENT_ID: '' }, /XDR_CLIENT_ID must be set/],
      [[], { XDR_CLIENT_SECRET: '' }, /XDR_CLIENT_SECRET must be set/],
      [[], { SPYCLOUD_API_KEY: '' }, /SPYCLOUD_API_KEY must be set/],
      [[], { SYNC_MIN_SEVERITY: 'high' }, /SYNC_MIN_SEVERITY must be a whole number/],
      [[], { SYNC_PASSWORD_DISPLAY: 'shown' }, /SYNC_PASSWORD_DISPLAY must be one of plaintext, masked, hidden/],
      [[], { XDR_TOKEN_URL: 'ftp://x' }, /XDR_TOKEN_URL must be an http\(s\) URL/],
    ];
    for (const [args, env, message] of cases) {
      const { code, stderr } = await w.sync(args, {}, env);
      expect(code, JSON.stringify(env)).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr).not.toContain(SANDBOX_XDR_CLIENT_SECRET);
    }
    const both = await runCli(['sync', '--every', '15m', '--since', SINCE], w.env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--since and --every do not go together: each run would read the whole backfill again');
    for (const args of [['--since', '2026-02-30'], ['--every', '10'], ['--every', '0s'], ['--bogus']]) {
      const result = await runCli(['sync', ...args], w.env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/spycloud-relay: .*--(since|every|bogus)/);
    }
    expect(w.xdr.standIn.seen).toHaveLength(0);
    expect(w.spycloud.seen).toHaveLength(0);
  });

  it('--help describes the command and its exit codes', async () => {
    const w = await world();
    const { code, stdout } = await w.sync(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('spycloud-relay sync [--every 15m] [--dry-run] [--since YYYY-MM-DD]');
    // The main help lists the command; its options are in its own help.
    expect((await runCli(['--help'], {})).stdout).toMatch(/^ {2}sync {5}Import new SpyCloud watchlist exposures into XDR as incidents\.$/m);
  });

  it('--every runs again after each run and stops cleanly when told to', async () => {
    const w = await world();
    let stdout = '';
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const code = await runSyncCommand({
      args: ['--every', '1s'],
      env: { ...w.env, SYNC_LOOKBACK_DAYS: '12' },
      stdout: {
        write: (text) => {
          stdout += text;
          if (logLines(stdout).length === 2) stop();
        },
      },
      stderr: { write: () => undefined },
      stopped,
      deps: { now: () => NOW, xdrRetryBaseMs: 1 },
    });
    expect(code).toBe(0);
    const [first, second] = logLines(stdout);
    expect(first?.incidents.created).toBeGreaterThan(0);
    expect(second?.incidents.created).toBe(0);
    expect(logLines(stdout)).toHaveLength(2);
  });

  it('--every stopped during a run ends that run after the bundle under way', async () => {
    const w = await world();
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let stdout = '';
    let bundles = 0;
    const code = await runSyncCommand({
      args: ['--every', '15m'],
      env: { ...w.env, SYNC_LOOKBACK_DAYS: '12' },
      stdout: { write: (text) => (stdout += text) },
      stderr: { write: () => undefined },
      stopped,
      deps: {
        now: () => NOW,
        onIncidents: () => {
          bundles += 1;
          if (bundles === 2) stop();
        },
      },
    });
    expect(code).toBe(0);
    const [log] = logLines(stdout);
    expect(log?.stopped).toBe(true);
    expect(log?.bundles).toBe(2);
  });

  it('a run stopped while the next page is still being read ends without waiting for that page', async () => {
    const w = await world();
    const records = [...expectedGroups(w.dataset, SINCE).values()].flat().slice(0, 3);
    let slowPageAnswered = false;
    w.spycloud.route('/breach/data/watchlist', (req, res, seen) => {
      if (!seen.url.includes('cursor=')) return json({ cursor: 'c2', hits: 6, results: records })(req, res, seen);
      // The page read ahead answers late, long after the run was told to stop.
      setTimeout(() => {
        slowPageAnswered = true;
        if (!res.destroyed) json({ cursor: '', hits: 6, results: [] })(req, res, seen);
      }, 3_000);
      return undefined;
    });
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let stdout = '';
    const code = await runSyncCommand({
      args: ['--every', '15m'],
      env: { ...w.env, SYNC_LOOKBACK_DAYS: '12' },
      stdout: { write: (text) => (stdout += text) },
      stderr: { write: () => undefined },
      stopped,
      deps: { now: () => NOW, onIncidents: () => stop() },
    });
    expect(slowPageAnswered).toBe(false);
    expect(code).toBe(0);
    expect(logLines(stdout)[0]).toMatchObject({ stopped: true, pages: 1, sightings: { created: 3 } });
  });
});
