// The body of /observe/observables → the observables to look up (RELAY.md §5).
import { describe, expect, it } from 'vitest';
import { RelayError } from '../src/errors.js';
import { parseObservables, supportedObservables } from '../src/observe.js';

const PREFIX = 'Invalid JSON payload received. ';

function rejection(body: string): RelayError {
  try {
    parseObservables(body);
  } catch (error) {
    if (error instanceof RelayError) return error;
    throw error;
  }
  throw new Error(`accepted ${body}`);
}

describe('parseObservables', () => {
  it.each([
    ['not JSON', '[{"type":"email"', /json/i],
    ['empty body', '', /json/i],
    ['an object, not a list', '{"type":"email","value":"a@example.com"}', /list/i],
    ['a string, not a list', '"a@example.com"', /list/i],
    ['null', 'null', /list/i],
    ['item 0 lacks type', '[{"value":"a@example.com"}]', /\b0\b.*"type"/],
    ['item 1 lacks value', '[{"type":"email","value":"a@example.com"},{"type":"email"}]', /\b1\b.*"value"/],
    ['empty type', '[{"type":"","value":"a@example.com"}]', /"type"/],
    ['empty value', '[{"type":"email","value":""}]', /"value"/],
    ['non-string type', '[{"type":1,"value":"a@example.com"}]', /"type"/],
    ['non-string value', '[{"type":"email","value":["a@example.com"]}]', /"value"/],
    ['null value', '[{"type":"email","value":null}]', /"value"/],
    ['item that is not an object', '["email"]', /"type"/],
    ['item that is null', '[null]', /"type"/],
    ['more than 1000', JSON.stringify(Array.from({ length: 1001 }, (_, n) => ({ type: 'email', value: `u${n}@example.com` }))), /1000/],
  ])('rejects %s', (_case, body, details) => {
    const error = rejection(body);
    expect(error.code).toBe('invalid argument');
    expect(error.type).toBe('fatal');
    expect(error.message.startsWith(PREFIX)).toBe(true);
    expect(error.message.slice(PREFIX.length)).toMatch(details);
  });

  it.each([
    ['an empty list', '[]', []],
    ['exactly 1000', JSON.stringify(Array.from({ length: 1000 }, () => ({ type: 'email', value: 'a@example.com' }))), 1000],
    ['extra keys', '[{"type":"EMAIL","value":" A@Example.com ","note":"x"}]', [{ type: 'EMAIL', value: ' A@Example.com ' }]],
  ])('accepts %s', (_case, body, expected) => {
    const parsed = parseObservables(body);
    if (typeof expected === 'number') expect(parsed).toHaveLength(expected);
    else expect(parsed).toStrictEqual(expected);
  });
});

describe('supportedObservables', () => {
  it.each([
    ['folds the type case', [{ type: 'EMAIL', value: 'a@example.com' }, { type: 'Email', value: 'b@example.com' }],
      [{ type: 'email', value: 'a@example.com' }, { type: 'email', value: 'b@example.com' }]],
    ['keeps values exactly', [{ type: 'email', value: ' A@Example.COM ' }], [{ type: 'email', value: ' A@Example.COM ' }]],
    ['drops unsupported types', [{ type: 'ip', value: '198.51.100.1' }, { type: 'email', value: 'a@example.com' }, { type: 'domain', value: 'example.com' }],
      [{ type: 'email', value: 'a@example.com' }]],
    ['nothing supported', [{ type: 'sha256', value: 'ab' }], []],
    ['de-duplicates (type, value) pairs keeping first order', [
      { type: 'email', value: 'b@example.com' },
      { type: 'EMAIL', value: 'a@example.com' },
      { type: 'email', value: 'b@example.com' },
      { type: 'Email', value: 'a@example.com' },
    ], [{ type: 'email', value: 'b@example.com' }, { type: 'email', value: 'a@example.com' }]],
    ['values differing in case are different', [{ type: 'email', value: 'a@example.com' }, { type: 'email', value: 'A@example.com' }],
      [{ type: 'email', value: 'a@example.com' }, { type: 'email', value: 'A@example.com' }]],
    ['no input', [], []],
  ])('%s', (_case, input, expected) => {
    expect(supportedObservables(input)).toStrictEqual(expected);
  });
});
