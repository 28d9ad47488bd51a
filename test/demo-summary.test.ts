// The demo's summary of relay answers: the figures it prints come from the answer,
// and odd or failed answers are described, never a crash.
import { describe, expect, it } from 'vitest';
import { describeObservable, describeSighting, describeTile, failed } from '../src/cli/demo-summary.js';

const sighting = (id: string, severity: string, at: string) => ({ id, severity, observed_time: { start_time: at, end_time: at } });
const indicator = (id: string, title: string) => ({ id, title, external_ids: [id.slice(-1)] });
const relationship = (sightingId: string, indicatorId: string) => ({ source_ref: sightingId, target_ref: indicatorId });

describe('describeObservable', () => {
  it('counts sightings by severity, by breach (in order of first appearance), and names the newest', () => {
    const lines = describeObservable('email a@b.example', {
      status: 200,
      body: {
        data: {
          sightings: {
            count: 4,
            docs: [
              sighting('s1', 'High', '2024-05-01T10:20:30.000000Z'),
              sighting('s2', 'Low', '2024-06-02T08:00:00.000000Z'),
              sighting('s3', 'Critical', '2024-04-01T00:00:00.000000Z'),
              sighting('s4', 'High', '2020-01-01T00:00:00.000000Z'),
            ],
          },
          // The breach of a sighting is the indicator its relationship points at; s2 has no catalog.
          indicators: { count: 2, docs: [indicator('i1', 'Lumma Stealer'), indicator('i2', 'ShopNow Breach')] },
          relationships: { count: 3, docs: [relationship('s1', 'i1'), relationship('s3', 'i1'), relationship('s4', 'i2')] },
        },
        errors: [{ type: 'warning', code: 'not found', message: 'SpyCloud did not return results for 9' }],
      },
    });
    expect(lines).toEqual([
      'email a@b.example',
      '  sightings    4 (Critical 1, High 2, Low 1)',
      '  breaches     Lumma Stealer ×2, a source without catalog ×1, ShopNow Breach ×1',
      '  newest       2024-06-02 08:00 UTC, a source without catalog',
      '  indicators   2, relationships 3',
      '  warning      SpyCloud did not return results for 9',
    ]);
  });

  it('says "no results" for an empty answer, with its warnings', () => {
    expect(describeObservable('domain gmail.com', { status: 200, body: { data: {}, errors: [{ type: 'warning', code: 'invalid argument', message: 'too broad' }] } }))
      .toEqual(['domain gmail.com', '  no results', '  warning      too broad']);
  });

  it('shows a failed answer\'s status and fatal error instead of "no results"', () => {
    const answer = { status: 401, body: { errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Unauthorized' }] } };
    expect(describeObservable('email x@y.example', answer)).toEqual([
      'email x@y.example',
      '  answer       HTTP 401',
      '  error        authorization error: Authorization failed: Unauthorized',
    ]);
    expect(failed(answer)).toBe(true);
  });

  it('copes with bodies that are not the envelope', () => {
    for (const body of ['<html>', null, [], { data: { sightings: { docs: 'no' } } }, { errors: [{}] }]) {
      expect(describeObservable('ip 192.0.2.1', { status: 200, body })[0]).toBe('ip 192.0.2.1');
    }
    expect(describeObservable('ip 192.0.2.1', { status: 200, body: { data: { sightings: { docs: [{}] } } } })).toContain('  sightings    1 (Unknown 1)');
  });
});

describe('describeTile', () => {
  const row = (label: string, value: string) => `  ${label.padEnd(24)} ${value}`;
  const tile = (type: string) => ({ id: `t-${type}`, type, title: `Tile ${type}`, default_period: 'last_7_days' });
  const answer = (data: unknown, extra: object = {}) => ({ status: 200, body: { data: { period: 'last_7_days', cache_scope: 'org', data }, ...extra } });

  it('lists the figures of a metric group', () => {
    expect(describeTile(tile('metric_group'), answer([{ label: 'Exposed records', value: 12, link_uri: 'x' }, { label: 'Infected machines', value: 3 }]))).toEqual([
      'Tile metric_group (t-metric_group, last_7_days)',
      row('Exposed records', '12'),
      row('Infected machines', '3'),
    ]);
  });

  it('lists the bars of a horizontal bar chart', () => {
    const bars = [{ key: 'Critical', label: 'Critical', value: 4, values: [] }, { key: 'Low', label: 'Low', value: 1, values: [] }];
    expect(describeTile(tile('horizontal_bar_chart'), answer(bars)).slice(1)).toEqual([row('Critical', '4'), row('Low', '1')]);
  });

  it('sums a timeline and lists its non-empty bars', () => {
    const bars = [
      { key: 1, label: '2024-05-01', value: 0, values: [] },
      { key: 2, label: '2024-05-02', value: 3, values: [{ key: 'critical', value: 1 }, { key: 'high', value: 2 }] },
      { key: 3, label: '2024-05-03', value: 1, values: [{ key: 'low', value: 1 }] },
    ];
    expect(describeTile(tile('vertical_bar_chart'), answer(bars)).slice(1)).toEqual([
      row('bars', '3, 2 with records, 4 records in all'),
      row('2024-05-02', '3 (critical 1, high 2)'),
      row('2024-05-03', '1 (low 1)'),
    ]);
  });

  it('prints markdown lines as they are, and other types as short JSON', () => {
    expect(describeTile(tile('markdown'), answer(['| Breach | Records |', '|---|---|'])).slice(1)).toEqual(['    | Breach | Records |', '    |---|---|']);
    expect(describeTile(tile('donut'), answer({ a: 1 })).slice(1)).toEqual([row('data', '{"a":1}')]);
  });

  it('shows warnings and failures', () => {
    const warned = answer([], { errors: [{ type: 'warning', code: 'too many results', message: 'Only the first 20000 records' }] });
    expect(describeTile(tile('metric_group'), warned).at(-1)).toBe(row('warning', 'Only the first 20000 records'));
    const broken = { status: 500, body: { errors: [{ type: 'fatal', code: 'unknown', message: 'boom' }] } };
    expect(describeTile({}, broken)).toEqual(['tile (?, ?)', row('answer', 'HTTP 500'), row('error', 'unknown: boom')]);
    expect(failed(broken)).toBe(true);
    expect(failed(warned)).toBe(false);
  });
});

describe('describeSighting', () => {
  const table = (columns: string[], ...rows: unknown[][]) => ({ columns: columns.map((name) => ({ name, type: 'string' })), rows });
  const sighting = (title: string, data: object) => ({
    title, description: `Present in ${title}`, severity: 'High', confidence: 'High', source_uri: `https://portal.example/${title}`,
    observed_time: { start_time: '2024-05-01T10:20:30.000000Z' }, data,
  });
  const answerOf = (...docs: object[]) => ({ status: 200, body: { data: { sightings: { count: docs.length, docs } } } });

  it('shows the first sighting that shows a password, as XDR draws it: texts, severity, time, link, its table', () => {
    const lines = describeSighting(answerOf(
      sighting('Cookies', table(['email', 'password_type'], ['a@b.example', 'plaintext'])),
      sighting('Forum', table(['email', 'ip_addresses', 'password', 'password_type'], ['a@b.example', ['192.0.2.1', '192.0.2.2'], 'W*******!', 'plaintext'])),
    ));
    expect(lines).toEqual([
      '  title        Forum',
      '  description  Present in Forum',
      '  severity     High, confidence High',
      '  observed     2024-05-01 10:20 UTC',
      '  source       https://portal.example/Forum',
      '  data         email          a@b.example',
      '               ip_addresses   192.0.2.1, 192.0.2.2',
      '               password       W*******!',
      '               password_type  plaintext',
    ]);
  });

  it('else the first sighting; long cells cut to one line; more rows said', () => {
    const long = `${'x'.repeat(50)}\n${'y'.repeat(50)}`;
    const lines = describeSighting(answerOf(sighting('A', table(['path'], [long], ['other'])), sighting('B', table(['path'], ['b']))));
    expect(lines[0]).toBe('  title        A');
    expect(lines).toContain(`  data         path  ${'x'.repeat(50)} ${'y'.repeat(20)}…`);
    expect(lines.at(-1)).toBe('               (the first of 2 rows)');
  });

  it('nothing for an answer without sightings, and no crash on odd ones', () => {
    expect(describeSighting({ status: 200, body: { data: {} } })).toEqual([]);
    expect(describeSighting({ status: 500, body: '<html>' })).toEqual([]);
    expect(describeSighting(answerOf({}))).toEqual([
      '  title        (none)', '  description  (none)', '  severity     Unknown, confidence unknown', '  observed     (no time)', '  source       (no link)',
    ]);
  });
});
