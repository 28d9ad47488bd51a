// Fair shares of the relay-wide SpyCloud resources (issue 15, findings 1 and 2;
// RELAY.md §4.2), over real HTTP: a busy key's answers pressing the byte cap, or
// its calls filling the connection pool, do not hold up a light key's call.
import { afterEach, describe, expect, it } from 'vitest';
import { RelayMetrics } from '../src/metrics.js';
import type { RelayOptions } from '../src/relay.js';
import { EXAMPLE_EMAIL } from './support/spycloud.js';
import { json, type Handler } from './support/stand-in.js';
import { API_KEY, startXdrWorld, type XdrWorld } from './support/xdr.js';

const LIGHT_KEY = 'sc-light-tenant-key-0042';
const BYTE_CAP_FULL = "SpyCloud's answers would pass the relay's limit of 1 MiB held at once; try again shortly, or narrow the investigation.";

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function world(env: Record<string, string>, options: RelayOptions = {}): Promise<XdrWorld> {
  const w = await startXdrWorld({ SPYCLOUD_RETRY_BASE_MS: '5', ...env }, options);
  closers.push(() => w.close());
  return w;
}

const emailPath = (email: string) => `/breach/data/emails/${encodeURIComponent(email)}`;
const observe = async (w: XdrWorld, values: string[], key = API_KEY) =>
  w.relay.post('/observe/observables', values.map((value) => ({ type: 'email', value })), await w.auth({ key }));
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
};

