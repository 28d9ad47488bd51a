// The relay-wide cap on SpyCloud answer bytes (issues 7 and 15): bytes held as they
// arrive, a small chunk never waits behind a larger one, a wait bounded by the
// caller, and a standstill broken at the cost of the key holding the most.
import { describe, expect, it } from 'vitest';
import { AnswerBytes, NoRoom } from '../src/spycloud/answer-bytes.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('AnswerBytes', () => {
  it('grants at once while there is room, waits when there is none, and hands room on when an answer closes', async () => {
    const bytes = new AnswerBytes(100);
    const a = bytes.open('a');
    const b = bytes.open('b');
    expect(bytes.tryTake(a, 60)).toBe(true);
    expect(bytes.tryTake(b, 50)).toBe(false);
    await expect(bytes.take(b, 50, 0)).rejects.toBeInstanceOf(NoRoom);
    const waiting = bytes.take(b, 50, 10_000);
    bytes.close(a);
    await waiting;
    expect(bytes.inUse).toBe(50);
    expect(b.bytes).toBe(50);
    bytes.close(b);
    expect(bytes.inUse).toBe(0);
  });

  it('a small chunk that fits is granted ahead of a larger one waiting before it', async () => {
    const bytes = new AnswerBytes(100);
    const first = bytes.open('busy');
    expect(bytes.tryTake(first, 60)).toBe(true);
    const order: string[] = [];
    const large = bytes.take(bytes.open('busy'), 60, 10_000).then(() => order.push('large'));
    // Arriving later, with large still waiting: it fits in the 40 free, so it does not queue.
    expect(bytes.tryTake(bytes.open('light'), 5)).toBe(true);
    const medium = bytes.take(bytes.open('light'), 30, 10_000).then(() => order.push('medium'));
    await turn();
    expect(order).toEqual(['medium']);
    bytes.close(first);
    await Promise.all([large, medium]);
    expect(order).toEqual(['medium', 'large']);
    expect(bytes.inUse).toBe(5 + 30 + 60);
  });

  it('fails at once when the answer would pass the whole cap, and after the wait it was allowed', async () => {
    const bytes = new AnswerBytes(100);
    const hold = bytes.open('a');
    expect(bytes.tryTake(hold, 70)).toBe(true);
    await expect(bytes.take(hold, 31, 10_000)).rejects.toBeInstanceOf(NoRoom);
    const other = bytes.open('b');
    await expect(bytes.take(other, 40, 20)).rejects.toBeInstanceOf(NoRoom);
    expect(bytes.inUse).toBe(70);
  });

  it('a paused answer waits while another answer holding bytes still reads', async () => {
    const bytes = new AnswerBytes(100);
    const reading = bytes.open('a');
    const paused = bytes.open('b');
    expect(bytes.tryTake(reading, 50)).toBe(true);
    expect(bytes.tryTake(paused, 40)).toBe(true);
    let settled = false;
    const waiting = bytes.take(paused, 20, 10_000).finally(() => {
      settled = true;
    });
    await turn();
    expect(settled).toBe(false);
    bytes.close(reading);
    await waiting;
    expect(paused.bytes).toBe(60);
  });

  it('when every answer holding bytes waits, a waiter of the key holding the most gives way', async () => {
    const bytes = new AnswerBytes(100);
    const light = bytes.open('light');
    const busy1 = bytes.open('busy');
    const busy2 = bytes.open('busy');
    expect(bytes.tryTake(light, 20)).toBe(true);
    expect(bytes.tryTake(busy1, 30)).toBe(true);
    expect(bytes.tryTake(busy2, 30)).toBe(true);
    const outcome: string[] = [];
    const track = (name: string, wait: Promise<void>) => wait.then(() => outcome.push(`${name} granted`), () => outcome.push(`${name} failed`));
    const busy1Waits = track('busy1', bytes.take(busy1, 30, 10_000));
    const busy2Waits = track('busy2', bytes.take(busy2, 30, 10_000));
    await turn();
    expect(outcome).toEqual([]);
    // The light answer waits too: now no answer could ever give room back.
    const lightWaits = track('light', bytes.take(light, 30, 10_000));
    await turn();
    // Busy holds 60 in all against light's 20: one of busy's answers (the first of equals) fails;
    // the room it gives back goes to the light key first, though busy2 waited longer.
    expect(outcome).toEqual(['busy1 failed']);
    bytes.close(busy1);
    await Promise.all([busy1Waits, lightWaits]);
    expect(outcome).toEqual(['busy1 failed', 'light granted']);
    bytes.close(light);
    await busy2Waits;
    expect(outcome).toEqual(['busy1 failed', 'light granted', 'busy2 granted']);
    bytes.close(busy2);
    expect(bytes.inUse).toBe(0);
  });
});
