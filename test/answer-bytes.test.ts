// The relay-wide cap on SpyCloud answer bytes (issue 7): first come, first served,
// a wait bounded by the caller, and room handed on when bytes are released.
import { describe, expect, it } from 'vitest';
import { AnswerBytes, NoRoom } from '../src/spycloud/answer-bytes.js';

describe('AnswerBytes', () => {
  it('grants at once while there is room, and waits when there is none', async () => {
    const bytes = new AnswerBytes(100);
    await bytes.reserve(60, 0);
    expect(bytes.inUse).toBe(60);
    await expect(bytes.reserve(50, 0)).rejects.toBeInstanceOf(NoRoom);
    const waiting = bytes.reserve(50, 10_000);
    bytes.release(60);
    await waiting;
    expect(bytes.inUse).toBe(50);
  });

  it('serves waiters in order: a small late one does not overtake a large early one', async () => {
    const bytes = new AnswerBytes(100);
    await bytes.reserve(90, 0);
    const order: string[] = [];
    const large = bytes.reserve(80, 10_000).then(() => order.push('large'));
    const small = bytes.reserve(5, 10_000).then(() => order.push('small'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    bytes.release(90);
    await Promise.all([large, small]);
    expect(order).toEqual(['large', 'small']);
    expect(bytes.inUse).toBe(85);
  });

  it('gives up after the wait it was allowed, and lets the next waiter in', async () => {
    const bytes = new AnswerBytes(100);
    await bytes.reserve(50, 0);
    const tooLarge = bytes.reserve(80, 20);
    const fits = bytes.reserve(40, 10_000);
    await expect(tooLarge).rejects.toBeInstanceOf(NoRoom);
    await fits;
    expect(bytes.inUse).toBe(90);
  });
});

describe('AnswerBytes.tryReserve', () => {
  it('grants what fits at once, even with waiters queued, and never waits', async () => {
    const bytes = new AnswerBytes(100);
    await bytes.reserve(60, 0);
    const waiting = bytes.reserve(50, 10_000);
    expect(bytes.tryReserve(30)).toBe(true);
    expect(bytes.tryReserve(20)).toBe(false);
    expect(bytes.inUse).toBe(90);
    bytes.release(90);
    await waiting;
    expect(bytes.inUse).toBe(50);
  });
});
