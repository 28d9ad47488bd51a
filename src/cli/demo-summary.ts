// The demo's readable summary of the relay's answers (RELAY.md §5, §9). Pure: it
// reads whatever the relay answered defensively, so an odd answer (an error, an
// empty one) is described, never a crash.

import { isPasswordColumn } from '../password-display.js';
import { breachTitles, SEVERITIES, tally } from './answer-reading.js';

export interface Answer {
  status: number;
  body: unknown;
}

type Doc = Record<string, unknown>;

const doc = (value: unknown): Doc => (typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Doc : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

const LABEL_WIDTH = 12;
/** Tile labels are longer ("Stolen session cookies"). */
const TILE_LABEL_WIDTH = 24;

const line = (label: string, value: string, width = LABEL_WIDTH) => `  ${label.padEnd(width)} ${value}`;
const tileLine = (label: string, value: string) => line(label, value, TILE_LABEL_WIDTH);

/** `2024-05-01T10:20:30.000000Z` → `2024-05-01 10:20 UTC`. */
const shortTime = (time: string): string => `${time.slice(0, 16).replace('T', ' ')} UTC`;

/** The `errors` of an envelope as `code: message` lines, warnings and fatal apart. */
function problems(body: Doc): { warnings: string[]; fatal: string[] } {
  const errors = list(body.errors).map(doc);
  const render = (e: Doc) => text(e.message) ?? text(e.code) ?? 'unnamed error';
  return {
    warnings: errors.filter((e) => e.type === 'warning').map(render),
    fatal: errors.filter((e) => e.type !== 'warning').map((e) => `${text(e.code) ?? 'error'}: ${render(e)}`),
  };
}

/** Sightings of an /observe/observables answer: by severity, by breach, the newest. */
export function describeObservable(heading: string, answer: Answer): string[] {
  const body = doc(answer.body);
  const lines = [heading];
  if (answer.status !== 200) lines.push(line('answer', `HTTP ${answer.status}`));
  const sightings = list(doc(doc(body.data).sightings).docs).map(doc);
  const { warnings, fatal } = problems(body);
  if (sightings.length === 0) {
    if (fatal.length === 0) lines.push('  no results');
  } else {
    const bySeverity = tally(sightings.map((s) => text(s.severity) ?? 'Unknown'));
    const severities = SEVERITIES.filter((s) => bySeverity.has(s)).map((s) => `${s} ${bySeverity.get(s)}`);
    lines.push(line('sightings', `${sightings.length} (${severities.join(', ')})`));
    const titleOf = breachTitles(body.data);
    const breachOf = (s: Doc) => titleOf(s.id) ?? 'a source without catalog';
    const breaches = tally(sightings.map(breachOf));
    lines.push(line('breaches', [...breaches].map(([title, n]) => `${title} ×${n}`).join(', ')));
    const timed = sightings.flatMap((s) => {
      const at = text(doc(s.observed_time).start_time);
      return at === undefined ? [] : [{ at, what: breachOf(s) }];
    });
    const newest = timed.reduce<(typeof timed)[number] | undefined>((best, t) => (best === undefined || t.at > best.at ? t : best), undefined);
    if (newest !== undefined) lines.push(line('newest', `${shortTime(newest.at)}, ${newest.what}`));
    const indicators = list(doc(doc(body.data).indicators).docs).length;
    const relationships = list(doc(doc(body.data).relationships).docs).length;
    lines.push(line('indicators', `${indicators}, relationships ${relationships}`));
  }
  for (const warning of warnings) lines.push(line('warning', warning));
  for (const error of fatal) lines.push(line('error', error));
  return lines;
}

/** A cell of a sighting's data table on one line: lists joined, long text cut. */
function cellText(value: unknown): string {
  const joined = Array.isArray(value) ? value.map(String).join(', ') : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value ?? '');
  const flat = joined.replace(/\s+/g, ' ');
  return flat.length > CELL_WIDTH ? `${flat.slice(0, CELL_WIDTH - 1)}…` : flat;
}

const CELL_WIDTH = 72;

