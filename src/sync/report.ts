// What one sync run did (RELAY.md §10): counts only, never a record's contents,
// so the report can be logged and alerted on as it is.

export const ENTITY_TYPES = ['incident', 'sighting', 'relationship', 'indicator'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export interface EntityCounts {
  created: number;
  exists: number;
  errors: number;
  /** Dry run: what would have been sent. */
  planned: number;
}

export interface SyncReport {
  /** First day read, `YYYY-MM-DD` (UTC). */
  since: string;
  dryRun: boolean;
  pages: number;
  bundles: number;
  /** XDR tokens fetched. */
  tokens: number;
  records: { read: number; kept: number; belowSeverity: number; unusable: number };
  entities: Record<EntityType, EntityCounts>;
  /** entity: refused one by one; bundle: refused whole; catalog: could not be fetched; xdr, spycloud: ended the run. */
  errors: { entity: number; bundle: number; catalog: number; xdr: number; spycloud: number };
  /** What ended the run early (its message is the product's own, with no upstream text). */
  failure?: { source: 'xdr' | 'spycloud'; code: string; reason: string };
  /** Stopped by a signal before the last page. */
  stopped: boolean;
  durationMs: number;
}

export function emptyReport(since: string, dryRun: boolean): SyncReport {
  const counts = () => ({ created: 0, exists: 0, errors: 0, planned: 0 });
  return {
    since,
    dryRun,
    pages: 0,
    bundles: 0,
    tokens: 0,
    records: { read: 0, kept: 0, belowSeverity: 0, unusable: 0 },
    entities: { incident: counts(), sighting: counts(), relationship: counts(), indicator: counts() },
    errors: { entity: 0, bundle: 0, catalog: 0, xdr: 0, spycloud: 0 },
    stopped: false,
    durationMs: 0,
  };
}

/** Counts one entity's outcome; an outcome CTIA should not give counts as an error. */
export function tally(report: SyncReport, type: string, result: string): void {
  const counts = (ENTITY_TYPES as readonly string[]).includes(type) ? report.entities[type as EntityType] : undefined;
  const outcome = result === 'created' || result === 'exists' || result === 'planned' ? result : 'errors';
  if (counts !== undefined) counts[outcome] += 1;
  if (outcome === 'errors') report.errors.entity += 1;
}

/** Exit code 0: everything imported or already there. */
export const succeeded = (report: SyncReport): boolean => Object.values(report.errors).every((n) => n === 0);

/** The fields of the run's one log line (CLI and Lambda alike): counts only, no email, password or secret. */
export function reportLogFields(report: SyncReport) {
  return {
    since: report.since,
    dry_run: report.dryRun,
    records_read: report.records.read,
    records_kept: report.records.kept,
    records_below_severity: report.records.belowSeverity,
    records_unusable: report.records.unusable,
    pages: report.pages,
    bundles: report.bundles,
    tokens: report.tokens,
    incidents: report.entities.incident,
    sightings: report.entities.sighting,
    relationships: report.entities.relationship,
    indicators: report.entities.indicator,
    errors: report.errors,
    // The source and code only: a SpyCloud error's text may echo what it was sent.
    ...(report.failure === undefined ? {} : { failure: { source: report.failure.source, code: report.failure.code } }),
    stopped: report.stopped,
    duration_ms: report.durationMs,
  };
}

/** What went wrong, for the operator: counts and the product's own messages. */
export function reportProblems(report: SyncReport): string[] {
  const lines: string[] = [];
  if (report.failure !== undefined) {
    lines.push(`${report.failure.source === 'xdr' ? 'XDR' : 'SpyCloud'} failed, the run ended early: ${report.failure.reason}`);
  }
  const refused = ENTITY_TYPES.map((type) => [type, report.entities[type].errors] as const).filter(([, n]) => n > 0);
  // An error CTIA answered for a type it did not name (or one the sync does not send) counts too.
  const other = report.errors.entity - refused.reduce((sum, [, n]) => sum + n, 0);
  const counted = [...refused.map(([type, n]) => `${n} ${type}${n === 1 ? '' : 's'}`), ...(other > 0 ? [`${other} ${other === 1 ? 'entity' : 'entities'} of an unknown type`] : [])];
  if (counted.length > 0) {
    lines.push(`XDR refused ${counted.join(', ')}${report.errors.bundle > 0 ? ` (${report.errors.bundle} whole bundle${report.errors.bundle === 1 ? '' : 's'} as invalid CTIM)` : ''}; the next run tries them again.`);
  }
  if (report.errors.catalog > 0) {
    lines.push(`${report.errors.catalog} SpyCloud catalog${report.errors.catalog === 1 ? '' : 's'} could not be fetched; their incidents were imported without the breach's indicator.`);
  }
  return lines;
}
