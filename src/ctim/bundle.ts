// What one enrichment found → the `data` of the answer and its warnings
// (RELAY.md §5, §6). Pure: ids and the request time are handed in.
import type { ErrorDoc } from '../errors.js';
import type { Observable } from '../observe.js';
import type { PasswordDisplay } from '../password-display.js';
import type { BreachRecord, CatalogLookup } from '../spycloud/types.js';
import { toIndicator, type Indicator } from './indicator.js';
import { toRelationship, type Relationship } from './relationship.js';
import { toSighting, type Sighting } from './sighting.js';
import { idText } from './common.js';
import { ctimTime } from './time.js';

export interface Findings {
  observable: Observable;
  /** The records to show, already chosen (newest first, within the entities limit). */
  records: readonly BreachRecord[];
  catalogs: ReadonlyMap<string, CatalogLookup>;
}

export interface BundleContext {
  newId: () => string;
  /** CTIM time of the request: the observed time of a record with no date anywhere. */
  requestTime: string;
  passwordDisplay: PasswordDisplay;
}

const docs = <T>(items: T[]) => ({ count: items.length, docs: items });

export const catalogIdOf = (record: BreachRecord): string | undefined =>
  idText(record.source_id);

export function bundle(findings: readonly Findings[], context: BundleContext) {
  const sightings: Sighting[] = [];
  const indicators = new Map<string, Indicator>();
  const relationships: Relationship[] = [];
  const warnings = new Map<string, ErrorDoc>();

  for (const { observable, records, catalogs } of findings) {
    for (const record of records) {
      const catalogId = catalogIdOf(record);
      const lookup = catalogId === undefined ? undefined : catalogs.get(catalogId);
      const catalog = lookup?.status === 'found' ? lookup.catalog : undefined;
      if (catalogId !== undefined && lookup?.status !== 'found' && !warnings.has(catalogId)) {
        warnings.set(catalogId, lookup?.status === 'failed'
          ? { type: 'warning', code: 'unknown', message: `SpyCloud catalog ${catalogId} could not be fetched: ${lookup.reason}` }
          : { type: 'warning', code: 'not found', message: `SpyCloud did not return results for ${catalogId}` });
      }
      const observedAt = ctimTime(record.spycloud_publish_date) ?? ctimTime(catalog?.spycloud_publish_date) ?? context.requestTime;
      const sighting = toSighting({ record, catalog, observable, observedAt, id: context.newId(), passwordDisplay: context.passwordDisplay });
      sightings.push(sighting);
      if (catalog === undefined || catalogId === undefined) continue;
      let indicator = indicators.get(catalogId);
      if (indicator === undefined) {
        indicator = toIndicator(catalog);
        indicators.set(catalogId, indicator);
      }
      relationships.push(toRelationship(context.newId(), sighting.id, indicator.id));
    }
  }

  const data: Record<string, unknown> = {};
  if (sightings.length > 0) data.sightings = docs(sightings);
  if (indicators.size > 0) data.indicators = docs([...indicators.values()]);
  if (relationships.length > 0) data.relationships = docs(relationships);
  return { data, warnings: [...warnings.values()] };
}
