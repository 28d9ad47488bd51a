// AggregateCache (RELAY.md §9): one in-flight read per (API key, period), shared by
// that key only; aggregates kept for the TTL from the time they are as of; failures
// never kept; LRU-bounded.
import { describe, expect, it } from 'vitest';
import { TileTally, type TileAggregate } from '../src/tiles/aggregate.js';
import { AggregateCache } from '../src/tiles/cache.js';
import type { Period } from '../src/tiles/definitions.js';
import { periodWindow } from '../src/tiles/window.js';

const NOW = Date.UTC(2026, 2, 15, 14, 30);
const figures = (now = NOW, period: Period = 'last_7_days'): TileAggregate => new TileTally(periodWindow(period, now)).result(undefined);

/** A read that counts its calls and answers when told to. */
function heldRead(result: () => TileAggregate | Error = () => figures()) {
  let calls = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    read: async () => {
      calls += 1;
      await released;
      const outcome = result();
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    calls: () => calls,
    release: () => release(),
  };
}

describe('AggregateCache', () => {
  it('concurrent gets of one key and period share one read', async () => {
    const cache = new AggregateCache(0, () => NOW);
    const upstream = heldRead();
    const gets = Array.from({ length: 5 }, () => cache.get('key', 'last_7_days', upstream.read));
    upstream.release();
    const answers = await Promise.all(gets);
    expect(upstream.calls()).toBe(1);
    expect(answers.map((a) => a.outcome)).toEqual(['read', 'shared', 'shared', 'shared', 'shared']);
    expect(new Set(answers.map((a) => a.aggregate)).size).toBe(1);
    // TTL 0: nothing kept once the read is over.
    await cache.get('key', 'last_7_days', upstream.read);
    expect(upstream.calls()).toBe(2);
  });

  it('other keys and other periods never join a read in flight, nor its failure', async () => {
    const cache = new AggregateCache(300, () => NOW);
    const failing = heldRead(() => new Error('refused'));
    const mine = cache.get('key', 'last_7_days', failing.read);
    const sameKeyOtherPeriod = cache.get('key', 'last_30_days', async () => figures(NOW, 'last_30_days'));
    const otherKey = cache.get('other key', 'last_7_days', async () => figures());
    const joined = cache.get('key', 'last_7_days', failing.read);
    expect((await sameKeyOtherPeriod).outcome).toBe('read');
    expect((await otherKey).outcome).toBe('read');
    failing.release();
    await expect(mine).rejects.toThrow('refused');
    await expect(joined).rejects.toThrow('refused');
    expect(failing.calls()).toBe(1);
    // The failure is not remembered: the next get reads again.
    const retry = await cache.get('key', 'last_7_days', async () => figures());
    expect(retry.outcome).toBe('read');
  });

  it('keeps an aggregate until TTL after the time it is as of', async () => {
    let now = NOW;
    const cache = new AggregateCache(60, () => now);
    let reads = 0;
    const read = async () => {
      reads += 1;
      return figures(now);
    };
    await cache.get('key', 'last_7_days', read);
    now = NOW + 59_999;
    expect((await cache.get('key', 'last_7_days', read)).outcome).toBe('hit');
    now = NOW + 60_000;
    expect((await cache.get('key', 'last_7_days', read)).outcome).toBe('read');
    expect(reads).toBe(2);
  });

  it('an aggregate that is already stale when its read ends is not kept', async () => {
    let now = NOW;
    const cache = new AggregateCache(60, () => now);
    await cache.get('key', 'last_7_days', async () => {
      now = NOW + 61_000;
      return figures(NOW);
    });
    expect((await cache.get('key', 'last_7_days', async () => figures(now))).outcome).toBe('read');
  });

  it('holds at most its bound, dropping the least recently used', async () => {
    const cache = new AggregateCache(300, () => NOW, 3);
    const read = async () => figures();
    for (const key of ['a', 'b', 'c']) await cache.get(key, 'last_7_days', read);
    expect((await cache.get('a', 'last_7_days', read)).outcome).toBe('hit');
    await cache.get('d', 'last_7_days', read);
    // b was the least recently used: gone; a, c and d stay.
    expect((await cache.get('a', 'last_7_days', read)).outcome).toBe('hit');
    expect((await cache.get('c', 'last_7_days', read)).outcome).toBe('hit');
    expect((await cache.get('d', 'last_7_days', read)).outcome).toBe('hit');
    expect((await cache.get('b', 'last_7_days', read)).outcome).toBe('read');
  });
});
