// Tile aggregate → the tile-data shapes XDR draws (RELAY.md §9). Pure: catalogs
// and the cache lifetime are given.
import { catalogUri, isPresent } from '../ctim/common.js';
import { ctimTimeOf } from '../ctim/time.js';
import type { ErrorDoc } from '../errors.js';
import type { CatalogLookup } from '../spycloud/types.js';
import { LEVELS, type LevelCounts, type TileAggregate } from './aggregate.js';
import { bucketLabel, bucketStart } from './window.js';

const PORTAL = 'https://portal.spycloud.com';
const MAX_CELL = 200;

/** What every tile-data answer carries besides its type's fields. */
export function frame(aggregate: TileAggregate, cacheTtlS: number) {
  const { window } = aggregate;
  return {
    observed_time: { start_time: ctimTimeOf(window.startMs), end_time: ctimTimeOf(window.endMs) },
    // The figures are as of the window's end and are served from the cache until then + TTL.
    valid_time: { start_time: ctimTimeOf(window.endMs), end_time: ctimTimeOf(window.endMs + cacheTtlS * 1000) },
    cache_scope: 'org',
    period: window.period,
  };
}

export const truncationWarning = (records: number): ErrorDoc => ({
  type: 'warning',
  code: 'too many results',
  message: `Only the first ${records} records SpyCloud returned for the period were counted.`,
});

export function exposureMetrics({ exposure }: TileAggregate) {
  // Counts of things: XDR draws each with its icon and as a whole number.
  const metric = (label: string, icon: string, value: number) => ({ icon, label, value, value_unit: 'integer', link_uri: PORTAL });
  return {
    data: [
      metric('Exposed records', 'warning', exposure.records),
      metric('Exposed identities', 'user', exposure.identities),
      metric('Infected machines', 'desktop', exposure.infectedMachines),
      metric('Stolen session cookies', 'key', exposure.sessionCookies),
      metric('Plaintext passwords', 'lock', exposure.plaintextPasswords),
    ],
  };
}

export function severityBars({ bySeverity }: TileAggregate) {
  return {
    key_type: 'string',
    keys: [{ key: 'records', label: 'Records' }],
    data: LEVELS.filter((level) => bySeverity[level] > 0).map((level) => ({
      key: level,
      label: level,
      value: bySeverity[level],
      values: [{ key: 'records', value: bySeverity[level], tooltip: `${level}: ${bySeverity[level]}` }],
    })),
  };
}

const total = (counts: LevelCounts): number => LEVELS.reduce((sum, level) => sum + counts[level], 0);

export function timelineBars(aggregate: TileAggregate) {
  const { window, timeline } = aggregate;
  // The legend lists only the levels some bar of the period has: a key with no bar would explain nothing.
  const levels = LEVELS.filter((level) => timeline.some((counts) => counts[level] > 0));
  return {
    key_type: 'timestamp',
    keys: levels.map((level) => ({ key: level.toLowerCase(), label: level })),
    data: timeline.map((counts, index) => ({
      key: bucketStart(window, index),
      label: bucketLabel(window, index),
      value: total(counts),
      values: levels.filter((level) => counts[level] > 0)
        .map((level) => ({ key: level.toLowerCase(), value: counts[level], tooltip: `${level}: ${counts[level]}` })),
    })),
  };
}

/** Text safe in one markdown table cell: one line, markdown's special characters escaped. */
export function cell(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const cut = line.length > MAX_CELL ? `${line.slice(0, MAX_CELL - 1)}…` : line;
  return cut.replace(/[\\`*_{}[\]()<>#!|~]/g, (c) => `\\${c}`);
}

const dateOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const minuteOf = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** The catalog's title (linked to its portal page), else the source id. */
function breachName(sourceId: string, lookup: CatalogLookup | undefined): string {
  if (lookup?.status !== 'found' || !isPresent(lookup.catalog.title)) return cell(sourceId);
  const title = cell(String(lookup.catalog.title));
  const uri = catalogUri(lookup.catalog);
  // A uuid of anything but letters, digits and dashes could break out of the link.
  return uri !== undefined && /\/[A-Za-z0-9-]+$/.test(uri) ? `[${title}](${uri})` : title;
}

export function topBreachesTable(aggregate: TileAggregate, catalogs: ReadonlyMap<string, CatalogLookup>) {
  return {
    data: [
      '| Breach | Records | Published |',
      '| --- | ---: | --- |',
      ...aggregate.topBreaches.map((source) =>
        `| ${breachName(source.sourceId, catalogs.get(source.sourceId))} | ${source.records} | ${dateOf(source.newestMs)} |`),
    ],
  };
}

export function topIdentitiesTable(aggregate: TileAggregate) {
  return {
    data: [
      '| Identity | Records | Worst severity | Newest |',
      '| --- | ---: | --- | --- |',
      ...aggregate.topIdentities.map((exposed) =>
        `| ${cell(exposed.identity)} | ${exposed.records} | ${exposed.worst} | ${minuteOf(exposed.newestMs)} |`),
    ],
  };
}
