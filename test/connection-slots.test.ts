// Fair shares of the relay-wide SpyCloud connections (issue 15): a slot that comes
// free goes to the waiting key with the fewest calls holding slots, equals in turn;
// a wait bounded by the caller.
import { describe, expect, it } from 'vitest';
import { ConnectionSlots } from '../src/spycloud/connection-slots.js';
import { QueueTimeout } from '../src/spycloud/key-limiter.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('ConnectionSlots', () => {
  it('hands a freed slot to the waiting key with the fewest slots, ahead of a busy key that queued first', async () => {
    const slots = new ConnectionSlots(3);
    for (let i = 0; i < 3; i++) await slots.acquire('busy', 10_000);
    const served: string[] = [];
    const queue = (key: string) => slots.acquire(key, 10_000).then(() => served.push(key));
    const waits = [queue('busy'), queue('busy'), queue('other'), queue('light')];
    await turn();
    expect(served).toEqual([]);
    // 'other' and 'light' both hold none: 'other' queued first, so it goes first, then 'light'.
    slots.release('busy');
    slots.release('busy');
    await turn();
    expect(served).toEqual(['other', 'light']);
    // Now busy holds 1, other 1, light 1: busy's turn is the oldest.
    slots.release('other');
    await turn();
    expect(served).toEqual(['other', 'light', 'busy']);
    slots.release('light');
    await Promise.all(waits);
    expect(served).toEqual(['other', 'light', 'busy', 'busy']);
    expect(slots.inUse).toBe(3);
  });

  it('keeps 1 slot in 32 for keys with fewer calls than that, so a light key need not wait for a busy burst to end', async () => {
    const slots = new ConnectionSlots(64);
    for (let i = 0; i < 62; i++) expect(slots.tryAcquire('busy')).toBe(true);
    // The last 2 of 64 are the reserve: the busy key waits for them...
    const served: string[] = [];
    const busy = slots.acquire('busy', 10_000).then(() => served.push('busy'));
    await turn();
    expect(served).toEqual([]);
    // ...while a light key takes them at once.
    expect(slots.tryAcquire('light')).toBe(true);
    expect(slots.tryAcquire('light')).toBe(true);
    expect(slots.inUse).toBe(64);
    // A freed slot refills the reserve first; the busy key is served once more than the reserve is free.
    slots.release('light');
    slots.release('busy');
    await turn();
    expect(served).toEqual([]);
    slots.release('busy');
    await busy;
    expect(served).toEqual(['busy']);
    expect(slots.inUse).toBe(62);
  });

  it('equals take turns: a key served goes behind the others still waiting', async () => {
    const slots = new ConnectionSlots(1);
    await slots.acquire('x', 10_000);
    const served: string[] = [];
    const queue = (key: string) => slots.acquire(key, 10_000).then(() => served.push(key));
    const waits = [queue('a'), queue('a'), queue('b'), queue('b')];
    for (const key of ['x', 'a', 'b', 'a']) {
      slots.release(key);
      await turn();
    }
    await Promise.all(waits);
    expect(served).toEqual(['a', 'b', 'a', 'b']);
  });

  it('gives up after the wait it was allowed, and a later release skips the one that left', async () => {
    const slots = new ConnectionSlots(1);
    await slots.acquire('a', 10_000);
    await expect(slots.acquire('b', 0)).rejects.toBeInstanceOf(QueueTimeout);
    await expect(slots.acquire('b', 20)).rejects.toBeInstanceOf(QueueTimeout);
    const c = slots.acquire('c', 10_000);
    slots.release('a');
    await c;
    expect(slots.inUse).toBe(1);
    slots.release('c');
    expect(slots.inUse).toBe(0);
    // A release of a key holding nothing changes nothing.
    slots.release('nobody');
    expect(slots.inUse).toBe(0);
  });
});
