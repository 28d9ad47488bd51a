// KeyLimiter (RELAY.md §4.2): at most N tasks per API key at once, FIFO, and a waiter
// gives up when its request's budget would run out.
import { describe, expect, it } from 'vitest';
import { KeyLimiter, QueueTimeout } from '../src/spycloud/key-limiter.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyLimiter', () => {
  it('runs at most N tasks of one key at once, the waiting ones in arrival order', async () => {
    const limiter = new KeyLimiter(2);
    const gates = Array.from({ length: 5 }, deferred);
    const started: number[] = [];
    const runs = gates.map((gate, n) => limiter.run('k', async () => {
      started.push(n);
      await gate.promise;
      return n;
    }));
    await tick();
    expect(started).toEqual([0, 1]);
    gates[1]?.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
  });

  it('never makes one key wait for another', async () => {
    const limiter = new KeyLimiter(1);
    const held = deferred();
    const a = limiter.run('a', () => held.promise);
    expect(await limiter.run('b', async () => 'b done')).toBe('b done');
    held.resolve();
    await a;
  });

  it('frees the slot of a task that fails', async () => {
    const limiter = new KeyLimiter(1);
    await expect(limiter.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run('k', async () => 'next')).toBe('next');
  });

  it('lets a waiter give up after maxWaitMs without taking a slot', async () => {
    const limiter = new KeyLimiter(1);
    const held = deferred();
    const holder = limiter.run('k', () => held.promise);
    const impatient = limiter.run('k', async () => 'never', 10);
    const patient = limiter.run('k', async () => 'patient');
    await expect(impatient).rejects.toBeInstanceOf(QueueTimeout);
    held.resolve();
    await holder;
    expect(await patient).toBe('patient');
    // The slot count is intact: two tasks in a row still run, one at a time.
    const order: string[] = [];
    await Promise.all(['x', 'y'].map((name) => limiter.run('k', async () => {
      order.push(`${name} in`);
      await tick();
      order.push(`${name} out`);
    })));
    expect(order).toEqual(['x in', 'x out', 'y in', 'y out']);
  });

  it('gives up at once when no wait is allowed, but runs at once when a slot is free', async () => {
    const limiter = new KeyLimiter(1);
    expect(await limiter.run('k', async () => 'free', 0)).toBe('free');
    const held = deferred();
    const holder = limiter.run('k', () => held.promise);
    await expect(limiter.run('k', async () => 'never', -5)).rejects.toBeInstanceOf(QueueTimeout);
    held.resolve();
    await holder;
  });

  it('treats a wait beyond a timer\'s range as no limit (setTimeout would fire at once)', async () => {
    const limiter = new KeyLimiter(1);
    const held = deferred();
    const holder = limiter.run('k', () => held.promise);
    let settled = false;
    const waiter = limiter.run('k', async () => 'ran', 2 ** 40).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(settled).toBe(false);
    held.resolve();
    await holder;
    expect(await waiter).toBe('ran');
  });
});

describe('KeyLimiter, adaptive (AIMD)', () => {
  const run = (limiter: KeyLimiter, key: string, feedback: 'grow' | 'shrink' | 'hold') =>
    limiter.run(key, async () => feedback, Number.POSITIVE_INFINITY, (f) => f);

  it('starts at its initial limit and grows by one per answer up to the ceiling while nothing is throttled', async () => {
    const limiter = new KeyLimiter(32);
    expect(limiter.limit('k')).toBe(8);
    for (let i = 0; i < 10; i++) await run(limiter, 'k', 'grow');
    expect(limiter.limit('k')).toBe(18);
    for (let i = 0; i < 100; i++) await run(limiter, 'k', 'grow');
    expect(limiter.limit('k')).toBe(32);
    expect(limiter.limit('other')).toBe(8);
  });

  it('halves on throttling, then grows by one per window of answers', async () => {
    const limiter = new KeyLimiter(32);
    for (let i = 0; i < 8; i++) await run(limiter, 'k', 'grow');
    expect(limiter.limit('k')).toBe(16);
    await run(limiter, 'k', 'shrink');
    expect(limiter.limit('k')).toBe(8);
    for (let i = 0; i < 7; i++) await run(limiter, 'k', 'grow');
    expect(limiter.limit('k')).toBe(8);
    await run(limiter, 'k', 'grow');
    expect(limiter.limit('k')).toBe(9);
    await run(limiter, 'k', 'hold');
    expect(limiter.limit('k')).toBe(9);
  });

  it('halves once for a burst of throttled calls that were in flight together, never below 1', async () => {
    const limiter = new KeyLimiter(32);
    for (let i = 0; i < 8; i++) await run(limiter, 'k', 'grow');
    const gate = deferred();
    const burst = Array.from({ length: 10 }, () => limiter.run('k', async () => {
      await gate.promise;
      return 'shrink' as const;
    }, Number.POSITIVE_INFINITY, (f) => f));
    gate.resolve();
    await Promise.all(burst);
    expect(limiter.limit('k')).toBe(8);
    for (let i = 0; i < 10; i++) await run(limiter, 'k', 'shrink');
    expect(limiter.limit('k')).toBe(1);
  });

  it('lets more calls run at once as the limit grows', async () => {
    const limiter = new KeyLimiter(4, 1);
    const gates = Array.from({ length: 4 }, deferred);
    let running = 0;
    let most = 0;
    const runs = gates.map((gate) => limiter.run('k', async () => {
      running += 1;
      most = Math.max(most, running);
      await gate.promise;
      running -= 1;
      return 'grow' as const;
    }, Number.POSITIVE_INFINITY, (f) => f));
    await tick();
    expect(most).toBe(1);
    gates[0]?.resolve();
    await tick();
    await tick();
    // One answer: the limit is 2, so two more of the waiting calls run together.
    expect(most).toBe(2);
    for (const gate of gates) gate.resolve();
    await Promise.all(runs);
  });
});
