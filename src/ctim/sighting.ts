// Breach record (+ its catalog) → CTIM Sighting (RELAY.md §6). Pure.
import type { Observable } from '../observe.js';
import type { BreachRecord, Catalog } from '../spycloud/types.js';
import { SCHEMA_VERSION, catalogUri, idText, isDefined, isPresent } from './common.js';

/** Fields that are identifiers or shown elsewhere in the sighting, so not repeated in its table. */
const NOT_IN_TABLE = new Set([
  'sighting', 'infected_machine_id', 'email_domain', 'domain', 'email_username',
  'document_id', 'source_id', 'spycloud_publish_date', 'severity',
]);

export function severity(record: BreachRecord, catalog: Catalog | undefined): string {
  if (catalog?.combo_list_flag) return 'Medium';
  const value = record.severity;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return 'Unknown';
  if (value < 3) return 'Low';
  if (value < 6) return 'Medium';
  if (value < 26) return 'High';
  return 'Critical';
}

/** The site itself, or its host name when it is a URL. */
export function siteHost(site: string): string {
  if (!/^https?:\/\//i.test(site)) return site;
  try {
    return new URL(site).hostname;
  } catch {
    return site;
  }
}

export function recordTable(record: BreachRecord) {
  const fields = Object.entries(record).filter(([name]) => !NOT_IN_TABLE.has(name));
  return {
    columns: fields.map(([name]) => ({ name, type: 'string' })),
    rows: [fields.map(([, value]) => value)],
  };
}

export interface SightingInput {
  record: BreachRecord;
  catalog: Catalog | undefined;
  observable: Observable;
  /** Already in CTIM form: the record's, its catalog's, or the request's time. */
  observedAt: string;
  id: string;
}

export function toSighting({ record, catalog, observable, observedAt, id }: SightingInput) {
  const observables = [{ type: observable.type, value: observable.value }];
  const observedTime = { start_time: observedAt, end_time: observedAt };
  const site = catalog?.site;
  const externalIds = [record.document_id, record.source_id, record.infected_machine_id].map(idText).filter(isDefined);
  const uri = catalogUri(catalog);
  return {
    type: 'sighting',
    id: `transient:sighting-${id}`,
    schema_version: SCHEMA_VERSION,
    source: 'Spycloud',
    title: 'Reported to Spycloud',
    confidence: 'High',
    internal: false,
    count: record.sighting ? record.sighting : 1,
    observables,
    observed_time: observedTime,
    targets: [{ type: observable.type, observables, observed_time: observedTime }],
    severity: severity(record, catalog),
    description: isPresent(catalog?.title) ? `Present in ${String(catalog?.title)}` : 'Present in breach',
    ...(uri === undefined ? {} : { source_uri: uri }),
    external_ids: externalIds,
    relations: typeof site === 'string' && site !== '' && site !== 'n/a'
      ? [{
          origin: 'Spycloud Breach Module',
          relation: 'Leaked_From',
          source: observables[0],
          related: { type: 'domain', value: siteHost(site) },
        }]
      : [],
    data: recordTable(record),
  };
}

export type Sighting = ReturnType<typeof toSighting>;
