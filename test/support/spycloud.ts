// The SpyCloud sandbox (src/sandbox) serving the worked example: breach records of
// one email and catalogs answered the way SpyCloud does, comma-delimited ids included.
import { catalogAnswer, startSpyCloudSandbox, type SpyCloudDataset, type WatchlistIdentifier } from '../../src/sandbox/spycloud.js';
import type { Handler, StandIn } from '../../src/sandbox/stand-in.js';
import { fixture } from './fixtures.js';

export const EXAMPLE_EMAIL = 'jdoe@acme-corp.example';

/** Answers `/breach/catalog/<id>[,<id>…]` from a table; unknown ids are left out, as SpyCloud does. */
export const catalogs = (table: Record<string, object>): Handler =>
  catalogAnswer((id) => (Object.hasOwn(table, id) ? table[id] as Record<string, unknown> : undefined));

export const exampleCatalogs = (): Record<string, object> => ({
  '31337': fixture('spycloud-breach-catalog-31337.json').results[0],
  '4242': fixture('spycloud-breach-catalog-4242.json').results[0],
});

/** The worked example as a sandbox dataset: its records, two of its three catalogs (777 is missing), its watchlist. */
export const exampleDataset = (): SpyCloudDataset => ({
  records: fixture('spycloud-breach-data-emails.json').results,
  catalogs: Object.values(exampleCatalogs()) as Record<string, unknown>[],
  watchlist: fixture('spycloud-watchlist.json').results as WatchlistIdentifier[],
});

/** The sandbox over the worked example, accepting any API key; `extra` routes replace its own. */
export function startExampleSpyCloud(extra: Record<string, Handler> = {}): Promise<StandIn> {
  return startSpyCloudSandbox({ dataset: exampleDataset(), routes: extra });
}

/** `/breach/catalog/…` calls the stand-in received. */
export const catalogCalls = (spycloud: StandIn) => spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/'));
