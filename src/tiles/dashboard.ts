// One tile-data request (RELAY.md §9): the period's aggregate from the cache or
// one shared read of the watchlist, then the tile's renderer.
import type { ErrorDoc } from '../errors.js';
import type { Caller, SpyCloudClient } from '../spycloud/client.js';
import type { CatalogLookup } from '../spycloud/types.js';
import { nextTurn } from '../answer-json.js';
import type { TileAggregate } from './aggregate.js';
import { AggregateCache, type CacheOutcome } from './cache.js';
import type { Period, Tile, TileId } from './definitions.js';
import {
  exposureMetrics, frame, severityBars, timelineBars, topBreachesTable, topIdentitiesTable, truncationWarning,
} from './render.js';
import { PeriodCount } from './period-count.js';
import { periodWindow, utcDate } from './window.js';

const RENDERERS: Readonly<Record<TileId, (figures: TileAggregate, catalogs: ReadonlyMap<string, CatalogLookup>) => object>> = {
  'spycloud-exposure': exposureMetrics,
  'spycloud-severity': severityBars,
  'spycloud-timeline': timelineBars,
  'spycloud-top-breaches': topBreachesTable,
  'spycloud-top-identities': topIdentitiesTable,
};

export interface TileAnswer {
  data: Record<string, unknown>;
  errors: ErrorDoc[];
  outcome: CacheOutcome;
}

export interface DashboardOptions {
  /** TILES_CACHE_TTL_S */
  cacheTtlS: number;
  /** TILES_MAX_PAGES */
  maxPages: number;
}

/** §4.3's warning for a catalog call that failed otherwise than by refusing the key. */
const catalogWarning = (id: string, reason: string): ErrorDoc =>
  ({ type: 'warning', code: 'unknown', message: `SpyCloud catalog ${id} could not be fetched: ${reason}` });

export class Dashboard {
  private readonly cache: AggregateCache;

  constructor(private readonly spycloud: SpyCloudClient, private readonly options: DashboardOptions, now: () => number) {
    this.cache = new AggregateCache(options.cacheTtlS, now);
  }

  async tileData(tile: Tile, period: Period, caller: Caller): Promise<TileAnswer> {
    const { aggregate: figures, outcome } = await this.cache.get(caller.apiKey, period, () => this.read(period, caller));
    const errors = figures.truncatedAt === undefined ? [] : [truncationWarning(figures.truncatedAt)];
    for (const { id, reason } of figures.unreadCatalogs) errors.push(catalogWarning(id, reason));
    const catalogs = tile.id === 'spycloud-top-breaches' ? await this.titles(figures, caller, errors) : new Map();
    const fields = RENDERERS[tile.id](figures, catalogs);
    return { data: { ...frame(figures, this.options.cacheTtlS), ...fields }, errors, outcome };
  }

  /**
   * The window runs up to the arrival of the request that reads. Counted page by page,
   * with a turn for other requests after each page. The catalogs of the period's
   * sources (§6's combolist rule, and the titles later) come through the shared
   * catalog cache, so mostly already known.
   */
  private async read(period: Period, caller: Caller): Promise<TileAggregate> {
    const window = periodWindow(period, caller.scope.arrivedAt);
    const count = new PeriodCount(window, (ids) => this.spycloud.catalogs(ids, caller));
    const { records, complete } = await this.spycloud.watchlistPages(
      utcDate(window.startMs), utcDate(window.endMs), this.options.maxPages, caller, async (page) => {
        await count.page(page);
        await nextTurn();
      });
    return count.result(complete ? undefined : records);
  }

  /** Catalogs of the top sources through the shared catalog cache (§4.3); a failed one warns and shows its id. */
  private async titles(figures: TileAggregate, caller: Caller, errors: ErrorDoc[]): Promise<ReadonlyMap<string, CatalogLookup>> {
    const ids = figures.topBreaches.map((source) => source.sourceId);
    if (ids.length === 0) return new Map();
    const catalogs = await this.spycloud.catalogs(ids, caller);
    const warned = new Set(figures.unreadCatalogs.map((unread) => unread.id));
    for (const [id, lookup] of catalogs) {
      if (lookup.status === 'failed' && !warned.has(id)) errors.push(catalogWarning(id, lookup.reason));
    }
    return catalogs;
  }
}
