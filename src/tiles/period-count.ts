// One period's watchlist, counted page by page (RELAY.md §9): each page is counted
// as it comes and let go, so a period costs the memory of one page and the figures,
// never the period's records. A record's level needs its catalog (§6's combolist
// rule), so records of sources not known yet wait, a page or so, until their
// catalogs are asked for together: ten ids make a full catalog call.
import { idText } from '../ctim/common.js';
import type { BreachRecord, Catalog, CatalogLookup } from '../spycloud/types.js';
import { publishedIn, TileTally, type TileAggregate } from './aggregate.js';
import type { Window } from './window.js';

/** The catalogs of breach sources, as the shared catalog cache answers them. */
export type CatalogsOf = (ids: readonly string[]) => Promise<ReadonlyMap<string, CatalogLookup>>;

/** Unknown sources that make a catalog call worth its while. */
const IDS_PER_CALL = 10;
/** Records kept waiting for their catalogs at most: about one page. */
const MAX_WAITING = 1_000;

interface Waiting {
  record: BreachRecord;
  at: number;
  sourceId: string;
}

export class PeriodCount {
  private readonly tally: TileTally;
  /** Sources whose catalog was asked for: the catalog, or undefined when SpyCloud has none for this key. */
  private readonly known = new Map<string, Catalog | undefined>();
  private readonly unknown = new Set<string>();
  private waiting: Waiting[] = [];
  private readonly unread: Array<{ id: string; reason: string }> = [];

  constructor(window: Window, private readonly catalogsOf: CatalogsOf) {
    this.tally = new TileTally(window);
  }

  /** Counts one page's records (those of unknown sources once their catalogs come). */
  async page(records: readonly BreachRecord[]): Promise<void> {
    const { window } = this.tally;
    for (const record of records) {
      const at = publishedIn(record, window);
      if (at === undefined) continue;
      const sourceId = idText(record.source_id);
      if (sourceId === undefined || this.known.has(sourceId)) {
        this.tally.add(record, at, sourceId, sourceId === undefined ? undefined : this.known.get(sourceId));
      } else {
        this.unknown.add(sourceId);
        this.waiting.push({ record, at, sourceId });
      }
    }
    if (this.unknown.size >= IDS_PER_CALL || this.waiting.length >= MAX_WAITING) await this.countWaiting();
  }

  /** The figures, once every page was counted; `truncatedAt` when records were left unread. */
  async result(truncatedAt: number | undefined): Promise<TileAggregate> {
    await this.countWaiting();
    return this.tally.result(truncatedAt, this.unread);
  }

  private async countWaiting(): Promise<void> {
    if (this.waiting.length === 0) return;
    const lookups = await this.catalogsOf([...this.unknown]);
    for (const id of this.unknown) {
      const lookup = lookups.get(id);
      this.known.set(id, lookup?.status === 'found' ? lookup.catalog : undefined);
      if (lookup?.status === 'failed') this.unread.push({ id, reason: lookup.reason });
    }
    this.unknown.clear();
    const waiting = this.waiting;
    this.waiting = [];
    for (const { record, at, sourceId } of waiting) this.tally.add(record, at, sourceId, this.known.get(sourceId));
  }
}
