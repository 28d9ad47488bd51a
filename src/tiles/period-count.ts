// One period's watchlist, counted page by page (RELAY.md §9): each page is counted
// as it comes and let go, so a period costs the memory of one page and the figures,
// never the period's records. A record's level needs its catalog (§6's combolist
// rule): the rest of a record of a source not known yet is counted at once, its
// level waits (a few numbers, not the record) for its catalog. Catalogs are asked
// for ten unknown sources at a time (a full catalog call), without holding up the
// next page: a read costs its pages' round trips, the catalog calls run alongside.
import { idText } from '../ctim/common.js';
import type { Catalog, CatalogLookup, BreachRecord } from '../spycloud/types.js';
import { publishedIn, TileTally, type TileAggregate, type Unlevelled } from './aggregate.js';
import type { Window } from './window.js';

/** The catalogs of breach sources, as the shared catalog cache answers them. */
export type CatalogsOf = (ids: readonly string[]) => Promise<ReadonlyMap<string, CatalogLookup>>;

/** Unknown sources that make a catalog call worth its while. */
const IDS_PER_CALL = 10;
/** Levels kept waiting for their catalogs at most (about five pages' worth): past that the read waits for the catalog calls. */
const MAX_WAITING = 5_000;

export class PeriodCount {
  private readonly tally: TileTally;
  /** Sources whose catalog came: the catalog, or undefined when SpyCloud has none for this key. */
  private readonly known = new Map<string, Catalog | undefined>();
  /** Per source whose catalog has not come yet, the levels waiting for it. */
  private readonly waiting = new Map<string, Unlevelled[]>();
  private waitingLevels = 0;
  /** Sources waiting whose catalog was not asked for yet: the next call's ids. */
  private readonly unasked = new Set<string>();
  /** Catalog calls under way (and any that failed, so that the result fails too). */
  private readonly calls = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private readonly unread: Array<{ id: string; reason: string }> = [];

  constructor(window: Window, private readonly catalogsOf: CatalogsOf) {
    this.tally = new TileTally(window);
  }

  /** Counts one page's records (the levels of those of unknown sources once their catalogs come). */
  async page(records: readonly BreachRecord[]): Promise<void> {
    // A catalog call that ends the request (a refused key) ends the read too.
    if (this.failure !== undefined) throw this.failure.error;
    const { window } = this.tally;
    for (const record of records) {
      const at = publishedIn(record, window);
      if (at === undefined) continue;
      const sourceId = idText(record.source_id);
      if (sourceId === undefined || this.known.has(sourceId)) {
        this.tally.add(record, at, sourceId, sourceId === undefined ? undefined : this.known.get(sourceId));
        continue;
      }
      const unlevelled = this.tally.addUnlevelled(record, at, sourceId);
      const waiting = this.waiting.get(sourceId);
      this.waitingLevels += 1;
      if (waiting !== undefined) {
        waiting.push(unlevelled);
        continue;
      }
      this.waiting.set(sourceId, [unlevelled]);
      this.unasked.add(sourceId);
      if (this.unasked.size >= IDS_PER_CALL) this.ask();
    }
    if (this.waitingLevels >= MAX_WAITING) await this.catalogsCome();
  }

  /** The figures, once every page was counted; `truncatedAt` when records were left unread. */
  async result(truncatedAt: number | undefined): Promise<TileAggregate> {
    await this.catalogsCome();
    return this.tally.result(truncatedAt, this.unread);
  }

  /** Asks for the catalogs not asked for yet, and waits for every call under way. */
  private async catalogsCome(): Promise<void> {
    this.ask();
    await Promise.all(this.calls);
  }

  /** One catalog call for the unasked sources; it counts their waiting levels when it comes back. */
  private ask(): void {
    if (this.unasked.size === 0) return;
    const ids = [...this.unasked];
    this.unasked.clear();
    const call = this.catalogsOf(ids).then((lookups) => this.level(ids, lookups));
    this.calls.add(call);
    void call.then(() => this.calls.delete(call), (error: unknown) => {
      this.failure ??= { error };
    });
  }

  private level(ids: readonly string[], lookups: ReadonlyMap<string, CatalogLookup>): void {
    for (const id of ids) {
      const lookup = lookups.get(id);
      const catalog = lookup?.status === 'found' ? lookup.catalog : undefined;
      this.known.set(id, catalog);
      if (lookup?.status === 'failed') this.unread.push({ id, reason: lookup.reason });
      const waiting = this.waiting.get(id) ?? [];
      this.waiting.delete(id);
      this.waitingLevels -= waiting.length;
      for (const unlevelled of waiting) this.tally.addLevel(unlevelled, catalog);
    }
  }
}
