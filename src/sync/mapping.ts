// Watchlist records + their catalogs → what the sync imports (RELAY.md §10): per
// (identity, breach source) one incident, its records as §6 sightings linked to it
// by `member-of`, and the catalog's §6 indicator linked by `sighting-of`. Every
// entity carries a deterministic `spycloud-` external id and TLP amber. Pure:
// ids and the run's time are handed in.
import { idText } from '../ctim/common.js';
import { toIndicator } from '../ctim/indicator.js';
import { toRelationship } from '../ctim/relationship.js';
import { toSighting } from '../ctim/sighting.js';
import { ctimTime } from '../ctim/time.js';
import type { Observable } from '../observe.js';
import type { PasswordDisplay } from '../password-display.js';
import { identityOf } from '../spycloud/identity.js';
import type { BreachRecord, Catalog, CatalogLookup } from '../spycloud/types.js';
import { toIncident, type Incident } from './incident.js';

export interface MappingContext {
  newId: () => string;
  /** CTIM time of the run: the incident's `opened`, and the time of a record with no date anywhere. */
  now: string;
  passwordDisplay: PasswordDisplay;
}

/** Why a record is not imported, or undefined when it is. */
export type Skip = 'below severity' | 'no identity' | 'no document id' | 'no source id';

export function skipReason(record: BreachRecord, minSeverity: number): Skip | undefined {
  const { severity } = record;
  if (typeof severity !== 'number' || !(severity >= minSeverity)) return 'below severity';
  if (identityOf(record) === undefined) return 'no identity';
  if (idText(record.document_id) === undefined) return 'no document id';
  if (idText(record.source_id) === undefined) return 'no source id';
  return undefined;
}

function withTlp<T extends Record<string, unknown>>(entity: T, externalId: string) {
  return { ...entity, external_ids: [externalId], tlp: 'amber' as const };
}

/** §6's indicator (CTIM's rules held whatever the catalog says), with the sync's external id. */
function syncIndicator(catalog: Catalog, now: string) {
  return withTlp(toIndicator(catalog, now), `spycloud-catalog-${idText(catalog.uuid) ?? String(catalog.id)}`);
}

export type SyncIndicator = ReturnType<typeof syncIndicator>;

function syncSighting(record: BreachRecord, catalog: Catalog | undefined, observable: Observable, context: MappingContext) {
  const observedAt = ctimTime(record.spycloud_publish_date) ?? ctimTime(catalog?.spycloud_publish_date) ?? context.now;
  const sighting = toSighting({ record, catalog, observable, observedAt, id: context.newId(), passwordDisplay: context.passwordDisplay });
  return withTlp(sighting, `spycloud-record-${idText(record.document_id) as string}`);
}

export type SyncSighting = ReturnType<typeof syncSighting>;

function relationship(type: 'member-of' | 'sighting-of', source: string, target: string, externalId: string, context: MappingContext) {
  return withTlp({ ...toRelationship(context.newId(), source, target), relationship_type: type }, externalId);
}

export type SyncRelationship = ReturnType<typeof relationship>;

/** One incident and everything that travels with it. */
export interface IncidentGroup {
  incident: Incident;
  /** Each sighting with its `member-of` and, with a catalog, its `sighting-of` relationship. */
  members: Array<{ sighting: SyncSighting; relationships: SyncRelationship[] }>;
  indicator: SyncIndicator | undefined;
}

/**
 * The groups of `records` (already kept: skipReason undefined), in order of first
 * record; a document met again is left out. `catalogs` holds the lookups of their source ids.
 */
export function incidentGroups(records: readonly BreachRecord[], catalogs: ReadonlyMap<string, CatalogLookup>, context: MappingContext): IncidentGroup[] {
  const byKey = new Map<string, { identity: Observable; sourceId: string; records: BreachRecord[] }>();
  // One sighting per document: two entities with one external id in a bundle would both be created.
  const documents = new Set<string>();
  for (const record of records) {
    const documentId = idText(record.document_id) as string;
    if (documents.has(documentId)) continue;
    documents.add(documentId);
    const identity = identityOf(record) as Observable;
    const sourceId = idText(record.source_id) as string;
    // By value, not type: the incident's external id hashes the value only, so an email and a
    // username alike must be one incident, not two with one external id.
    const key = `${sourceId}\u0000${identity.value}`;
    let group = byKey.get(key);
    if (group === undefined) {
      group = { identity, sourceId, records: [] };
      byKey.set(key, group);
    }
    group.records.push(record);
  }
  const indicators = new Map<string, SyncIndicator>();
  return [...byKey.values()].map(({ identity, sourceId, records: own }) => {
    const lookup = catalogs.get(sourceId);
    const catalog = lookup?.status === 'found' ? lookup.catalog : undefined;
    let indicator = indicators.get(sourceId);
    if (indicator === undefined && catalog !== undefined) {
      indicator = syncIndicator(catalog, context.now);
      indicators.set(sourceId, indicator);
    }
    const sightings = own.map((record) => syncSighting(record, catalog, identityOf(record) as Observable, context));
    const incident = toIncident({
      id: `transient:incident-${context.newId()}`,
      identity: identity.value,
      sourceId,
      catalog,
      records: own,
      severities: sightings.map((s) => s.severity),
      discovered: sightings.reduce((earliest, s) => (s.observed_time.start_time < earliest ? s.observed_time.start_time : earliest), context.now),
      opened: context.now,
    });
    const members = sightings.map((sighting, n) => {
      const documentId = idText(own[n]?.document_id) as string;
      const relationships = [relationship('member-of', sighting.id, incident.id, `spycloud-member-${documentId}`, context)];
      if (indicator !== undefined) relationships.push(relationship('sighting-of', sighting.id, indicator.id, `spycloud-rel-${documentId}`, context));
      return { sighting, relationships };
    });
    return { incident, members, indicator };
  });
}
