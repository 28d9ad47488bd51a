// One /observe/observables request after authentication (RELAY.md §5): look the
// observables up concurrently, assemble in request order, stop at the first fatal error.
// Malformed values are never sent; a query SpyCloud finds too broad spoils only itself.
import type { TenantContext } from './auth/tenant.js';
import { bundle, catalogIdOf, type Findings } from './ctim/bundle.js';
import { ctimTime, ctimTimeOf } from './ctim/time.js';
import { RelayError, toRelayError, type ErrorDoc } from './errors.js';
import { wellFormed, type SupportedObservable } from './observe.js';
import type { Caller, SpyCloudClient } from './spycloud/client.js';
import type { BreachRecord, RequestScope } from './spycloud/types.js';

/** Observables of one request in flight at once; the per-key limiter bounds upstream calls anyway. */
const LOOKUPS_IN_FLIGHT = 8;

export interface EnrichDeps {
  spycloud: SpyCloudClient;
  newId: () => string;
}

/** Newest `spycloud_publish_date` first; equal or missing dates keep SpyCloud's order (missing last). */
export function newestFirst(records: readonly BreachRecord[], limit: number): BreachRecord[] {
  return records
    .map((record) => ({ record, at: ctimTime(record.spycloud_publish_date) ?? '' }))
    .sort((a, b) => (a.at === b.at ? 0 : a.at < b.at ? 1 : -1))
    .slice(0, limit)
    .map(({ record }) => record);
}

async function findingsFor(observable: SupportedObservable, tenant: TenantContext, caller: Caller, spycloud: SpyCloudClient): Promise<Findings> {
  const records = newestFirst(await spycloud.breachRecords(observable, caller), tenant.entitiesLimit);
  const ids = records.map(catalogIdOf).filter((id): id is string => id !== undefined);
  const catalogs = ids.length === 0 ? new Map() : await spycloud.catalogs(ids, caller);
  return { observable, records, catalogs };
}

export interface Enrichment {
  data: Record<string, unknown>;
  errors: ErrorDoc[];
  /** Set when the error is not one of the contract's, i.e. a bug: the caller logs it. */
  unexpected?: unknown;
}

export async function enrich(requested: readonly SupportedObservable[], tenant: TenantContext, scope: RequestScope, deps: EnrichDeps): Promise<Enrichment> {
  const caller: Caller = { apiKey: tenant.apiKey, scope };
  // Checked before any call, so their warnings come first, in request order.
  const { lookups: observables, warnings: malformed } = wellFormed(requested);
  const outcomes: Array<Findings | RelayError> = [];
  let firstFatal = Number.POSITIVE_INFINITY;
  let unexpected: unknown;
  let next = 0;
  const worker = async () => {
    // Observables after a fatal one are dropped from the answer, so they are not looked up.
    for (let i = next++; i < observables.length && i < firstFatal; i = next++) {
      try {
        outcomes[i] = await findingsFor(observables[i] as SupportedObservable, tenant, caller, deps.spycloud);
      } catch (error) {
        // SpyCloud's 422 (a query too broad, e.g. a webmail domain) is about this observable only.
        if (error instanceof RelayError && error.code === 'invalid argument') {
          outcomes[i] = new RelayError(error.code, error.message, { type: 'warning' });
          continue;
        }
        if (!(error instanceof RelayError)) unexpected = error;
        outcomes[i] = toRelayError(error);
        firstFatal = Math.min(firstFatal, i);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_IN_FLIGHT, observables.length) }, worker));

  const findings: Findings[] = [];
  const tooBroad: ErrorDoc[] = [];
  let fatal: RelayError | undefined;
  for (const outcome of outcomes) {
    if (outcome instanceof RelayError && outcome.type === 'warning') {
      tooBroad.push(outcome.toDoc());
      continue;
    }
    if (outcome instanceof RelayError) {
      fatal = outcome;
      break;
    }
    if (outcome !== undefined) findings.push(outcome);
  }
  const { data, warnings } = bundle(findings, {
    newId: deps.newId, requestTime: ctimTimeOf(scope.arrivedAt), passwordDisplay: tenant.passwordDisplay,
  });
  const errors = [...malformed, ...tooBroad, ...warnings];
  return { data, errors: fatal === undefined ? errors : [...errors, fatal.toDoc()], unexpected };
}
