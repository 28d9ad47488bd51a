// The bundles the sync sends, as the XDR sandbox received them over HTTP
// (RELAY.md §10): at most 1,000 entities each, an incident always with its
// members, and never two entities with one external id in a bundle (CTIA would
// create both: it checks `exists` against what was stored before the bundle).
import { afterEach, describe, expect, it } from 'vitest';
import { runSyncCommand } from '../src/cli/sync.js';
import { acmeDataset, SANDBOX_API_KEY } from '../src/sandbox/dataset.js';
import { startSpyCloudSandbox } from '../src/sandbox/spycloud.js';
import type { StandIn } from '../src/sandbox/stand-in.js';
import { startXdrSandbox, type XdrSandbox, type XdrSandboxOptions } from '../src/sandbox/xdr.js';
import type { SyncDeps } from '../src/sync/index.js';
import { WATCHLIST_PATH, watchlistPages, watchRecord } from './support/watchlist.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const dataset = acmeDataset({ now: NOW });
/** A source SpyCloud has a catalog of (its records get an indicator), and one it has none of. */
const KNOWN_SOURCE = dataset.catalogs[0]?.id as number;
const UNKNOWN_SOURCE = 999_999;

type Entity = Record<string, any>;
interface Sent { incidents: Entity[]; sightings: Entity[]; indicators: Entity[]; relationships: Entity[] }

const open: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

/** SpyCloud answering `pages` of watchlist records, and the XDR sandbox. */
async function world(pages: ReadonlyArray<ReadonlyArray<object>>, xdrOptions: XdrSandboxOptions = {}): Promise<{ spycloud: StandIn; xdr: XdrSandbox }> {
  const spycloud = await startSpyCloudSandbox({ dataset, apiKeys: [SANDBOX_API_KEY] });
  spycloud.route(WATCHLIST_PATH, watchlistPages(pages));
  const xdr = await startXdrSandbox(xdrOptions);
  open.push(spycloud, xdr);
  return { spycloud, xdr };
}

async function sync(spycloud: StandIn, xdr: XdrSandbox, deps: SyncDeps = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runSyncCommand({
    args: ['--since', '2026-06-01'],
    env: xdr.syncEnv(spycloud.url, SANDBOX_API_KEY),
    stdout: { write: (text) => (stdout += text) },
    stderr: { write: (text) => (stderr += text) },
    deps: { now: () => NOW, xdrRetryBaseMs: 1, ...deps },
  });
  return { code, stdout, stderr };
}

/** The bundles the sandbox received (token requests are forms, not JSON bundles). */
const bundlesSent = (xdr: XdrSandbox): Sent[] =>
  xdr.received.filter((body) => body.startsWith('{')).map((body) => JSON.parse(body) as Sent);

const entitiesOf = (bundle: Sent): Entity[] => [...bundle.incidents, ...bundle.sightings, ...bundle.indicators, ...bundle.relationships];

const storedOf = (xdr: XdrSandbox, type: string): Entity[] => [...xdr.stored.values()].filter((e) => e.type === type).map((e) => e.entity as Entity);

const record = (email: string, source: number, n: number) =>
  watchRecord({ email, source, severity: n % 3 === 0 ? 25 : 20, at: `2026-06-${String(1 + (n % 14)).padStart(2, '0')}T10:00:00Z`, passwordType: 'plaintext' });

function expectNoExternalIdTwice(bundles: readonly Sent[]): void {
  for (const [n, bundle] of bundles.entries()) {
    const ids = entitiesOf(bundle).map((e) => e.external_ids[0] as string);
    expect(new Set(ids).size, `bundle ${n}`).toBe(ids.length);
  }
}

