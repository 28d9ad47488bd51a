// A relay answer, read back for a person at a terminal: per looked-up value its
// sightings by severity, breaches, newest exposure, shown passwords and warnings.
// Pure: it reads the CTIM answer and what each value's lookup came to.
import type { Relationship } from '../ctim/relationship.js';
import type { Sighting } from '../ctim/sighting.js';
import type { Envelope, ErrorDoc } from '../errors.js';
import type { SupportedObservable } from '../observe.js';
import { IP_NOT_ALLOWED } from '../spycloud/upstream-errors.js';
import { breachTitles, SEVERITIES, tally } from './answer-reading.js';

/** What SpyCloud answered for one value: its breach records, or the error its lookup ended with. */
export type LookupOutcome = { records: number } | { error: ErrorDoc };

export interface SummaryInput {
  /** The values asked about, in order, as the relay looked them up. */
  observables: readonly SupportedObservable[];
  /** Keyed by the very observables above; a value never looked up has none. */
  outcomes: ReadonlyMap<SupportedObservable, LookupOutcome>;
  answer: Envelope;
}

const MAX_PASSWORDS = 10;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The answer's errors, each handed to the first value it concerns; what is left concerns the whole answer. */
class ErrorPool {
  private readonly left: ErrorDoc[];

  constructor(errors: readonly ErrorDoc[]) {
    this.left = [...errors];
  }

  take(concerns: (doc: ErrorDoc) => boolean): ErrorDoc[] {
    const taken = this.left.filter(concerns);
    for (const doc of taken) this.left.splice(this.left.indexOf(doc), 1);
    return taken;
  }

  /** The first error left with this code and message (the relay may have made a warning of it). */
  takeOne(wanted: ErrorDoc): ErrorDoc[] {
    const doc = this.left.find((d) => d.code === wanted.code && d.message === wanted.message);
    return doc === undefined ? [] : this.take((d) => d === doc);
  }

  get rest(): readonly ErrorDoc[] {
    return this.left;
  }
}

/**
 * An error in the relay's own words. Two of §4.4's messages quote SpyCloud's
 * answer (a refused key's body, another status's body): a person at a terminal
 * reads what the relay makes of it, never text SpyCloud chose. `--json` keeps
 * the relay's answer as XDR gets it.
 */
export function ownText(doc: ErrorDoc): string {
  if (doc.code === 'authorization error' && doc.message !== IP_NOT_ALLOWED) {
    return 'Authorization failed: SpyCloud refused the API key; check SPYCLOUD_API_KEY or --key.';
  }
  const status = /^Unexpected answer from SpyCloud: HTTP (\d{3})\b/.exec(doc.message)?.[1];
  return status === undefined ? doc.message : `Unexpected answer from SpyCloud: HTTP ${status}.`;
}

const errorLine = (doc: ErrorDoc) => `  ${doc.type === 'fatal' ? 'error' : 'warning'}: ${ownText(doc)}`;

/** A catalog warning names the catalog id, which the sightings of its records carry in external_ids. */
const namesId = (message: string, ids: ReadonlySet<string>) =>
  message.split(/[\s:]+/).some((word) => ids.has(word));

function findings(sightings: readonly Sighting[], breachOf: (s: Sighting) => string): string[] {
  const severities = tally(sightings.map((s) => s.severity));
  const newest = sightings.reduce((a, b) => (b.observed_time.start_time > a.observed_time.start_time ? b : a));
  const breaches = [...tally(sightings.map(breachOf))].map(([title, n]) => `${title} (${n})`);
  const passwords = [...new Set(sightings.flatMap(({ data }) => {
    const column = data.columns.findIndex((c) => c.name === 'password_plaintext');
    return column < 0 ? [] : data.rows.map((row) => row[column]).filter((p): p is string => typeof p === 'string' && p !== '');
  }))];
  const lines = [
    `  by severity: ${SEVERITIES.filter((level) => severities.has(level)).map((level) => `${severities.get(level)} ${level}`).join(', ')}`,
    `  breaches: ${breaches.join(', ')}`,
    `  newest exposure: ${newest.observed_time.start_time.slice(0, 10)} (${breachOf(newest)})`,
  ];
  if (passwords.length > 0) {
    const more = passwords.length > MAX_PASSWORDS ? `, and ${passwords.length - MAX_PASSWORDS} more` : '';
    lines.push(`  passwords: ${passwords.slice(0, MAX_PASSWORDS).join(', ')}${more}`);
  }
  return lines;
}

export function summary({ observables, outcomes, answer }: SummaryInput): string {
  const data = (answer.data ?? {}) as { sightings?: { docs: Sighting[] }; indicators?: { docs: Array<{ id: string; title?: unknown; external_ids: string[] }> }; relationships?: { docs: Relationship[] } };
  const sightings = data.sightings?.docs ?? [];
  const titleOf = breachTitles(data);
  const breachOf = (s: Sighting) => titleOf(s.id) ?? 'without catalog';
  const errors = new ErrorPool(answer.errors ?? []);
  // The relay assembles in request order: after a fatal error, or once the answer is full, values are left out.
  const leftOut = (answer.errors ?? []).some((e) => e.type === 'fatal') ? 'the lookup ended at an error' : 'the answer was full (MAX_SIGHTINGS_PER_ANSWER)';

  const lines: string[] = [];
  for (const observable of observables) {
    const heading = `${observable.value} (${observable.type})`;
    const outcome = outcomes.get(observable);
    if (outcome === undefined) {
      lines.push(`${heading}: not looked up, ${leftOut}`);
      continue;
    }
    if ('error' in outcome) {
      // Only the first fatal error in request order reaches the answer; a later failure was left out.
      const [doc] = errors.takeOne(outcome.error);
      lines.push(doc === undefined ? `${heading}: left out, ${leftOut}` : `${heading}: ${doc.type === 'fatal' ? 'failed' : 'not answered'}\n${errorLine(doc)}`);
      continue;
    }
    const own = sightings.filter((s) => s.observables[0]?.type === observable.type && s.observables[0]?.value === observable.value);
    if (outcome.records === 0) {
      lines.push(`${heading}: nothing found`);
      continue;
    }
    if (own.length === 0) {
      lines.push(`${heading}: ${plural(outcome.records, 'breach record', 'breach records')}, left out of the answer: ${leftOut}`);
      continue;
    }
    const shown = own.length < outcome.records ? ` (the newest ${own.length} of ${outcome.records} breach records)` : '';
    const ids = new Set(own.flatMap((s) => s.external_ids));
    const warnings = errors.take((doc) => doc.type === 'warning' && namesId(doc.message, ids));
    lines.push(`${heading}: ${plural(own.length, 'sighting', 'sightings')}${shown}`, ...findings(own, breachOf), ...warnings.map(errorLine));
  }
  // What concerns no single value (a full answer, an error after the lookups) closes the summary.
  lines.push(...errors.rest.map((doc) => errorLine(doc).trimStart()));
  return `${lines.join('\n')}\n`;
}