/** Whether a sighting's data table shows a password (masked or not), which is what an analyst looks for first. */
const showsPassword = (sighting: Doc): boolean => {
  const data = doc(sighting.data);
  const columns = list(data.columns).map((c) => text(doc(c).name) ?? '');
  return list(data.rows).some((row) => columns.some((name, i) =>
    isPasswordColumn(name) && text(list(row)[i]) !== undefined));
};

/**
 * One sighting of an /observe/observables answer as XDR draws it: title and
 * description, severity, observed time, source link, and its data table.
 * The first sighting that shows a password, else the first; none for an answer without sightings.
 */
export function describeSighting(answer: Answer): string[] {
  const sightings = list(doc(doc(doc(answer.body).data).sightings).docs).map(doc);
  const sighting = sightings.find(showsPassword) ?? sightings[0];
  if (sighting === undefined) return [];
  const at = text(doc(sighting.observed_time).start_time);
  const lines = [
    line('title', text(sighting.title) ?? '(none)'),
    line('description', text(sighting.description) ?? '(none)'),
    line('severity', `${text(sighting.severity) ?? 'Unknown'}, confidence ${text(sighting.confidence) ?? 'unknown'}`),
    line('observed', at === undefined ? '(no time)' : shortTime(at)),
    line('source', text(sighting.source_uri) ?? '(no link)'),
  ];
  const data = doc(sighting.data);
  const columns = list(data.columns).map((c) => text(doc(c).name) ?? '?');
  const width = Math.max(0, ...columns.map((name) => name.length));
  const rows = list(data.rows).map(list);
  const [first] = rows;
  if (first !== undefined) {
    columns.forEach((name, i) => lines.push(line(i === 0 ? 'data' : '', `${name.padEnd(width)}  ${cellText(first[i])}`)));
    if (rows.length > 1) lines.push(line('', `(the first of ${rows.length} rows)`));
  }
  return lines;
}

/** One tile's figures, by tile type (RELAY.md §9). */
function figures(type: string, data: unknown): string[] {
  switch (type) {
    case 'metric_group':
    case 'horizontal_bar_chart':
      return list(data).map(doc).map((d) => tileLine(String(d.label ?? d.key ?? '?'), String(d.value ?? '?')));
    case 'vertical_bar_chart': {
      const bars = list(data).map(doc);
      const busy = bars.filter((b) => typeof b.value === 'number' && b.value > 0);
      const total = busy.reduce((sum, b) => sum + (b.value as number), 0);
      return [
        tileLine('bars', `${bars.length}, ${busy.length} with records, ${total} records in all`),
        ...busy.map((b) => tileLine(String(b.label ?? b.key), `${b.value} (${list(b.values).map(doc).map((v) => `${v.key} ${v.value}`).join(', ')})`)),
      ];
    }
    case 'markdown':
      return list(data).map((row) => `    ${String(row)}`);
    default:
      return [tileLine('data', JSON.stringify(data)?.slice(0, 200) ?? '')];
  }
}

/** A dashboard tile (from `/tiles`) and its `/tiles/tile-data` answer. */
export function describeTile(tile: unknown, answer: Answer): string[] {
  const t = doc(tile);
  const body = doc(answer.body);
  const data = doc(body.data);
  const heading = `${text(t.title) ?? text(t.id) ?? 'tile'} (${text(t.id) ?? '?'}, ${text(data.period) ?? text(t.default_period) ?? '?'})`;
  const lines = [heading];
  if (answer.status !== 200) lines.push(tileLine('answer', `HTTP ${answer.status}`));
  if ('data' in data) lines.push(...figures(text(t.type) ?? '', data.data));
  const { warnings, fatal } = problems(body);
  for (const warning of warnings) lines.push(tileLine('warning', warning));
  for (const error of fatal) lines.push(tileLine('error', error));
  return lines;
}

/** True when an answer is not what a working relay gives: not HTTP 200, or a fatal error. */
export function failed(answer: Answer): boolean {
  return answer.status !== 200 || problems(doc(answer.body)).fatal.length > 0;
}
