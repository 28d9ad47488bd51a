// Adaptive per-key concurrency (issue 11; RELAY.md §4.2) over real HTTP: a key
// starts at 8 SpyCloud calls in flight, grows towards SPYCLOUD_MAX_CONCURRENCY
// while SpyCloud answers, and halves when SpyCloud throttles, without a retry storm.
import { afterEach, describe, expect, it } from 'vitest';
import { json, type Handler } from './support/stand-in.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

let worlds: XdrWorld[] = [];
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.close()));
  worlds = [];
});

const emails = (n: number) => Array.from({ length: n }, (_, i) => `person${i}@example.org`);

/** Answers every records call after `ms` with no records, counting calls in flight; `refuse` may throttle instead. */
function measured(ms: number, refuse: (inFlight: number) => boolean = () => false) {
  const stats = { inFlight: 0, most: 0, throttled: 0, answered: 0 };
  const handler: Handler = async (req, res, seen) => {
    stats.inFlight += 1;
    stats.most = Math.max(stats.most, stats.inFlight);
    try {
      if (refuse(stats.inFlight)) {
        stats.throttled += 1;
        json({ message: 'Too Many Requests' }, 429, { 'x-amzn-errortype': 'TooManyRequestsException', 'retry-after': '0' })(req, res, seen);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, ms));
      stats.answered += 1;
      json({ cursor: '', hits: 0, results: [] })(req, res, seen);
    } finally {
      stats.inFlight -= 1;
    }
  };
  return { stats, handler };
}

async function world(env: Record<string, string> = {}) {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5', ...env });
  worlds.push(w);
  return w;
}

describe('adaptive per-key concurrency', () => {
  it('grows past the starting 8 calls in flight while SpyCloud answers, never past the ceiling', async () => {
    const w = await world({ SPYCLOUD_MAX_CONCURRENCY: '24' });
    const { stats, handler } = measured(40);
    w.spycloud.route('/breach/data/emails/*', handler);
    const { body } = await w.relay.post('/observe/observables', emails(120).map((value) => ({ type: 'email', value })), await w.auth());
    expect(body).toEqual({ data: {} });
    expect(stats.answered).toBe(120);
    expect(stats.most).toBeGreaterThan(8);
    expect(stats.most).toBeLessThanOrEqual(24);
  });

  it('halves when SpyCloud throttles, so every lookup still succeeds with few 429s (no retry storm)', async () => {
    const w = await world({ SPYCLOUD_MAX_CONCURRENCY: '64' });
    // SpyCloud throttles whenever more than 12 calls of the key are in flight.
    const { stats, handler } = measured(40, (inFlight) => inFlight > 12);
    w.spycloud.route('/breach/data/emails/*', handler);
    const { body } = await w.relay.post('/observe/observables', emails(150).map((value) => ({ type: 'email', value })), await w.auth());
    expect(body).toEqual({ data: {} });
    expect(stats.answered).toBe(150);
    expect(stats.throttled).toBeGreaterThan(0);
    // Growing to 64 unchecked would have meant dozens of 429s per round trip, and lookups failing after 2 retries.
    expect(stats.throttled).toBeLessThan(40);
  });
});
