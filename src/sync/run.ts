// One sync run (RELAY.md §10): SpyCloud's watchlist records modified since
// `today − SYNC_LOOKBACK_DAYS`, page by page (the page being imported and the next, read ahead) →
// kept by severity → catalogs → incident groups → bundles → CTIA's import,
// counting what CTIA created, found existing or refused. A run repeats safely:
// every entity carries its external id, so what exists is answered `exists`.
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { idText } from '../ctim/common.js';
import { ctimTimeOf } from '../ctim/time.js';
import { RelayError } from '../errors.js';
import { createSpyCloud, egressDispatcher, packageVersion, userAgent } from '../relay.js';
import { budgetSpent } from '../spycloud/upstream-errors.js';
import type { CatalogLookup } from '../spycloud/types.js';
import { bundlesOf, type Bundle } from './bundles.js';
import type { SyncConfig } from './config.js';
import type { Incident } from './incident.js';
import { incidentGroups, skipReason, type Skip } from './mapping.js';
import { emptyReport, tally, type SyncReport } from './report.js';
import { syncBudgetSpent, XdrClient } from './xdr-client.js';

export interface SyncDeps {
  /** Outbound HTTP for SpyCloud and XDR; by default the relay's egress (proxy included). */
  dispatcher?: Dispatcher;
  now?: () => number;
  random?: () => number;
  newId?: () => string;
  /** Map and count, call nothing in XDR. */
  dryRun?: boolean;
  /** `YYYY-MM-DD`: read from that day instead of today − SYNC_LOOKBACK_DAYS (a backfill). */
  since?: string;
  /** Aborted: the run stops after the bundle under way (`stopped` in the report). */
  signal?: AbortSignal;
  /** Each bundle's incidents before it is imported (the dry run's preview). */
  onIncidents?: (incidents: readonly Incident[]) => void;
  /** XDR call timeout (default 60 s) and first back-off step (default 1 s). */
  xdrTimeoutMs?: number;
  xdrRetryBaseMs?: number;
}

const DAY_MS = 86_400_000;

/** The first day the run reads: `YYYY-MM-DD`, UTC. */
const sinceDate = (nowMs: number, lookbackDays: number): string => new Date(nowMs - lookbackDays * DAY_MS).toISOString().slice(0, 10);

export async function runSync(config: SyncConfig, deps: SyncDeps = {}): Promise<SyncReport> {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const started = now();
  const report = emptyReport(deps.since ?? sinceDate(started, config.lookbackDays), deps.dryRun === true);
  const dispatcher = deps.dispatcher ?? egressDispatcher(config.relay);
  const version = packageVersion();
  const deadline = started + config.budgetMs;
  const spycloud = createSpyCloud(config.relay, dispatcher, { now, random, version });
  // Mutable here: a run that stops moves its deadline to now, so the page read ahead retries nothing.
  const scope = { arrivedAt: started, deadline, budgetMs: config.budgetMs, upstreamCalls: 0 };
  const caller = { apiKey: config.spycloudApiKey, scope };
  const xdr = report.dryRun || config.xdr === undefined ? undefined : new XdrClient({
    access: config.xdr,
    dispatcher,
    userAgent: userAgent(version),
    timeoutMs: deps.xdrTimeoutMs ?? 60_000,
    retryBaseMs: deps.xdrRetryBaseMs ?? 1_000,
    deadline,
    budgetMs: config.budgetMs,
    now,
    random,
  });
  const context = { newId: deps.newId ?? randomUUID, now: ctimTimeOf(started), passwordDisplay: config.passwordDisplay };
  /** Dry run: the external ids already counted. */
  const planned = new Set<string>();
  let phase: 'xdr' | 'spycloud' = 'xdr';
  try {
    // Credentials first: a refused client should not cost a read of the watchlist.
    if (xdr !== undefined) await xdr.accessToken();
    phase = 'spycloud';
    const pages = spycloud.watchlistModifiedSince(report.since, caller);
    for (let next = pages.next(); ;) {
      const page = await next;
      if (page.done === true) break;
      // The next page is read while this one is imported: a cursor expires about 2 minutes after its page.
      next = pages.next();
      next.catch(() => undefined);
      report.pages += 1;
      report.records.read += page.value.length;
      const kept = page.value.filter((record) => {
        const skip: Skip | undefined = skipReason(record, config.minSeverity);
        if (skip === 'below severity') report.records.belowSeverity += 1;
        else if (skip !== undefined) report.records.unusable += 1;
        return skip === undefined;
      });
      if (kept.length > 0) {
        const catalogs = await spycloud.catalogs([...new Set(kept.map((r) => idText(r.source_id) as string))], caller);
        report.errors.catalog += countFailed(catalogs);
        report.records.kept += kept.length;
        phase = 'xdr';
        for (const bundle of bundlesOf(incidentGroups(kept, catalogs, context))) {
          deps.onIncidents?.(bundle.incidents);
          await importOne(bundle, xdr, report, planned);
          if (deps.signal?.aborted === true) break;
        }
        phase = 'spycloud';
      }
      if (deps.signal?.aborted === true) {
        report.stopped = true;
        break;
      }
    }
  } catch (error) {
    if (!(error instanceof RelayError)) throw error;
    // SpyCloud's transport speaks of the relay's REQUEST_BUDGET_MS; here the budget is SYNC_BUDGET_S.
    const reason = error.message === budgetSpent(config.budgetMs).message ? syncBudgetSpent(config.budgetMs).message : error.message;
    report.failure = { source: phase, code: error.code, reason };
    report.errors[phase] += 1;
  } finally {
    if (deps.dispatcher === undefined && (report.stopped || report.failure !== undefined)) {
      // The page read ahead will not be imported: end it rather than wait for its answer and retries.
      scope.deadline = now();
      await dispatcher.destroy();
    } else if (deps.dispatcher === undefined) {
      await dispatcher.close();
    }
  }
  report.tokens = xdr?.tokensFetched ?? 0;
  report.durationMs = now() - started;
  return report;
}

const countFailed = (catalogs: ReadonlyMap<string, CatalogLookup>): number =>
  [...catalogs.values()].filter((lookup) => lookup.status === 'failed').length;

/** Imports one bundle and counts CTIA's answer; a bundle CTIA refuses counts all its entities as errors. */
async function importOne(bundle: Bundle, xdr: XdrClient | undefined, report: SyncReport, planned: Set<string>): Promise<void> {
  report.bundles += 1;
  if (xdr === undefined) {
    // An incident or indicator goes with every bundle that needs it: planned once.
    for (const entity of [...bundle.incidents, ...bundle.indicators, ...bundle.sightings, ...bundle.relationships]) {
      const externalId = entity.external_ids[0] as string;
      if (!planned.has(externalId)) tally(report, entity.type, 'planned');
      planned.add(externalId);
    }
    return;
  }
  try {
    const results = await xdr.importBundle(bundle);
    for (const result of results) tally(report, result.type ?? 'unknown', result.result);
  } catch (error) {
    // A refused bundle is that bundle's problem: the next ones may go through.
    if (!(error instanceof RelayError) || error.code !== 'invalid argument') throw error;
    report.errors.bundle += 1;
    for (const key of ['incidents', 'sightings', 'indicators', 'relationships'] as const) for (const entity of bundle[key]) tally(report, entity.type, 'error');
  }
}
