// A SpyCloud stand-in serving the worked example: breach records of one email and
// catalogs answered the way SpyCloud does, comma-delimited ids included.
import { fixture } from './fixtures.js';
import { json, startStandIn, type Handler, type StandIn } from './stand-in.js';

export const EXAMPLE_EMAIL = 'jdoe@acme-corp.example';

/** Answers `/breach/catalog/<id>[,<id>…]` from a table; unknown ids are left out, as SpyCloud does. */
export const catalogs = (table: Record<string, object>): Handler => (req, res, seen) => {
  const ids = seen.path.slice('/breach/catalog/'.length).split(',').map(decodeURIComponent);
  const results = ids.flatMap((id) => (table[id] === undefined ? [] : [table[id]]));
  json({ cursor: '', hits: results.length, results })(req, res, seen);
};

export const exampleCatalogs = (): Record<string, object> => ({
  '31337': fixture('spycloud-breach-catalog-31337.json').results[0],
  '4242': fixture('spycloud-breach-catalog-4242.json').results[0],
});

export function startExampleSpyCloud(extra: Record<string, Handler> = {}): Promise<StandIn> {
  return startStandIn({
    [`/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`]: json(fixture('spycloud-breach-data-emails.json')),
    '/breach/catalog/*': catalogs(exampleCatalogs()),
    '/watchlist/example.org': json(fixture('spycloud-watchlist.json')),
    ...extra,
  });
}

/** `/breach/catalog/…` calls the stand-in received. */
export const catalogCalls = (spycloud: StandIn) => spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/'));
