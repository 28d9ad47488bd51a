// A SpyCloud watchlist stand-in for the dashboard tiles (RELAY.md §9): fixed pages
// joined by cursors, and records built from a few facts.
import type { Handler } from './stand-in.js';
import { json } from './stand-in.js';

export const WATCHLIST_PATH = '/breach/data/watchlist';

export interface RecordFacts {
  at?: string;
  email?: string;
  username?: string;
  severity?: number;
  source?: number | string;
  machine?: string;
  passwordType?: string;
  plaintext?: string;
}

let serial = 0;

/** A watchlist record shaped like SpyCloud's, with only the given facts set. */
export function watchRecord(facts: RecordFacts): Record<string, unknown> {
  serial += 1;
  const record: Record<string, unknown> = { document_id: `doc-${serial}` };
  if (facts.email !== undefined) {
    record.email = facts.email;
    record.email_domain = facts.email.split('@')[1];
  }
  if (facts.username !== undefined) record.username = facts.username;
  if (facts.source !== undefined) record.source_id = facts.source;
  if (facts.severity !== undefined) record.severity = facts.severity;
  if (facts.machine !== undefined) record.infected_machine_id = facts.machine;
  if (facts.passwordType !== undefined) record.password_type = facts.passwordType;
  if (facts.plaintext !== undefined) record.password_plaintext = facts.plaintext;
  if (facts.at !== undefined) record.spycloud_publish_date = facts.at;
  return record;
}

/**
 * Answers page n (cursor `page-n`, the first without one) of `pages`, whatever
 * `since` and `until` say: the relay must drop what lies outside its window.
 */
export const watchlistPages = (pages: ReadonlyArray<ReadonlyArray<object>>): Handler => (req, res, seen) => {
  const cursor = new URL(seen.url, 'http://stand-in').searchParams.get('cursor');
  const index = cursor === null ? 0 : Number(cursor.slice('page-'.length));
  const results = pages[index] ?? [];
  json({ cursor: index + 1 < pages.length ? `page-${index + 1}` : '', hits: results.length, results })(req, res, seen);
};
