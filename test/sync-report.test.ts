// What a sync run tells the operator when XDR refused entities (RELAY.md §10).
import { describe, expect, it } from 'vitest';
import { emptyReport, reportProblems, succeeded, tally } from '../src/sync/report.js';

describe('the sync report', () => {
  it('explains every refused entity, of an unknown type too', () => {
    const report = emptyReport('2026-06-01', false);
    tally(report, 'sighting', 'error');
    tally(report, 'judgement', 'error');
    tally(report, 'unknown', 'error');
    expect(succeeded(report)).toBe(false);
    expect(reportProblems(report)).toEqual(['XDR refused 1 sighting, 2 entities of an unknown type; the next run tries them again.']);
    const alone = emptyReport('2026-06-01', false);
    tally(alone, 'unknown', 'weird');
    expect(reportProblems(alone)).toEqual(['XDR refused 1 entity of an unknown type; the next run tries them again.']);
  });
});
