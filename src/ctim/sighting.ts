// Breach record (+ its catalog) → CTIM Sighting (RELAY.md §6). Pure.
import type { Observable } from '../observe.js';
import { isPasswordColumn, type PasswordDisplay } from '../password-display.js';
import type { BreachRecord, Catalog } from '../spycloud/types.js';
import { MAX_DESCRIPTION, SCHEMA_VERSION, catalogUri, cut, idText, isDefined, textOf } from './common.js';
import { siteHost } from './site.js';

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

/** `count`: the record's `sighting` when it is a positive whole number (CTIM wants an integer), else 1. */
const sightingCount = (value: unknown): number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 1;

/**
 * A value without the nulls inside it (CTIM documents carry none); primitives and
 * arrays of primitives, the usual values, come back as they are.
 */
function withoutNulls(value: object): unknown {
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== 'object')) {
      return value.includes(null) ? value.filter((item) => item !== null) : value;
    }
    return value.filter((item) => item !== null).map((item) => (typeof item === 'object' ? withoutNulls(item as object) : item));
  }
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== null) copy[key] = typeof item === 'object' ? withoutNulls(item as object) : item;
  }
  return copy;
}

/**
 * First and last character kept, every other one `*`; 3 characters or fewer: all `*`.
 * Arrays stay arrays of masked values; anything else is masked as its JSON text.
 */
function masked(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(masked);
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  // Counted by code point (an emoji stays whole); without surrogates a code unit is one.
  const chars = /[\ud800-\udfff]/.test(text) ? Array.from(text) : text;
  if (chars.length <= 3) return '*'.repeat(chars.length);
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars.at(-1)}`;
}

/** `salt` only helps crack a hash; `hidden` drops every password column but its type. */
function isShown(column: string, display: PasswordDisplay): boolean {
  if (display === 'plaintext') return true;
  if (column.toLowerCase() === 'salt') return false;
  return display === 'masked' || !isPasswordColumn(column);
}

/** What the table does with a field: leave it out, show it, or show it masked. */
type FieldRule = 'out' | 'shown' | 'masked';

/** The columns `masked` stars out are those `hidden` drops: every `password…` but its type. */
function fieldRule(name: string, display: PasswordDisplay): FieldRule {
  if (NOT_IN_TABLE.has(name) || !isShown(name, display)) return 'out';
  return display === 'masked' && isPasswordColumn(name) ? 'masked' : 'shown';
}

/** Field names → their rule, for one display mode; the records of one answer share their field names. */
export type FieldRules = Map<string, FieldRule>;

export function recordTable(record: BreachRecord, display: PasswordDisplay, rules: FieldRules = new Map()) {
  // One pass, no intermediate arrays: this runs once per sighting.
  const columns: Array<{ name: string; type: 'string' }> = [];
  const row: unknown[] = [];
  for (const name in record) {
    if (!Object.hasOwn(record, name)) continue;
    let rule = rules.get(name);
    if (rule === undefined) {
      rule = fieldRule(name, display);
      rules.set(name, rule);
    }
    if (rule === 'out') continue;
    let value = record[name];
    // A null is no value: the column is left out, as a missing field is.
    if (value === null) continue;
    if (typeof value === 'object') value = withoutNulls(value);
    columns.push({ name, type: 'string' });
    row.push(rule === 'masked' ? masked(value) : value);
  }
  return { columns, rows: [row] };
}

export interface SightingInput {
  record: BreachRecord;
  catalog: Catalog | undefined;
  observable: Observable;
  /** Already in CTIM form: the record's, its catalog's, or the request's time. */
  observedAt: string;
  id: string;
  passwordDisplay: PasswordDisplay;
  /** catalogView(catalog), when the caller keeps it for every sighting of the catalog. */
  view?: CatalogView;
  /** The table's field rules for `passwordDisplay`, when the caller keeps them for every record of an answer. */
  rules?: FieldRules;
  /** Parts equal for every sighting of the observable at `observedAt`, when the caller shares them. */
  shared?: SharedParts;
}

/** What the sightings of one observable at one time have in common (the same JSON, so one object will do). */
export interface SharedParts {
  observables: Observable[];
  observedTime: { start_time: string; end_time: string };
  /** `targets` when the target is the queried observable itself. */
  queriedTargets: Array<{ type: string; observables: Observable[]; observed_time: { start_time: string; end_time: string } }>;
}

export function sharedParts(observables: Observable[], observedAt: string): SharedParts {
  const observedTime = { start_time: observedAt, end_time: observedAt };
  return { observables, observedTime, queriedTargets: [{ type: (observables[0] as Observable).type, observables, observed_time: observedTime }] };
}

/** Whose account the record is: its email when it has one, else what was asked about. */
function target(record: BreachRecord, queried: Observable): Observable {
  const { email } = record;
  return queried.type !== 'email' && typeof email === 'string' && email !== '' ? { type: 'email', value: email } : queried;
}

/** What a sighting takes from its catalog: the same for every sighting of that catalog. */
export interface CatalogView {
  description: string;
  sourceUri: string | undefined;
  /** The host the breach leaked from, for the `Leaked_From` relation. */
  leakedFrom: string | undefined;
}

export function catalogView(catalog: Catalog | undefined): CatalogView {
  const title = textOf(catalog?.title);
  return {
    description: title === undefined ? 'Present in breach' : cut(`Present in ${title}`, MAX_DESCRIPTION),
    sourceUri: catalogUri(catalog),
    leakedFrom: siteHost(catalog?.site),
  };
}

export function toSighting({
  record, catalog, observable, observedAt, id, passwordDisplay, view = catalogView(catalog), rules,
  shared = sharedParts([{ type: observable.type, value: observable.value }], observedAt),
}: SightingInput) {
  const { observables, observedTime } = shared;
  const targeted = target(record, observables[0] as Observable);
  const externalIds = [record.document_id, record.source_id, record.infected_machine_id].map(idText).filter(isDefined);
  const uri = view.sourceUri;
  return {
    type: 'sighting',
    id: `transient:sighting-${id}`,
    schema_version: SCHEMA_VERSION,
    source: 'Spycloud',
    title: 'Reported to Spycloud',
    confidence: 'High',
    internal: false,
    count: sightingCount(record.sighting),
    observables,
    observed_time: observedTime,
    targets: targeted === observables[0] ? shared.queriedTargets : [{ type: targeted.type, observables: [targeted], observed_time: observedTime }],
    severity: severity(record, catalog),
    description: view.description,
    ...(uri === undefined ? {} : { source_uri: uri }),
    external_ids: externalIds,
    relations: view.leakedFrom === undefined
      ? []
      : [{
          origin: 'Spycloud Breach Module',
          relation: 'Leaked_From',
          source: observables[0],
          related: { type: 'domain', value: view.leakedFrom },
        }],
    data: recordTable(record, passwordDisplay, rules),
  };
}

export type Sighting = ReturnType<typeof toSighting>;
