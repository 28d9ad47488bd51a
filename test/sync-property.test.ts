// Property-based: whatever SpyCloud's watchlist records and catalogs say, every
// entity the sync would import obeys CTIM's rules as CTIA checks them (RELAY.md §6,
// §10) — required fields, vocabularies, no null, lengths, 1970–2525 times, TLP
// amber, `spycloud-` external ids — no password reaches XDR with the default
// display, and bundles keep each incident with its members under 1,000 entities.
// The rules are restated here, independently of the sync's code.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CatalogLookup } from '../src/spycloud/types.js';
import { bundlesOf, type Bundle } from '../src/sync/bundles.js';
import { incidentGroups, skipReason } from '../src/sync/mapping.js';

const RUNS = 150;
const NOW = '2026-06-15T12:00:00.000000Z';
const SEVERITIES = ['Info', 'Low', 'Medium', 'High', 'Critical', 'None', 'Unknown'];
const CONFIDENCES = ['Info', 'Low', 'Medium', 'High', 'None', 'Unknown'];
const CTIM_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
/** Every generated password carries this mark, which nothing else does. */
const PASSWORD_MARK = 'Pw§';

type Entity = Record<string, any>;

const COMMON = ['type', 'id', 'schema_version', 'external_ids', 'tlp', 'title', 'short_description', 'description', 'source', 'source_uri', 'external_references'];
const KEYS: Record<string, { required: string[]; optional: string[] }> = {
  incident: { required: ['type', 'id', 'schema_version', 'confidence', 'status', 'incident_time'], optional: [...COMMON, 'severity', 'promotion_method'] },
  sighting: {
    required: ['type', 'id', 'schema_version', 'confidence', 'count', 'observed_time'],
    optional: [...COMMON, 'severity', 'internal', 'observables', 'targets', 'relations', 'data'],
  },
  indicator: { required: ['type', 'id', 'schema_version', 'producer', 'valid_time'], optional: [...COMMON, 'confidence', 'tags'] },
  relationship: { required: ['type', 'id', 'schema_version', 'relationship_type', 'source_ref', 'target_ref'], optional: COMMON },
};

const inRange = (time: unknown) => typeof time === 'string' && CTIM_TIME.test(time) && time >= '1970-01-01' && time <= '2525-01-01T00:00:00.000000Z';
const observable = (o: Entity) => typeof o?.type === 'string' && typeof o.value === 'string' && o.value !== '';

/** No null anywhere: CTIA refuses a whole bundle with one. */
function noNull(value: unknown, path: string): void {
  expect(value, path).not.toBeNull();
  if (Array.isArray(value)) value.forEach((v, n) => noNull(v, `${path}[${n}]`));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) noNull(v, `${path}.${k}`);
}

