// The XDR sandbox plays CTIA for every sync test, so its semantics are checked on
// their own (RELAY.md §10): the token endpoint, dedup by prefixed external id,
// transient references, schema errors refusing the whole bundle, limits failing
// one entity, the bundle size limit, expired tokens.
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BUNDLE_ENTITIES, SANDBOX_XDR_CLIENT_ID, SANDBOX_XDR_CLIENT_SECRET, startXdrSandbox, type XdrSandbox, type XdrSandboxOptions } from '../src/sandbox/xdr.js';

const open: XdrSandbox[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function sandbox(options?: XdrSandboxOptions) {
  const xdr = await startXdrSandbox(options);
  open.push(xdr);
  return xdr;
}

async function tokenOf(xdr: XdrSandbox, id = SANDBOX_XDR_CLIENT_ID, secret = SANDBOX_XDR_CLIENT_SECRET) {
  const response = await request(xdr.tokenUrl, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return { status: response.statusCode, body: await response.body.json() as Record<string, unknown> };
}

async function importBundle(xdr: XdrSandbox, token: string, bundle: unknown) {
  const response = await request(`${xdr.intelUrl}/ctia/bundle/import?external-key-prefixes=spycloud-`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(bundle),
  });
  return { status: response.statusCode, body: await response.body.json() as { results?: Array<Record<string, unknown>> } & Record<string, unknown> };
}

const T = '2026-06-01T00:00:00.000000Z';
const sighting = (n: number, extra: Record<string, unknown> = {}) => ({
  type: 'sighting', id: `transient:sighting-${n}`, schema_version: '1.3.30', confidence: 'High', count: 1,
  observed_time: { start_time: T, end_time: T }, external_ids: [`spycloud-record-${n}`], tlp: 'amber', ...extra,
});
const incident = (extra: Record<string, unknown> = {}) => ({
  type: 'incident', id: 'transient:incident-1', schema_version: '1.3.30', confidence: 'High', status: 'New',
  incident_time: { opened: T }, external_ids: ['spycloud-incident-1'], tlp: 'amber', ...extra,
});
const member = (n: number, target = 'transient:incident-1') => ({
  type: 'relationship', id: `transient:relationship-${n}`, schema_version: '1.3.30', relationship_type: 'member-of',
  source_ref: `transient:sighting-${n}`, target_ref: target, external_ids: [`spycloud-member-${n}`], tlp: 'amber',
});
const bundle = (parts: Record<string, unknown[]>) => ({ type: 'bundle', source: 'test', ...parts });

describe('the XDR sandbox', () => {
  it('gives a token for the right client credentials only', async () => {
    const xdr = await sandbox();
    const good = await tokenOf(xdr);
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ token_type: 'bearer', expires_in: 600, access_token: expect.any(String) });
    expect(await tokenOf(xdr, SANDBOX_XDR_CLIENT_ID, 'wrong')).toMatchObject({ status: 400, body: { error: 'invalid_client' } });
    expect(xdr.calls.token).toBe(2);
  });

  it('creates, then answers exists without updating; references to existing entities become stored ids', async () => {
    const xdr = await sandbox();
    const token = (await tokenOf(xdr)).body.access_token as string;
    const first = await importBundle(xdr, token, bundle({ incidents: [incident()], sightings: [sighting(1)], relationships: [member(1)] }));
    expect(first.status).toBe(200);
    expect(first.body.results?.map((r) => r.result)).toEqual(['created', 'created', 'created']);
    const incidentId = first.body.results?.find((r) => r.type === 'incident')?.id;
    // Again, with a changed title and a new member: the incident exists (not updated), the new member points at it.
    const second = await importBundle(xdr, token, bundle({
      incidents: [incident({ id: 'transient:incident-other', title: 'changed' })],
      sightings: [sighting(2)],
      relationships: [member(2, 'transient:incident-other')],
    }));
    expect(second.body.results?.map((r) => [r.type, r.result])).toEqual([['incident', 'exists'], ['sighting', 'created'], ['relationship', 'created']]);
    const stored = [...xdr.stored.values()];
    expect(stored.filter((e) => e.type === 'incident')).toHaveLength(1);
    expect(stored.find((e) => e.type === 'incident')?.entity.title).toBeUndefined();
    expect(stored.filter((e) => e.type === 'relationship').map((e) => e.entity.target_ref)).toEqual([incidentId, incidentId]);
  });

  it('checks exists against what was stored before the bundle: one external id twice in a bundle is created twice, as CTIA does', async () => {
    const xdr = await sandbox();
    const token = (await tokenOf(xdr)).body.access_token as string;
    const answer = await importBundle(xdr, token, bundle({ incidents: [incident(), incident({ id: 'transient:incident-2' })] }));
    expect(answer.body.results?.map((r) => r.result)).toEqual(['created', 'created']);
    expect([...xdr.stored.values()].filter((e) => e.type === 'incident')).toHaveLength(2);
    const again = await importBundle(xdr, token, bundle({ incidents: [incident({ id: 'transient:incident-3' })] }));
    expect(again.body.results?.map((r) => r.result)).toEqual(['exists']);
  });

  it('refuses the whole bundle (400) on a schema error, storing nothing', async () => {
    const xdr = await sandbox();
    const token = (await tokenOf(xdr)).body.access_token as string;
    const broken = [
      sighting(2, { colour: 'red' }),
      sighting(2, { severity: null }),
      sighting(2, { data: { columns: [{ name: 'password', type: 'string' }], rows: [[null]] } }),
      sighting(2, { confidence: 'Sure' }),
      { ...sighting(2), count: undefined },
    ];
    for (const bad of broken) {
      const answer = await importBundle(xdr, token, bundle({ sightings: [sighting(1), JSON.parse(JSON.stringify(bad))] }));
      expect(answer.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await importBundle(xdr, token, bundle({ judgements: [] }))).status).toBe(400);
    expect(xdr.stored.size).toBe(0);
  });

  it('fails only the entity past a limit, or new with a non-transient id', async () => {
    const xdr = await sandbox();
    const token = (await tokenOf(xdr)).body.access_token as string;
    const answer = await importBundle(xdr, token, bundle({
      sightings: [
        sighting(1, { title: 'x'.repeat(1025) }),
        sighting(2, { tlp: 'white' }),
        sighting(3, { observed_time: { start_time: '2525-06-01T00:00:00.000000Z' } }),
        sighting(4, { id: 'https://private.intel.amp.cisco.com/ctia/sighting/sighting-4' }),
        sighting(5),
      ],
    }));
    expect(answer.status).toBe(200);
    expect(answer.body.results?.map((r) => r.result)).toEqual(['error', 'error', 'error', 'error', 'created']);
    expect(xdr.stored.size).toBe(1);
  });

  it(`refuses a bundle of more than ${MAX_BUNDLE_ENTITIES} entities, and an expired or unknown token`, async () => {
    let now = Date.parse('2026-06-01T00:00:00Z');
    const xdr = await sandbox({ now: () => now, tokenLifetimeS: 60 });
    const token = (await tokenOf(xdr)).body.access_token as string;
    const many = Array.from({ length: MAX_BUNDLE_ENTITIES + 1 }, (_, n) => sighting(n));
    expect((await importBundle(xdr, token, bundle({ sightings: many }))).status).toBe(400);
    expect((await importBundle(xdr, 'not-a-token', bundle({ sightings: [] }))).status).toBe(401);
    now += 61_000;
    expect(await importBundle(xdr, token, bundle({ sightings: [sighting(1)] }))).toMatchObject({ status: 401, body: { error: 'jwt_expired' } });
    expect(xdr.stored.size).toBe(0);
  });
});
