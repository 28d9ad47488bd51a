// Which breach records an email shows (RELAY.md §5): newest `spycloud_publish_date`
// first, stable, then the entities limit.
import { describe, expect, it } from 'vitest';
import { ctimTime } from '../src/ctim/time.js';
import { newestFirst } from '../src/enrich.js';
import type { BreachRecord } from '../src/spycloud/types.js';

/** Records named by `document_id`, dated by `spycloud_publish_date` (undefined: no date field). */
const records = (...dated: Array<[string, unknown]>): BreachRecord[] =>
  dated.map(([name, date]) => (date === undefined ? { document_id: name } : { document_id: name, spycloud_publish_date: date }));
const names = (list: readonly BreachRecord[]) => list.map((r) => r.document_id);

describe('newestFirst', () => {
  it.each([
    ['newest first', records(['a', '2021-01-01T00:00:00Z'], ['b', '2023-01-01T00:00:00Z'], ['c', '2022-01-01T00:00:00Z']), 10, ['b', 'c', 'a']],
    ['already newest first', records(['a', '2023-01-01T00:00:00Z'], ['b', '2022-01-01T00:00:00Z']), 10, ['a', 'b']],
    ['equal dates keep SpyCloud order', records(['a', '2022-01-01T00:00:00Z'], ['b', '2022-01-01T00:00:00Z'], ['c', '2022-01-01T00:00:00Z']), 10, ['a', 'b', 'c']],
    ['stable among newer and older', records(
      ['a', '2022-01-01T00:00:00Z'], ['b', '2023-01-01T00:00:00Z'], ['c', '2022-01-01T00:00:00Z'], ['d', '2023-01-01T00:00:00Z'],
    ), 10, ['b', 'd', 'a', 'c']],
    ['missing and unparseable dates last, in their order', records(
      ['m1', undefined], ['d1', '2021-01-01T00:00:00Z'], ['m2', 'garbage'], ['d2', '2023-01-01T00:00:00Z'], ['m3', null], ['m4', 1700000000],
    ), 10, ['d2', 'd1', 'm1', 'm2', 'm3', 'm4']],
    ['limit after sorting', records(['a', '2021-01-01T00:00:00Z'], ['b', '2023-01-01T00:00:00Z'], ['c', '2022-01-01T00:00:00Z']), 2, ['b', 'c']],
    ['limit 1 keeps the newest', records(['a', '2021-01-01T00:00:00Z'], ['b', '2023-01-01T00:00:00Z']), 1, ['b']],
    ['limit drops undated records first', records(['m', undefined], ['a', '2021-01-01T00:00:00Z']), 1, ['a']],
    ['limit above the count keeps all', records(['a', '2021-01-01T00:00:00Z'], ['b', '2023-01-01T00:00:00Z']), 100, ['b', 'a']],
    ['nothing', [], 10, []],
    // Offsets compare by the instant: 01:00+02:00 is 23:00 the day before.
    ['offset earlier than its wall clock', records(['plus2', '2023-01-01T01:00:00+02:00'], ['utc', '2023-01-01T00:00:00Z']), 10, ['utc', 'plus2']],
    ['negative offset later than its wall clock', records(['day', '2023-01-01'], ['minus1', '2022-12-31T23:30:00-01:00']), 10, ['minus1', 'day']],
    ['compact offset', records(['utc', '2023-01-01T00:00:00Z'], ['minus0530', '2022-12-31T20:00:00-0530']), 10, ['minus0530', 'utc']],
    ['fractions count', records(['whole', '2023-01-01T00:00:00Z'], ['half', '2023-01-01T00:00:00.5Z']), 10, ['half', 'whole']],
    ['the same instant written two ways is a tie', records(['plus2', '2023-01-01T02:00:00+02:00'], ['utc', '2023-01-01T00:00:00Z']), 10, ['plus2', 'utc']],
  ])('%s', (_case, input, limit, expected) => {
    const chosen = newestFirst(input, limit);
    expect(names(chosen.records)).toStrictEqual(expected);
    // Each record's time travels with it, read once.
    expect(chosen.publishedAt).toStrictEqual(chosen.records.map((r) => ctimTime(r.spycloud_publish_date)));
  });

  it('leaves its input as it was', () => {
    const input = records(['a', '2021-01-01T00:00:00Z'], ['b', '2023-01-01T00:00:00Z']);
    newestFirst(input, 1);
    expect(names(input)).toStrictEqual(['a', 'b']);
  });
});