function expectCtim(entity: Entity): void {
  const keys = KEYS[entity.type];
  expect(keys, entity.type).toBeDefined();
  for (const key of keys?.required ?? []) expect(entity, `${entity.type} lacks ${key}`).toHaveProperty(key);
  for (const key of Object.keys(entity)) expect([...(keys?.required ?? []), ...(keys?.optional ?? [])], `${entity.type}.${key}`).toContain(key);
  noNull(entity, entity.type);
  expect(entity.id).toMatch(new RegExp(`^transient:${entity.type}-`));
  expect(entity.tlp).toBe('amber');
  expect(entity.external_ids).toHaveLength(1);
  expect(entity.external_ids[0]).toMatch(/^spycloud-(incident|record|member|rel|catalog)-/);
  for (const [name, max] of [['title', 1024], ['short_description', 2048], ['description', 5000]] as const) {
    if (name in entity) {
      expect(typeof entity[name], name).toBe('string');
      expect(entity[name].length, name).toBeLessThanOrEqual(max);
    }
  }
  if ('severity' in entity) expect(SEVERITIES).toContain(entity.severity);
  if ('confidence' in entity) expect(CONFIDENCES).toContain(entity.confidence);
  if ('source_uri' in entity) expect(URL.canParse(entity.source_uri)).toBe(true);
  for (const ref of entity.external_references ?? []) {
    expect(typeof ref.source_name).toBe('string');
    if ('description' in ref) expect(typeof ref.description).toBe('string');
    if ('url' in ref) expect(new URL(ref.url).protocol).toBe('https:');
  }
  switch (entity.type) {
    case 'incident':
      expect(['New', 'Open', 'Stalled', 'Containment Achieved', 'Restoration Achieved', 'Incident Reported', 'Closed', 'Rejected', 'Hold']).toContain(entity.status);
      expect(entity.promotion_method).toBe('Automated');
      expect(inRange(entity.incident_time.opened) && inRange(entity.incident_time.discovered)).toBe(true);
      break;
    case 'sighting':
      expect(Number.isSafeInteger(entity.count) && entity.count >= 0).toBe(true);
      expect(inRange(entity.observed_time.start_time) && inRange(entity.observed_time.end_time)).toBe(true);
      expect(entity.observables.every(observable)).toBe(true);
      for (const target of entity.targets) {
        expect(typeof target.type).toBe('string');
        expect(target.observables.every(observable)).toBe(true);
        expect(inRange(target.observed_time.start_time)).toBe(true);
      }
      for (const relation of entity.relations) expect(observable(relation.source) && observable(relation.related)).toBe(true);
      expect(entity.data.columns.every((c: Entity) => typeof c.name === 'string' && c.type === 'string')).toBe(true);
      for (const row of entity.data.rows) expect(row).toHaveLength(entity.data.columns.length);
      break;
    case 'indicator':
      expect(typeof entity.producer).toBe('string');
      expect(inRange(entity.valid_time.start_time)).toBe(true);
      expect(entity.tags.every((t: unknown) => typeof t === 'string')).toBe(true);
      break;
    case 'relationship':
      expect(['member-of', 'sighting-of']).toContain(entity.relationship_type);
      break;
  }
}

const anyDate = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());
const anyText = fc.oneof(fc.string(), fc.string({ minLength: 900, maxLength: 6000 }));
const password = fc.string({ minLength: 1, maxLength: 12 }).map((s) => `${PASSWORD_MARK}${s}`);
const sourceId = fc.oneof(fc.constantFrom(1, 2, 3, '4'), fc.integer(), fc.string(), fc.jsonValue());

/** Any field may be missing or of any type. */
const wildRecord = fc.record({
  email: fc.oneof(fc.emailAddress(), fc.string(), fc.jsonValue()),
  username: fc.oneof(fc.string(), fc.jsonValue()),
  document_id: fc.oneof(fc.uuid(), fc.string(), fc.integer(), fc.jsonValue()),
  source_id: sourceId,
  severity: fc.oneof(fc.constantFrom(20, 25, 30), fc.integer({ min: -5, max: 40 }), fc.double(), fc.jsonValue()),
  spycloud_publish_date: fc.oneof(anyDate, fc.string(), fc.jsonValue()),
  sighting: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string(), fc.jsonValue()),
  infected_machine_id: fc.oneof(fc.uuid(), fc.jsonValue()),
  password,
  password_plaintext: password,
  passwords: fc.array(password, { maxLength: 3 }),
  salt: password,
  password_type: fc.constantFrom('plaintext', 'bcrypt', 'sha1'),
  target_domain: fc.oneof(fc.domain(), fc.string()),
  user_os: fc.string(),
  extra: fc.jsonValue(),
}, { requiredKeys: [] });
/** One that is kept, sharing identities, sources and documents with others, its other fields wild. */
const keptRecord = fc.tuple(wildRecord, fc.record({
  email: fc.constantFrom('a@example.org', 'B@Example.org', 'b@example.org'),
  source_id: fc.constantFrom(1, 2, 3, '4'),
  document_id: fc.constantFrom('d1', 'd2', 'd3', 4),
  severity: fc.integer({ min: 20, max: 40 }),
})).map(([wild, kept]) => ({ ...wild, ...kept }));
const records = fc.array(fc.oneof(wildRecord, keptRecord), { maxLength: 40 });

