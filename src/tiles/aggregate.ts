// Watchlist records of a period → every tile's figures at once (RELAY.md §9). Pure.
// The result is small (counts and the top-10 candidates, never the records), so it
// is what the cache holds.
import { idText } from '../ctim/common.js';
import { severity } from '../ctim/sighting.js';
import { ctimTime } from '../ctim/time.js';
import type { BreachRecord, Catalog } from '../spycloud/types.js';
import { bucketOf, inWindow, type Window } from './window.js';

/** Worst first. `Unknown` (no usable severity) gets a bar of its own so that the bars add up. */
export const LEVELS = ['Critical', 'High', 'Medium', 'Low', 'Unknown'] as const;
export type Level = (typeof LEVELS)[number];
export type LevelCounts = Record<Level, number>;

export const TOP = 10;

export interface Exposure {
  records: number;
  identities: number;
  infectedMachines: number;
  sessionCookies: number;
  plaintextPasswords: number;
}

export interface BreachSource {
  sourceId: string;
  records: number;
  newestMs: number;
}

export interface ExposedIdentity {
  identity: string;
  records: number;
  worst: Level;
  newestMs: number;
}

export interface TileAggregate {
  window: Window;
  exposure: Exposure;
  bySeverity: LevelCounts;
  /** One entry per bucket of the window, oldest first. */
  timeline: LevelCounts[];
  topBreaches: BreachSource[];
  topIdentities: ExposedIdentity[];
  /** Records SpyCloud returned before TILES_MAX_PAGES ran out; undefined when all were read. */
  truncatedAt: number | undefined;
  /** Catalogs that could not be fetched (their records counted at their own severity): each tile warns. */
  unreadCatalogs: ReadonlyArray<{ id: string; reason: string }>;
}

const noLevels = (): LevelCounts => ({ Critical: 0, High: 0, Medium: 0, Low: 0, Unknown: 0 });

const CANONICAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** `spycloud_publish_date` in epoch ms, or undefined when it is not a time. */
export function publishedAt(record: BreachRecord): number | undefined {
  const value = record.spycloud_publish_date;
  // SpyCloud's usual form is read without building strings: a period holds up to 20,000 records.
  const match = typeof value === 'string' ? CANONICAL_TIME.exec(value) : null;
  if (match !== null) {
    const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
    const ms = Date.UTC(year, month - 1, day, hour, minute, second);
    const date = new Date(ms);
    // Anything Date.UTC rolled over (Feb 30, 24:00) or read otherwise (years 0–99) goes the long way.
    if (hour < 24 && minute < 60 && second < 60 && date.getUTCFullYear() === year && date.getUTCMonth() === month - 1
      && date.getUTCDate() === day) return ms;
  }
  const time = ctimTime(value);
  return time === undefined ? undefined : Date.parse(`${time.slice(0, 23)}Z`);
}

/** The email, case-folded; a record without one counts by its username. */
function identityOf(record: BreachRecord): string | undefined {
  const { email, username } = record;
  if (typeof email === 'string' && email.trim() !== '') return email.trim().toLowerCase();
  if (typeof username === 'string' && username.trim() !== '') return username.trim();
  return undefined;
}

const hasPlaintextPassword = (record: BreachRecord): boolean =>
  (typeof record.password_type === 'string' && record.password_type.toLowerCase() === 'plaintext')
  || (typeof record.password_plaintext === 'string' && record.password_plaintext !== '');

/** Most records first; ties: newest first, then by name so the order never depends on SpyCloud's. */
function top<T extends { records: number; newestMs: number }>(entries: Iterable<T>, name: (entry: T) => string): T[] {
  return [...entries]
    .sort((a, b) => b.records - a.records || b.newestMs - a.newestMs || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0))
    .slice(0, TOP);
}

/** The breach sources of the records published in `window`: whose catalogs the counting needs. */
export function sourcesIn(records: readonly BreachRecord[], window: Window): string[] {
  const ids = new Set<string>();
  for (const record of records) {
    const at = publishedAt(record);
    const id = idText(record.source_id);
    if (at !== undefined && id !== undefined && inWindow(window, at)) ids.add(id);
  }
  return [...ids];
}

/**
 * Counts the records published in `window` (others are dropped: SpyCloud's `since`
 * is a whole day, and a record without a publish date belongs to no period).
 */
export function aggregate(
  records: readonly BreachRecord[],
  window: Window,
  truncatedAt?: number,
  catalogOf: (sourceId: string) => Catalog | undefined = () => undefined,
): TileAggregate {
  const bySeverity = noLevels();
  const timeline = Array.from({ length: window.buckets }, noLevels);
  const identities = new Map<string, ExposedIdentity>();
  const machines = new Set<string>();
  const sources = new Map<string, BreachSource>();
  let count = 0;
  let plaintextPasswords = 0;
  let sessionCookies = 0;
  for (const record of records) {
    const at = publishedAt(record);
    if (at === undefined || !inWindow(window, at)) continue;
    count += 1;
    const sourceId = idText(record.source_id);
    // §6's levels, as the sightings show them: a combolist's records are Medium whatever their own severity.
    const level = severity(record, sourceId === undefined ? undefined : catalogOf(sourceId)) as Level;
    bySeverity[level] += 1;
    if (typeof record.severity === 'number' && record.severity >= 26) sessionCookies += 1;
    (timeline[bucketOf(window, at)] as LevelCounts)[level] += 1;
    if (hasPlaintextPassword(record)) plaintextPasswords += 1;
    const machine = idText(record.infected_machine_id);
    if (machine !== undefined) machines.add(machine);
    if (sourceId !== undefined) {
      const source = sources.get(sourceId) ?? { sourceId, records: 0, newestMs: at };
      source.records += 1;
      source.newestMs = Math.max(source.newestMs, at);
      sources.set(sourceId, source);
    }
    const identity = identityOf(record);
    if (identity !== undefined) {
      const exposed = identities.get(identity) ?? { identity, records: 0, worst: level, newestMs: at };
      exposed.records += 1;
      exposed.newestMs = Math.max(exposed.newestMs, at);
      if (LEVELS.indexOf(level) < LEVELS.indexOf(exposed.worst)) exposed.worst = level;
      identities.set(identity, exposed);
    }
  }
  return {
    window,
    exposure: {
      records: count,
      identities: identities.size,
      infectedMachines: machines.size,
      // Severity 26 and above is stolen session data (§6), whatever the catalog.
      sessionCookies,
      plaintextPasswords,
    },
    bySeverity,
    timeline,
    topBreaches: top(sources.values(), (s) => s.sourceId),
    topIdentities: top(identities.values(), (i) => i.identity),
    truncatedAt,
    unreadCatalogs: [],
  };
}
