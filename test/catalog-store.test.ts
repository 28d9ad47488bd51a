// CatalogStore (RELAY.md §4.3): de-duplication, one fetch per batch, LRU with TTL,
// a shorter TTL for missing ids, in-flight fetches shared per API key only.
import { describe, expect, it, vi } from 'vitest';
import { CatalogStore, type FetchCatalogs } from '../src/spycloud/catalog-store.js';
import type { CatalogLookup } from '../src/spycloud/types.js';

const found = (id: string): CatalogLookup => ({ status: 'found', catalog: { id } });

/** A fetch that finds the ids in `known`, records what it was asked, and can be held. */
function fakeFetch(known: (id: string) => boolean = () => true) {
  const asked: string[][] = [];
  let hold: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const fetch: FetchCatalogs = async (ids) => {
    asked.push([...ids]);
    await hold;
    if (failure !== undefined) throw failure;
    return new Map(ids.filter(known).map((id) => [id, found(id)]));
  };
  return {
    fetch,
    asked,
    holdUntil: (promise: Promise<void>) => {
      hold = promise;
    },
    failWith: (error: Error | undefined) => {
      failure = error;
    },
  };
}

describe('CatalogStore', () => {
  it('de-duplicates ids, fetches the uncached ones in one call, and serves them from cache after', async () => {
    const store = new CatalogStore(3600, () => 0);
    const upstream = fakeFetch((id) => id !== 'm');
    const first = await store.resolve(['a', 'b', 'a', 'm'], 'key', upstream.fetch);
    expect(upstream.asked).toEqual([['a', 'b', 'm']]);
    expect(first.get('a')).toEqual(found('a'));
    expect(first.get('m')).toEqual({ status: 'missing' });
    // Found catalogs serve every key; "missing" was what SpyCloud told one key, so another key asks again.
    const second = await store.resolve(['b', 'c', 'm'], 'other key', upstream.fetch);
    expect(upstream.asked).toEqual([['a', 'b', 'm'], ['c', 'm']]);
    expect([...second.keys()].sort()).toEqual(['b', 'c', 'm']);
  });

  it('keeps found ids for the TTL, missing ones for at most 300 s, failed ones not at all', async () => {
    let now = 0;
    const store = new CatalogStore(3600, () => now);
    const upstream = fakeFetch((id) => id === 'f');
    const fetch: FetchCatalogs = async (ids) => {
      const answer = new Map(await upstream.fetch(ids));
      if (ids.includes('x')) answer.set('x', { status: 'failed', reason: 'HTTP 503' });
      return answer;
    };
    expect((await store.resolve(['f', 'm', 'x'], 'k', fetch)).get('x')).toEqual({ status: 'failed', reason: 'HTTP 503' });
    now = 299_999;
    await store.resolve(['f', 'm', 'x'], 'k', fetch);
    expect(upstream.asked).toEqual([['f', 'm', 'x'], ['x']]);
    now = 300_000;
    await store.resolve(['f', 'm'], 'k', fetch);
    expect(upstream.asked.at(-1)).toEqual(['m']);
    now = 3_600_000;
    await store.resolve(['f'], 'k', fetch);
    // Stale: answered from the cache, refreshed a moment later.
    await vi.waitFor(() => expect(upstream.asked.at(-1)).toEqual(['f']));
  });

  it('caps the missing TTL by a shorter catalog TTL, and caches nothing with TTL 0', async () => {
    let now = 0;
    const short = new CatalogStore(60, () => now);
    const upstream = fakeFetch(() => false);
    await short.resolve(['m'], 'k', upstream.fetch);
    now = 60_000;
    await short.resolve(['m'], 'k', upstream.fetch);
    expect(upstream.asked).toHaveLength(2);

    const none = new CatalogStore(0, () => 0);
    const again = fakeFetch();
    await none.resolve(['a'], 'k', again.fetch);
    await none.resolve(['a'], 'k', again.fetch);
    expect(again.asked).toHaveLength(2);
  });

  it('shares an in-flight fetch between callers of the same key only', async () => {
    const store = new CatalogStore(3600, () => 0);
    const upstream = fakeFetch();
    let release!: () => void;
    upstream.holdUntil(new Promise<void>((resolve) => {
      release = resolve;
    }));
    const a1 = store.resolve(['1', '2'], 'key-a', upstream.fetch);
    const a2 = store.resolve(['2', '3'], 'key-a', upstream.fetch);
    const b = store.resolve(['1'], 'key-b', upstream.fetch);
    release();
    await Promise.all([a1, a2, b]);
    expect(upstream.asked).toEqual([['1', '2'], ['3'], ['1']]);
  });

  it('gives a failed fetch to every caller of that key that shared it, and forgets it', async () => {
    const store = new CatalogStore(3600, () => 0);
    const upstream = fakeFetch();
    let release!: () => void;
    upstream.holdUntil(new Promise<void>((resolve) => {
      release = resolve;
    }));
    upstream.failWith(new Error('refused'));
    const first = store.resolve(['1'], 'key-a', upstream.fetch);
    const shared = store.resolve(['1'], 'key-a', upstream.fetch);
    release();
    await expect(first).rejects.toThrow('refused');
    await expect(shared).rejects.toThrow('refused');
    upstream.failWith(undefined);
    expect((await store.resolve(['1'], 'key-a', upstream.fetch)).get('1')).toEqual(found('1'));
    expect(upstream.asked).toEqual([['1'], ['1']]);
  });

  it('evicts the least recently used entry beyond 10,000', async () => {
    const store = new CatalogStore(3600, () => 0);
    const upstream = fakeFetch();
    const ids = Array.from({ length: 10_000 }, (_, n) => String(n));
    await store.resolve(ids, 'k', upstream.fetch);
    await store.resolve(['0'], 'k', upstream.fetch); // touch: now "1" is the least recently used
    await store.resolve(['new'], 'k', upstream.fetch);
    await store.resolve(['0', '2'], 'k', upstream.fetch);
    expect(upstream.asked.slice(1)).toEqual([['new']]);
    await store.resolve(['1'], 'k', upstream.fetch);
    expect(upstream.asked.at(-1)).toEqual(['1']);
  });

  it('refreshes the stale ids of one key together, one refresh per id at a time', async () => {
    let now = 0;
    const store = new CatalogStore(60, () => now);
    const upstream = fakeFetch();
    const ids = Array.from({ length: 24 }, (_, n) => String(n));
    await store.resolve(ids, 'k', upstream.fetch);
    now = 61_000;
    // Three lookups (three observables of a request) see eight stale ids each.
    await Promise.all([0, 8, 16].map((from) => store.resolve(ids.slice(from, from + 8), 'k', upstream.fetch)));
    await store.resolve(ids.slice(0, 4), 'k', upstream.fetch);
    await vi.waitFor(() => expect(upstream.asked).toHaveLength(2));
    expect(upstream.asked[1]).toEqual(ids);
  });

  it('stops serving a catalog to the key whose refresh found it gone, not to other keys', async () => {
    let now = 0;
    const store = new CatalogStore(60, () => now);
    let withdrawn = false;
    const upstream = fakeFetch(() => !withdrawn);
    await store.resolve(['w'], 'key-a', upstream.fetch);
    now = 61_000;
    withdrawn = true;
    expect((await store.resolve(['w'], 'key-a', upstream.fetch)).get('w')).toEqual(found('w'));
    await vi.waitFor(() => expect(upstream.asked).toHaveLength(2));
    await vi.waitFor(async () => expect((await store.resolve(['w'], 'key-a', upstream.fetch)).get('w')).toEqual({ status: 'missing' }));
    // Another key is still served the stale catalog, and its own refresh decides for it.
    expect((await store.resolve(['w'], 'key-b', upstream.fetch)).get('w')).toEqual(found('w'));
    // Found again later (by any key): every key gets it again.
    withdrawn = false;
    await vi.waitFor(() => expect(upstream.asked).toHaveLength(3));
    await vi.waitFor(async () => expect((await store.resolve(['w'], 'key-a', upstream.fetch)).get('w')).toEqual(found('w')));
  });
});