const catalog = (id: string) => fc.record({
  id: fc.constant(id),
  uuid: fc.oneof(fc.uuid(), fc.string(), fc.jsonValue()),
  title: fc.oneof(anyText, fc.jsonValue()),
  description: fc.oneof(anyText, fc.jsonValue()),
  site: fc.oneof(fc.domain(), fc.webUrl(), fc.constant('n/a'), fc.string(), fc.jsonValue()),
  site_description: fc.oneof(fc.string(), fc.jsonValue()),
  confidence: fc.oneof(fc.constantFrom(1, 2, 3), fc.jsonValue()),
  spycloud_publish_date: fc.oneof(anyDate, fc.string(), fc.jsonValue()),
  combo_list_flag: fc.jsonValue(),
  assets: fc.oneof(fc.dictionary(fc.string(), fc.nat()), fc.jsonValue()),
}, { requiredKeys: ['id'] });

const lookup: (id: string) => fc.Arbitrary<CatalogLookup> = (id) => fc.oneof(
  catalog(id).map((c): CatalogLookup => ({ status: 'found', catalog: c })),
  fc.constant<CatalogLookup>({ status: 'missing' }),
  fc.constant<CatalogLookup>({ status: 'failed', reason: 'down' }),
);
const catalogs = fc.tuple(lookup('1'), lookup('2'), lookup('3'), lookup('4'))
  .map((lookups) => new Map(lookups.map((l, n) => [String(n + 1), l])));

function entitiesOf(bundle: Bundle): Entity[] {
  return [...bundle.incidents, ...bundle.sightings, ...bundle.indicators, ...bundle.relationships] as Entity[];
}

describe('the sync’s CTIM (property-based)', () => {
  it('every entity obeys CTIM, whatever the records and catalogs say, and no password is sent', () => {
    let counter = 0;
    fc.assert(fc.property(records, catalogs, fc.integer({ min: 0, max: 30 }), (all, lookups, minSeverity) => {
      const kept = all.filter((record) => skipReason(record, minSeverity) === undefined);
      const groups = incidentGroups(kept, lookups, { newId: () => `id-${++counter}`, now: NOW, passwordDisplay: 'hidden' });
      const bundles = bundlesOf(groups, 50);
      let sightings = 0;
      const once = new Set<string>();
      for (const bundle of bundles) {
        // A sighting or relationship is sent once (an incident or indicator again with each bundle that needs it).
        for (const entity of [...bundle.sightings, ...bundle.relationships]) {
          expect(once.has(entity.external_ids[0] as string)).toBe(false);
          once.add(entity.external_ids[0] as string);
        }
        const entities = entitiesOf(bundle);
        expect(entities.length).toBeLessThanOrEqual(50);
        for (const entity of entities) expectCtim(entity);
        // Each incident travels with its members, and every reference points into the bundle.
        const ids = new Set(entities.map((e) => e.id));
        for (const rel of bundle.relationships) expect(ids.has(rel.source_ref) && ids.has(rel.target_ref)).toBe(true);
        for (const sighting of bundle.sightings) {
          expect(bundle.relationships.some((r) => r.relationship_type === 'member-of' && r.source_ref === sighting.id)).toBe(true);
        }
        expect(JSON.stringify(bundle)).not.toContain(PASSWORD_MARK);
        sightings += bundle.sightings.length;
      }
      expect(sightings).toBe(new Set(kept.map((r) => String(r.document_id))).size);
    }), { numRuns: RUNS });
  });

  it('splits a group too large for one bundle, each part with its incident and indicator', () => {
    const many = Array.from({ length: 700 }, (_, n) => ({ email: 'a@example.org', source_id: 1, document_id: `d${n}`, severity: 25 }));
    const found = new Map<string, CatalogLookup>([['1', { status: 'found', catalog: { id: 1, title: 'T', spycloud_publish_date: '2026-01-01T00:00:00Z' } }]]);
    let n = 0;
    const groups = incidentGroups(many, found, { newId: () => `x${++n}`, now: NOW, passwordDisplay: 'hidden' });
    expect(groups).toHaveLength(1);
    const bundles = bundlesOf(groups);
    expect(bundles.length).toBe(3);
    for (const bundle of bundles) {
      expect(entitiesOf(bundle).length).toBeLessThanOrEqual(1000);
      expect(bundle.incidents).toHaveLength(1);
      expect(bundle.indicators).toHaveLength(1);
    }
    expect(bundles.reduce((s, b) => s + b.sightings.length, 0)).toBe(700);
  });
});