describe('the bundles the sync sends', () => {
  it('hold at most 1,000 entities each, each incident with its members, over a watchlist of more', async () => {
    // 420 records of 60 people in 3 sources (one without a catalog): over 1,200 entities, the first page alone over 1,000.
    const records = Array.from({ length: 420 }, (_, n) => record(`person${n % 60}@acme.example`, [KNOWN_SOURCE, UNKNOWN_SOURCE, dataset.catalogs[1]?.id as number][n % 3] as number, n));
    const pages = [records.slice(0, 380), records.slice(380)];
    const { spycloud, xdr } = await world(pages);
    const { code, stderr } = await sync(spycloud, xdr);
    expect(code, stderr).toBe(0);
    const bundles = bundlesSent(xdr);
    const total = bundles.reduce((n, b) => n + entitiesOf(b).length, 0);
    expect(total).toBeGreaterThan(1000);
    expect(bundles.length).toBeGreaterThan(pages.length);
    for (const bundle of bundles) {
      expect(entitiesOf(bundle).length).toBeLessThanOrEqual(1000);
      const incidents = new Set(bundle.incidents.map((i) => i.id));
      const sightings = new Set(bundle.sightings.map((s) => s.id));
      const members = bundle.relationships.filter((r) => r.relationship_type === 'member-of');
      expect(members).toHaveLength(bundle.sightings.length);
      for (const member of members) {
        expect(incidents.has(member.target_ref)).toBe(true);
        expect(sightings.has(member.source_ref)).toBe(true);
      }
      for (const incident of bundle.incidents) expect(members.some((m) => m.target_ref === incident.id)).toBe(true);
    }
    expectNoExternalIdTwice(bundles);
    expect(storedOf(xdr, 'sighting')).toHaveLength(records.length);
    expect(storedOf(xdr, 'incident')).toHaveLength(new Set(records.map((r) => `${String(r.email)}|${String(r.source_id)}`)).size);
  });

  it('send a document met twice on one page once', async () => {
    const twice = record('twice@acme.example', KNOWN_SOURCE, 1);
    const other = record('other@acme.example', KNOWN_SOURCE, 2);
    const { spycloud, xdr } = await world([[twice, other, { ...twice }]]);
    const { code, stderr } = await sync(spycloud, xdr);
    expect(code, stderr).toBe(0);
    expectNoExternalIdTwice(bundlesSent(xdr));
    const sightings = storedOf(xdr, 'sighting').map((s) => s.external_ids[0]);
    expect(sightings.sort()).toEqual([`spycloud-record-${String(twice.document_id)}`, `spycloud-record-${String(other.document_id)}`].sort());
    expect(storedOf(xdr, 'relationship').filter((r) => r.relationship_type === 'member-of')).toHaveLength(2);
  });

  it('send an incident split over bundles once per bundle: CTIA stores one, with all its members', async () => {
    // 700 records of one person in a source without a catalog: three parts of the incident.
    const records = Array.from({ length: 700 }, (_, n) => record('many@acme.example', UNKNOWN_SOURCE, n));
    const { spycloud, xdr } = await world([records]);
    const { code, stderr } = await sync(spycloud, xdr);
    expect(code, stderr).toBe(0);
    const bundles = bundlesSent(xdr);
    expect(bundles.length).toBeGreaterThan(1);
    expectNoExternalIdTwice(bundles);
    const [incident, ...more] = storedOf(xdr, 'incident');
    expect(more).toHaveLength(0);
    const members = storedOf(xdr, 'relationship').filter((r) => r.relationship_type === 'member-of');
    expect(members).toHaveLength(records.length);
    for (const member of members) expect(member.target_ref).toBe(incident?.id);
  });

  it('make one incident of an email and a username of one value in one source (one external id)', async () => {
    const byEmail = watchRecord({ email: 'j@x.example', source: KNOWN_SOURCE, severity: 20, at: '2026-06-10T10:00:00Z' });
    const byUsername = watchRecord({ username: 'j@x.example', source: KNOWN_SOURCE, severity: 20, at: '2026-06-11T10:00:00Z' });
    const { spycloud, xdr } = await world([[byEmail, byUsername]]);
    const { code, stderr } = await sync(spycloud, xdr);
    expect(code, stderr).toBe(0);
    expectNoExternalIdTwice(bundlesSent(xdr));
    const [incident, ...more] = storedOf(xdr, 'incident');
    expect(more).toHaveLength(0);
    const members = storedOf(xdr, 'relationship').filter((r) => r.relationship_type === 'member-of');
    expect(members.map((m) => m.target_ref)).toEqual([incident?.id, incident?.id]);
    // Each sighting still names what its record holds: an email, a username.
    const observed = storedOf(xdr, 'sighting').map((s) => s.observables[0].type).sort();
    expect(observed).toEqual(['email', 'user']);
  });
});
