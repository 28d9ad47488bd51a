// Property-based (RELAY.md §9): whatever records the watchlist holds, whatever the
// period and the clock, the severity bars and the timeline each add up to the
// `Exposed records` metric, which counts exactly the records published in the window.
// One relay over real HTTP takes every run; its clock is set per run.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json } from './support/stand-in.js';
import { WATCHLIST_PATH } from './support/watchlist.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const RUNS = 100;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PERIOD_MS: Record<string, number> = { last_24_hours: DAY, last_7_days: 7 * DAY, last_30_days: 30 * DAY, last_90_days: 90 * DAY };

const clock = { now: 0 };
let records: object[] = [];
let world: XdrWorld;
beforeAll(async () => {
  // No cache: each request reads the run's records afresh.
  world = await startXdrWorld({ TILES_CACHE_TTL_S: '0', TILES_MAX_PAGES: '3' }, { now: () => clock.now });
  world.spycloud.route(WATCHLIST_PATH, (req, res, seen) => {
    // Two pages, so that pages are joined too.
    const second = seen.url.includes('cursor=');
    const half = Math.ceil(records.length / 2);
    json({ cursor: second ? '' : 'next', results: second ? records.slice(half) : records.slice(0, half) })(req, res, seen);
  });
});
afterAll(() => world.close());

/** A publish date SpyCloud might send for `ms`, in one of the forms it uses. */
function spelled(ms: number, form: number): string {
  const iso = new Date(ms).toISOString();
  switch (form) {
    case 0:
      return `${iso.slice(0, 19)}Z`;
    case 1:
      return iso;
    case 2: {
      // The same instant at +05:30.
      const local = new Date(ms + 330 * 60_000).toISOString();
      return `${local.slice(0, 19)}+05:30`;
    }
    default:
      return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  }
}

interface Generated {
  record: Record<string, unknown>;
  /** When it was published, or undefined when its date is no date. */
  at: number | undefined;
}

const recordFor = (now: number, period: number) => fc.record({
  offset: fc.oneof(
    // Around the window's edges, where off-by-one errors live.
    fc.constantFrom(-period - 1000, -period, -period + 1, -period + 1000, -1000, 0, 1, 1000, -HOUR, -DAY),
    fc.integer({ min: -period - 2 * DAY, max: DAY }),
  ),
  wholeSeconds: fc.boolean(),
  form: fc.integer({ min: 0, max: 3 }),
  broken: fc.constantFrom(undefined, undefined, undefined, undefined, 'yesterday', '', null, 42),
  severity: fc.oneof(fc.integer({ min: -3, max: 40 }), fc.constantFrom(undefined, '30', 2.5, null)),
  email: fc.constantFrom(undefined, 'a@acme.example', 'A@ACME.example', 'b@acme.example', ''),
  username: fc.constantFrom(undefined, 'a', 'carol77'),
  source: fc.constantFrom(undefined, 1, 2, '3', 4),
  machine: fc.constantFrom(undefined, '', 'm1', 'm2'),
  passwordType: fc.constantFrom(undefined, 'plaintext', 'bcrypt'),
}).map((f): Generated => {
  let at = now + f.offset;
  if (f.wholeSeconds || f.form !== 1) at = Math.floor(at / 1000) * 1000;
  const record: Record<string, unknown> = { document_id: 'd' };
  const fields: Record<string, unknown> = {
    email: f.email, username: f.username, source_id: f.source, severity: f.severity, infected_machine_id: f.machine, password_type: f.passwordType,
  };
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) record[name] = value;
  if (f.broken === undefined) record.spycloud_publish_date = spelled(at, f.form);
  else record.spycloud_publish_date = f.broken;
  return { record, at: f.broken === undefined ? at : undefined };
});

const scenario = fc.record({
  period: fc.constantFrom(...Object.keys(PERIOD_MS)),
  // Any instant of 2020–2030, often on a UTC hour or midnight.
  now: fc.oneof(
    fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
    fc.integer({ min: Date.UTC(2020, 0, 1) / HOUR, max: Date.UTC(2030, 0, 1) / HOUR }).map((h) => h * HOUR),
  ),
}).chain(({ period, now }) => fc.record({
  period: fc.constant(period),
  now: fc.constant(now),
  generated: fc.array(recordFor(now, PERIOD_MS[period] as number), { maxLength: 60 }),
}));

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('tile figures add up (property-based)', () => {
  it('severity bars and timeline each sum to Exposed records, the records of the window', async () => {
    await fc.assert(fc.asyncProperty(scenario, async ({ period, now, generated }) => {
      clock.now = now;
      records = generated.map((g) => g.record);
      const headers = await world.auth();
      const tile = async (id: string) => {
        const { status, body } = await world.relay.post('/tiles/tile-data', { tile_id: id, period }, headers);
        expect(status).toBe(200);
        expect(body.errors).toBeUndefined();
        return body.data;
      };
      const exposed = (await tile('spycloud-exposure')).data[0];
      const severity = await tile('spycloud-severity');
      const timeline = await tile('spycloud-timeline');

      const periodMs = PERIOD_MS[period] as number;
      const inWindow = generated.filter((g) => g.at !== undefined && g.at > now - periodMs && g.at <= now).length;
      expect(exposed).toMatchObject({ label: 'Exposed records', value: inWindow });
      expect(sum(severity.data.map((bar: any) => bar.value))).toBe(inWindow);
      expect(sum(timeline.data.map((bar: any) => bar.value))).toBe(inWindow);
      for (const bar of severity.data) expect(bar.values[0].value).toBe(bar.value);
      for (const bar of timeline.data) expect(sum(bar.values.map((v: any) => v.value))).toBe(bar.value);

      // One bar per bucket the window touches, oldest first, each starting on a UTC hour or day.
      const width = period === 'last_24_hours' ? HOUR : DAY;
      const first = Math.floor((now - periodMs) / width) * width;
      expect(timeline.data.map((bar: any) => bar.key))
        .toEqual(Array.from({ length: periodMs / width + 1 }, (_, i) => first + i * width));
    }), { numRuns: RUNS });
  });
});
