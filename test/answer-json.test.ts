// Writing a large answer without blocking the event loop (issue 7): the text is
// exactly JSON.stringify's, and long arrays are written with pauses between slices.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringifyYielding } from '../src/answer-json.js';

const counting = () => {
  const pauses = { count: 0 };
  return { pauses, pause: async () => { pauses.count += 1; } };
};

describe('stringifyYielding', () => {
  it('gives exactly JSON.stringify\'s text for any JSON value', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (value) => {
      expect(await stringifyYielding(value, async () => undefined)).toBe(JSON.stringify(value));
    }), { numRuns: 300 });
  });

  it('skips undefined members and writes undefined list items as null, as JSON.stringify does', async () => {
    const value = { a: undefined, b: [undefined, 1, () => 2], c: { toJSON: () => 'as json' }, d: new Date(0) };
    expect(await stringifyYielding(value, async () => undefined)).toBe(JSON.stringify(value));
  });

  it('pauses while writing a long list of entities, and not for a small answer', async () => {
    const sighting = { type: 'sighting', data: { columns: [{ name: 'x' }], rows: [['y']] } };
    const large = counting();
    const envelope = { data: { sightings: { count: 5000, docs: Array.from({ length: 5000 }, () => sighting) } } };
    expect(await stringifyYielding(envelope, large.pause)).toBe(JSON.stringify(envelope));
    expect(large.pauses.count).toBeGreaterThanOrEqual(5000 / 250 - 1);
    const small = counting();
    await stringifyYielding({ data: { sightings: { count: 3, docs: [sighting, sighting, sighting] } } }, small.pause);
    expect(small.pauses.count).toBe(0);
  });
});
