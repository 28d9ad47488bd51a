// Writing an answer (issues 7 and 11): exactly JSON.stringify's text, long entity
// lists written in slices with pauses between them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answerJson } from '../src/answer-json.js';
import { utf8 } from '../src/app.js';
import { IndicatorMemo, toIndicator } from '../src/ctim/indicator.js';

const noPause = async () => undefined;

/** Envelopes of every shape the relay writes, with arbitrary JSON inside. */
const envelopes = fc.record({
  data: fc.option(fc.dictionary(
    fc.constantFrom('sightings', 'indicators', 'relationships', 'other'),
    fc.oneof(fc.record({ count: fc.nat(), docs: fc.array(fc.jsonValue(), { maxLength: 600 }) }), fc.jsonValue()),
  ), { nil: undefined }),
  errors: fc.option(fc.array(fc.record({ type: fc.constant('warning'), code: fc.string(), message: fc.string() })), { nil: undefined }),
}, { requiredKeys: [] });

describe('answerJson', () => {
  it('gives exactly JSON.stringify\'s text for any answer', async () => {
    await fc.assert(fc.asyncProperty(envelopes, async (envelope) => {
      expect(await answerJson(envelope, noPause)).toBe(JSON.stringify(envelope));
    }), { numRuns: 200 });
  });

  it('skips undefined members and writes undefined docs as null, as JSON.stringify does', async () => {
    const envelope = { data: { a: undefined, sightings: { count: 2, docs: [undefined, { d: new Date(0) }], extra: () => 1 } }, errors: undefined };
    expect(await answerJson(envelope as never, noPause)).toBe(JSON.stringify(envelope));
  });

  it('pauses while writing a long list of entities, and not for a small answer', async () => {
    const sighting = { type: 'sighting', data: { columns: [{ name: 'x' }], rows: [['y']] } };
    let pauses = 0;
    const pause = async () => {
      pauses += 1;
    };
    const large = { data: { sightings: { count: 5000, docs: Array.from({ length: 5000 }, () => sighting) } } };
    expect(await answerJson(large, pause)).toBe(JSON.stringify(large));
    expect(pauses).toBe(5000 / 250 - 1);
    pauses = 0;
    await answerJson({ data: { sightings: { count: 3, docs: [sighting, sighting, sighting] } } }, pause);
    expect(pauses).toBe(0);
  });
});

describe('IndicatorMemo', () => {
  const AT = '2024-01-01T00:00:00.000000Z';
  it('makes one indicator per catalog object, equal to toIndicator\'s', () => {
    const memo = new IndicatorMemo();
    const catalog = { id: 7, uuid: 'u-7', title: 'Breach 7', spycloud_publish_date: '2020-01-01T00:00:00Z' };
    const indicator = memo.of(catalog, AT);
    expect(memo.of(catalog, AT)).toBe(indicator);
    expect(indicator).toEqual(toIndicator(catalog, AT));
    // Another object, even an equal one, is another catalog as far as the memo knows.
    expect(memo.of({ ...catalog }, AT)).not.toBe(indicator);
  });
});

describe('utf8', () => {
  it('gives the UTF-8 bytes of any text, ASCII or not', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), (text) => {
      expect(utf8(text).equals(Buffer.from(text, 'utf8'))).toBe(true);
    }), { numRuns: 500 });
    for (const text of ['plain ascii', 'café', 'Ω', '😀', 'ÿ', '\u0080']) expect(utf8(text).toString('utf8')).toBe(text);
  });
});
