// What one enrichment found → the `data` of the answer and its warnings
// (RELAY.md §5, §6). Pure: ids and the request time are handed in.
import type { ErrorDoc } from '../errors.js';
import type { Observable } from '../observe.js';
import type { PasswordDisplay } from '../password-display.js';
import type { BreachRecord, Catalog, CatalogLookup } from '../spycloud/types.js';
import { toIndicator, type IndicatorMemo, type Indicator } from './indicator.js';
import { toRelationship, type Relationship } from './relationship.js';
import { catalogView, sharedParts, toSighting, type CatalogView, type FieldRules, type SharedParts, type Sighting } from './sighting.js';
import { idText } from './common.js';
import { ctimTime, type CtimTimeOf } from './time.js';

export interface Findings {
  observable: Observable;
  /** The records to show, already chosen (newest first, within the entities limit). */
  records: readonly BreachRecord[];
  /** CTIM time of each record's `spycloud_publish_date`, when already read (to sort them). */
  publishedAt?: readonly (string | undefined)[];
  catalogs: ReadonlyMap<string, CatalogLookup>;
}

export interface BundleContext {
  newId: () => string;
  /** CTIM time of the request: the observed time of a record with no date anywhere. */
  requestTime: string;
  passwordDisplay: PasswordDisplay;
  /** Reads SpyCloud times; a remembering one saves parsing the same dates again. */
  time?: CtimTimeOf;
  /** Indicators made once per catalog; without it each answer makes its own. */
  indicators?: IndicatorMemo;
}

const docs = <T>(items: T[]) => ({ count: items.length, docs: items });

export const catalogIdOf = (record: BreachRecord): string | undefined =>
  idText(record.source_id);

/**
 * Builds one answer observable by observable, so that the caller can give other
 * requests a turn between observables of a large investigation.
 */
export class AnswerBuilder {
  private readonly sightings: Sighting[] = [];
  private readonly indicators = new Map<string, Indicator>();
  private readonly relationships: Relationship[] = [];
  private readonly warnings = new Map<string, ErrorDoc>();
  /** Each catalog's part of its sightings, worked out once per answer. */
  private readonly views = new Map<Catalog | undefined, CatalogView>();
  /** The data table's rule per field name, for this answer's password display. */
  private readonly rules: FieldRules = new Map();

  constructor(private readonly context: BundleContext) {}

  get sightingCount(): number {
    return this.sightings.length;
  }

  add({ observable, records, catalogs, publishedAt }: Findings): void {
    const { context, warnings, indicators } = this;
    const time = context.time ?? ctimTime;
    const observables = [{ type: observable.type, value: observable.value }];
    const byTime = new Map<string, SharedParts>();
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as BreachRecord;
      const catalogId = catalogIdOf(record);
      const lookup = catalogId === undefined ? undefined : catalogs.get(catalogId);
      const catalog = lookup?.status === 'found' ? lookup.catalog : undefined;
      if (catalogId !== undefined && lookup?.status !== 'found' && !warnings.has(catalogId)) {
        warnings.set(catalogId, lookup?.status === 'failed'
          ? { type: 'warning', code: 'unknown', message: `SpyCloud catalog ${catalogId} could not be fetched: ${lookup.reason}` }
          : { type: 'warning', code: 'not found', message: `SpyCloud did not return results for ${catalogId}` });
      }
      const observedAt = (publishedAt === undefined ? time(record.spycloud_publish_date) : publishedAt[i])
        ?? time(catalog?.spycloud_publish_date) ?? context.requestTime;
      let shared = byTime.get(observedAt);
      if (shared === undefined) {
        shared = sharedParts(observables, observedAt);
        byTime.set(observedAt, shared);
      }
      let view = this.views.get(catalog);
      if (view === undefined) {
        view = catalogView(catalog);
        this.views.set(catalog, view);
      }
      const sighting = toSighting({ record, catalog, observable, observedAt, id: context.newId(), passwordDisplay: context.passwordDisplay, view, rules: this.rules, shared });
      this.sightings.push(sighting);
      if (catalog === undefined || catalogId === undefined) continue;
      let indicator = indicators.get(catalogId);
      if (indicator === undefined) {
        indicator = context.indicators?.of(catalog, context.requestTime) ?? toIndicator(catalog, context.requestTime);
        indicators.set(catalogId, indicator);
      }
      this.relationships.push(toRelationship(context.newId(), sighting.id, indicator.id));
    }
  }

  /** Adds a warning about the answer as a whole (e.g. one observable's 422), in the order it arose. */
  warn(warning: ErrorDoc): void {
    this.warnings.set(`\u0000${this.warnings.size}`, warning);
  }

  /** The answer's `data` (each key only when non-empty) and its warnings in the order they arose. */
  result(): { data: Record<string, unknown>; warnings: ErrorDoc[] } {
    const data: Record<string, unknown> = {};
    if (this.sightings.length > 0) data.sightings = docs(this.sightings);
    if (this.indicators.size > 0) data.indicators = docs([...this.indicators.values()]);
    if (this.relationships.length > 0) data.relationships = docs(this.relationships);
    return { data, warnings: [...this.warnings.values()] };
  }
}

/** The whole answer of some findings at once. */
export function bundle(findings: readonly Findings[], context: BundleContext) {
  const builder = new AnswerBuilder(context);
  for (const one of findings) builder.add(one);
  return builder.result();
}