/** A gate the test opens: handlers await `wait()`, the test calls `open()`. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, wait: () => opened };
}

describe('the answer-byte cap (finding 1)', () => {
  it('a light key\'s small answer goes through while a busy key\'s large answers trickle in, their lengths declared', async () => {
    const w = await world({ SPYCLOUD_MAX_BUFFERED_MB: '1', SPYCLOUD_TIMEOUT_MS: '60000' });
    const trickle = gate();
    let streaming = 0;
    // Two answers of 600 KB each (together more than the cap), each sends 200 KB and stalls.
    const large: Handler = async (_req, res) => {
      const text = JSON.stringify({ cursor: '', hits: 0, results: [], padding: 'x'.repeat(600_000) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, 200_000));
      streaming += 1;
      await trickle.wait();
      res.end(text.slice(200_000));
    };
    w.spycloud.route(emailPath('large1@example.org'), large);
    w.spycloud.route(emailPath('large2@example.org'), large);
    let busyDone = false;
    const busy = observe(w, ['large1@example.org', 'large2@example.org']).finally(() => {
      busyDone = true;
    });
    await until(() => streaming === 2);

    // Room is free (only the 400 KB that came are held): the light key's answer fits and does not
    // queue; it is answered while the busy answers still trickle (a generous bound, against a hang).
    const light = observe(w, [EXAMPLE_EMAIL], LIGHT_KEY);
    const first = await Promise.race([light.then(() => 'light'), new Promise((resolve) => setTimeout(resolve, 8_000, 'neither'))]);
    expect(first).toBe('light');
    expect(busyDone).toBe(false);
    const { body: lightBody } = await light;
    expect(lightBody.errors).toEqual([{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 777' }]);
    expect(lightBody.data.sightings.count).toBe(4);

    trickle.open();
    // The busy key's own answers, together past the cap, end one way or the other: never a hang.
    const { body } = await busy;
    for (const error of body.errors ?? []) expect(error.message).toBe(BYTE_CAP_FULL);
  }, 30_000);

  it('a light key\'s answer half read is not the one to give way when a busy key\'s answer fills the cap', async () => {
    const metrics = new RelayMetrics();
    const w = await world({ SPYCLOUD_MAX_BUFFERED_MB: '1' }, { metrics });
    const lightGate = gate();
    const busyGate = gate();
    let lightStarted = false;
    let busySent = false;
    // The light key's answer: 64 KB, 16 KB at first, the rest once the test says so.
    w.spycloud.route(emailPath('analyst@light.example'), async (_req, res) => {
      const text = JSON.stringify({ cursor: '', hits: 0, results: [], padding: 'y'.repeat(64_000) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.slice(0, 16_000));
      lightStarted = true;
      await lightGate.wait();
      res.end(text.slice(16_000));
    });
    // The busy key's answer: 1,000,000 bytes at once, then (later) the rest, just under the cap in all.
    w.spycloud.route(emailPath('everything@busy.example'), async (_req, res) => {
      const text = JSON.stringify({ cursor: '', hits: 0, results: [], padding: 'z'.repeat(1_040_000) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.slice(0, 1_000_000), () => {
        busySent = true;
      });
      await busyGate.wait();
      res.end(text.slice(1_000_000));
    });
    const light = observe(w, ['analyst@light.example'], LIGHT_KEY);
    await until(() => lightStarted);
    const busy = observe(w, ['everything@busy.example']);
    await until(() => busySent);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The light answer's rest finds no room: it waits (before: it failed at once) ...
    lightGate.open();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // ... and once the busy answer waits too, neither could go on: the busy one, holding the most, gives way.
    busyGate.open();
    expect((await light).body).toEqual({ data: {} });
    const { body } = await busy;
    const gaveWay = JSON.stringify({ errors: [{ type: 'fatal', code: 'unknown', message: BYTE_CAP_FULL }] });
    expect([JSON.stringify({ data: {} }), gaveWay]).toContain(JSON.stringify(body));
    // Giving way means both answers waited for room, and the metrics say so.
    if (JSON.stringify(body) === gaveWay) {
      expect(await metrics.text()).toMatch(/^relay_upstream_queue_seconds_count\{resource="answer_bytes"\} 2$/m);
    }
  });
});

describe('the connection pool (finding 2)', () => {
  it('a light key\'s call takes the next free connection, ahead of the calls busy keys queued before it', async () => {
    const w = await world({ SPYCLOUD_MAX_CONNECTIONS: '4', SPYCLOUD_MAX_CONCURRENCY: '8' });
    const order: string[] = [];
    const held: Array<() => void> = [];
    w.spycloud.route('/breach/data/emails/*', async (req, res, seen) => {
      order.push(String(seen.headers['x-api-key']));
      await new Promise<void>((resolve) => held.push(resolve));
      json({ cursor: '', hits: 0, results: [] })(req, res, seen);
    });
    const busyKeys = ['sc-busy-key-0001', 'sc-busy-key-0002'];
    const busy = busyKeys.map((key, k) => observe(w, Array.from({ length: 8 }, (_, i) => `busy${k}-${i}@example.org`), key));
    // Four calls hold the four connections; the rest of the sixteen are queued in the relay.
    await until(() => held.length === 4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const light = observe(w, ['analyst@light.example'], LIGHT_KEY);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Let the calls through one at a time: each answer frees one connection for one queued call.
    let released = 0;
    while (released < 17) {
      await until(() => held.length > 0);
      (held.shift() as () => void)();
      released += 1;
    }
    expect((await light).body).toEqual({ data: {} });
    for (const answer of await Promise.all(busy)) expect(answer.body).toEqual({ data: {} });
    expect(order).toHaveLength(17);
    // First come, first served would have put it 17th, after every busy call queued before it;
    // fewest-in-use-first serves it on the first or second free connection.
    expect(order.indexOf(LIGHT_KEY)).toBeGreaterThanOrEqual(4);
    expect(order.indexOf(LIGHT_KEY)).toBeLessThanOrEqual(5);
  });

  it('time spent waiting for a connection does not count against the call\'s timeout; the budget bounds it', async () => {
    const metrics = new RelayMetrics();
    const w = await world({ SPYCLOUD_MAX_CONNECTIONS: '1', SPYCLOUD_TIMEOUT_MS: '600' }, { metrics });
    let first = true;
    w.spycloud.route('/breach/data/emails/*', async (req, res, seen) => {
      if (first) {
        // The busy key's call holds the only connection until its own timeout cuts it.
        first = false;
        await new Promise<void>((resolve) => res.once('close', resolve));
        return;
      }
      // The light key's answer takes most of a timeout of its own.
      await new Promise((resolve) => setTimeout(resolve, 300));
      json({ cursor: '', hits: 0, results: [] })(req, res, seen);
    });
    const busy = observe(w, ['slow@busy.example']);
    await until(() => w.spycloud.seen.length === 1);
    const light = await observe(w, ['analyst@light.example'], LIGHT_KEY);
    expect(light.body).toEqual({ data: {} });
    expect((await busy).body.errors[0].message).toBe('SpyCloud did not answer within 600 ms.');
    const text = await metrics.text();
    // The light call waited for a connection (the busy one did not), and no answer waited for bytes.
    expect(text).toMatch(/^relay_upstream_queue_seconds_count\{resource="connection"\} 1$/m);
    expect(text).not.toContain('resource="answer_bytes"');
  });

  it('a call still waiting for a connection when the request\'s budget runs out ends with the budget error, not a hang', async () => {
    const w = await world({ SPYCLOUD_MAX_CONNECTIONS: '1', SPYCLOUD_TIMEOUT_MS: '60000', REQUEST_BUDGET_MS: '1000' });
    w.spycloud.route('/breach/data/emails/*', async (_req, res) => {
      // Holds the only connection until the relay gives up on it.
      await new Promise<void>((resolve) => res.once('close', resolve));
    });
    const busy = observe(w, ['slow@busy.example']);
    await until(() => w.spycloud.seen.length === 1);
    const light = await observe(w, ['analyst@light.example'], LIGHT_KEY);
    expect(light.body).toEqual({ errors: [{ type: 'fatal', code: 'unknown', message: 'The relay ran out of its 1000 ms budget; results are partial.' }] });
    expect((await busy).body.errors[0].message).toBe('The relay ran out of its 1000 ms budget; results are partial.');
  });
});
