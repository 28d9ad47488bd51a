// One /observe/observables request after authentication (RELAY.md §5): look the
// observables up concurrently, assemble in request order, stop at the first fatal
// error or at the answer's sighting cap, and give other requests a turn between
// observables so that a large investigation never stalls the relay. Malformed
// values are never sent; a query SpyCloud finds too broad spoils only itself.
import { nextTurn, type Pause } from './answer-json.js';
import type { TenantContext } from './auth/tenant.js';
import { AnswerBuilder, catalogIdOf, type Findings } from './ctim/bundle.js';
import type { IndicatorMemo } from './ctim/indicator.js';
import { ctimTime, ctimTimeOf, type CtimTimeOf } from './ctim/time.js';
import { RelayError, toRelayError, type ErrorDoc } from './errors.js';
import { wellFormed, type SupportedObservable } from './observe.js';
import type { Caller, SpyCloudClient } from './spycloud/client.js';
import type { BreachRecord, RequestScope } from './spycloud/types.js';
import { budgetSpent } from './spycloud/upstream-errors.js';

export interface EnrichDeps {
  spycloud: Pick<SpyCloudClient, 'breachRecords' | 'catalogs' | 'lookupsAllowed'>;
  newId: () => string;
  now: () => number;
  /** Sightings in one answer at most (MAX_SIGHTINGS_PER_ANSWER). */
  maxSightings: number;
  pause?: Pause;
  /** Reads SpyCloud times (a remembering one, in the relay). */
  time?: CtimTimeOf;
  /** Indicators made once per catalog (in the relay). */
  indicators?: IndicatorMemo;
}

const tooManyResults = (count: number): ErrorDoc => ({
  type: 'warning',
  code: 'too many results',
  message: `The answer holds the first ${count} sightings; narrow the investigation for the rest.`,
});

/** Records in the order to show, with the CTIM time of each one's `spycloud_publish_date` (read once). */
export interface Chosen {
  records: BreachRecord[];
  publishedAt: Array<string | undefined>;
}

/** Newest `spycloud_publish_date` first; equal or missing dates keep SpyCloud's order (missing last). */
export function newestFirst(records: readonly BreachRecord[], limit: number, time: CtimTimeOf = ctimTime): Chosen {
  const dated = records.map((record, index) => ({ record, index, at: time(record.spycloud_publish_date) }));
  // CTIM times of one form compare as text; the index keeps equal and missing dates in SpyCloud's order.
  dated.sort((a, b) => (a.at === b.at ? a.index - b.index : a.at === undefined ? 1 : b.at === undefined ? -1 : a.at < b.at ? 1 : -1));
  const kept = dated.length > limit ? dated.slice(0, limit) : dated;
  return { records: kept.map((d) => d.record), publishedAt: kept.map((d) => d.at) };
}

async function findingsFor(observable: SupportedObservable, tenant: TenantContext, caller: Caller, deps: EnrichDeps): Promise<Findings> {
  const { records, publishedAt } = newestFirst(await deps.spycloud.breachRecords(observable, caller), tenant.entitiesLimit, deps.time);
  const ids = records.map(catalogIdOf).filter((id): id is string => id !== undefined);
  const catalogs = ids.length === 0 ? new Map() : await deps.spycloud.catalogs(ids, caller);
  return { observable, records, publishedAt, catalogs };
}

export interface Enrichment {
  data: Record<string, unknown>;
  errors: ErrorDoc[];
  /** Set when the error is not one of the contract's, i.e. a bug: the caller logs it. */
  unexpected?: unknown;
}

export async function enrich(requested: readonly SupportedObservable[], tenant: TenantContext, scope: RequestScope, deps: EnrichDeps): Promise<Enrichment> {
  const caller: Caller = { apiKey: tenant.apiKey, scope };
  const { maxSightings } = deps;
  // Checked before any call, so their warnings come first, in request order.
  const { lookups: observables, warnings: malformed } = wellFormed(requested);
  const outcomes: Array<Findings | RelayError> = [];
  let firstFatal = Number.POSITIVE_INFINITY;
  let found = 0;
  let unexpected: unknown;
  let next = 0;
  let running = 0;
  const lookUp = async (i: number) => {
    try {
      const findings = await findingsFor(observables[i] as SupportedObservable, tenant, caller, deps);
      outcomes[i] = findings;
      found += findings.records.length;
    } catch (error) {
      // SpyCloud's 422 (a query too broad, e.g. a webmail domain) is about this observable only.
      if (error instanceof RelayError && error.code === 'invalid argument') {
        outcomes[i] = new RelayError(error.code, error.message, { type: 'warning' });
        return;
      }
      if (!(error instanceof RelayError)) unexpected = error;
      outcomes[i] = toRelayError(error);
      firstFatal = Math.min(firstFatal, i);
    }
  };
  // As many lookups in flight as the key may have SpyCloud calls (its limit adapts as they answer).
  // Observables after a fatal one, or once the answer is full, are dropped, so they are not looked up.
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (next < observables.length && next < firstFatal && found < maxSightings && running < deps.spycloud.lookupsAllowed(tenant.apiKey)) {
        running += 1;
        void lookUp(next++).finally(() => {
          running -= 1;
          pump();
        });
      }
      if (running === 0) resolve();
    };
    pump();
  });

  const answer = new AnswerBuilder({
    newId: deps.newId,
    requestTime: ctimTimeOf(scope.arrivedAt),
    passwordDisplay: tenant.passwordDisplay,
    time: deps.time,
    indicators: deps.indicators,
  });
  const pause = deps.pause ?? nextTurn;
  let fatal: RelayError | undefined;
  let full = false;
  for (let i = 0; i < observables.length; i++) {
    const outcome = outcomes[i];
    if (outcome instanceof RelayError && outcome.type === 'warning') {
      answer.warn(outcome.toDoc());
      continue;
    }
    if (outcome instanceof RelayError) {
      fatal = outcome;
      break;
    }
    const room = maxSightings - answer.sightingCount;
    // Not looked up: the answer was full before its turn came.
    if (outcome === undefined || room <= 0) {
      full = true;
      break;
    }
    // The budget covers the whole request, mapping included (upstream calls stopped a little earlier).
    if (deps.now() >= scope.arrivedAt + scope.budgetMs) {
      fatal = budgetSpent(scope.budgetMs);
      break;
    }
    const cut = outcome.records.length > room;
    answer.add(cut ? { ...outcome, records: outcome.records.slice(0, room) } : outcome);
    if (cut) {
      full = true;
      break;
    }
    if (i < observables.length - 1) await pause();
  }
  const { data, warnings } = answer.result();
  if (full) warnings.push(tooManyResults(answer.sightingCount));
  const errors = [...malformed, ...warnings];
  return { data, errors: fatal === undefined ? errors : [...errors, fatal.toDoc()], unexpected };
}
