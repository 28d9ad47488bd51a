// Watchlist records of a period → every tile's figures (RELAY.md §9). Pure.
// The result is small (counts and the top-10 candidates, never the records), so it
// is what the cache holds.
import { idText } from '../ctim/common.js';
import { severity } from '../ctim/sighting.js';
import { ctimTime } from '../ctim/time.js';
import { identityOf } from '../spycloud/identity.js';
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

/** What of a counted record its catalog decides, kept until the catalog is known: small, never the record. */
export interface Unlevelled {
  severity: number | undefined;
  bucket: number;
  identity: string | undefined;
}

const noLevels = (): LevelCounts => ({ Critical: 0, High: 0, Medium: 0, Low: 0, Unknown: 0 });

const CANONICAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** `spycloud_publish_date` in epoch ms, or undefined when it is not a time. */
function publishedAt(record: BreachRecord): number | undefined {
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

const hasPlaintextPassword = (record: BreachRecord): boolean =>
  (typeof record.password_type === 'string' && record.password_type.toLowerCase() === 'plaintext')
  || (typeof record.password_plaintext === 'string' && record.password_plaintext !== '');

/** Most records first; ties: newest first, then by name so the order never depends on SpyCloud's. */
function top<T extends { records: number; newestMs: number }>(entries: Iterable<T>, name: (entry: T) => string): T[] {
  return [...entries]
    .sort((a, b) => b.records - a.records || b.newestMs - a.newestMs || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0))
    .slice(0, TOP);
}

/**
 * Every tile's figures of one period, counted record by record (in any order: the
 * figures are sums, sets and maxima), so that no period's records need be held at once.
 */
export class TileTally {
  private readonly bySeverity = noLevels();
  private readonly timeline: LevelCounts[];
  private readonly identities = new Map<string, ExposedIdentity>();
  private readonly machines = new Set<string>();
  private readonly sources = new Map<string, BreachSource>();
  private count = 0;
  private plaintextPasswords = 0;
  private sessionCookies = 0;

  constructor(readonly window: Window) {
    this.timeline = Array.from({ length: window.buckets }, noLevels);
  }

  /** Counts `record`, published at `at` (in the window), from the breach source `sourceId` of catalog `catalog`. */
  add(record: BreachRecord, at: number, sourceId: string | undefined, catalog: Catalog | undefined): void {
    this.addLevel(this.addUnlevelled(record, at, sourceId), catalog);
  }

  /**
   * Counts all of `record` that its catalog does not decide; what is left (its level)
   * is counted by `addLevel` once the catalog is known, from what this returns.
   */
  addUnlevelled(record: BreachRecord, at: number, sourceId: string | undefined): Unlevelled {
    this.count += 1;
    if (typeof record.severity === 'number' && record.severity >= 26) this.sessionCookies += 1;
    if (hasPlaintextPassword(record)) this.plaintextPasswords += 1;
    const machine = idText(record.infected_machine_id);
    if (machine !== undefined) this.machines.add(machine);
    if (sourceId !== undefined) {
      const source = this.sources.get(sourceId) ?? { sourceId, records: 0, newestMs: at };
      source.records += 1;
      source.newestMs = Math.max(source.newestMs, at);
      this.sources.set(sourceId, source);
    }
    const identity = identityOf(record)?.value;
    if (identity !== undefined) {
      // The least level: addLevel makes it the worst of the identity's records.
      const exposed = this.identities.get(identity) ?? { identity, records: 0, worst: 'Unknown', newestMs: at };
      exposed.records += 1;
      exposed.newestMs = Math.max(exposed.newestMs, at);
      this.identities.set(identity, exposed);
    }
    return { severity: typeof record.severity === 'number' ? record.severity : undefined, bucket: bucketOf(this.window, at), identity };
  }

  /** Counts the level of a record `addUnlevelled` counted, now that its `catalog` is known. */
  addLevel(unlevelled: Unlevelled, catalog: Catalog | undefined): void {
    // §6's levels, as the sightings show them: a combolist's records are Medium whatever their own severity.
    const level = severity({ severity: unlevelled.severity }, catalog) as Level;
    this.bySeverity[level] += 1;
    (this.timeline[unlevelled.bucket] as LevelCounts)[level] += 1;
    const exposed = unlevelled.identity === undefined ? undefined : this.identities.get(unlevelled.identity);
    if (exposed !== undefined && LEVELS.indexOf(level) < LEVELS.indexOf(exposed.worst)) exposed.worst = level;
  }

  result(truncatedAt: number | undefined, unreadCatalogs: TileAggregate['unreadCatalogs'] = []): TileAggregate {
    return {
      window: this.window,
      exposure: {
        records: this.count,
        identities: this.identities.size,
        infectedMachines: this.machines.size,
        // Severity 26 and above is stolen session data (§6), whatever the catalog.
        sessionCookies: this.sessionCookies,
        plaintextPasswords: this.plaintextPasswords,
      },
      bySeverity: this.bySeverity,
      timeline: this.timeline,
      topBreaches: top(this.sources.values(), (s) => s.sourceId),
      topIdentities: top(this.identities.values(), (i) => i.identity),
      truncatedAt,
      unreadCatalogs,
    };
  }
}

/** When `record` was published, if in `window` (SpyCloud's `since` is a whole day; a record without a date belongs to no period). */
export function publishedIn(record: BreachRecord, window: Window): number | undefined {
  const at = publishedAt(record);
  return at !== undefined && inWindow(window, at) ? at : undefined;
}
