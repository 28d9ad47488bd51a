// The body of /observe/observables → the observables to look up (RELAY.md §5).
import { describe, expect, it } from 'vitest';
import { RelayError } from '../src/errors.js';
import { parseObservables, supportedObservables, wellFormed, type SupportedObservable } from '../src/observe.js';

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
    ['drops unsupported types', [{ type: 'url', value: 'https://example.com/' }, { type: 'email', value: 'a@example.com' }, { type: 'sha256', value: 'ab' }],
      [{ type: 'email', value: 'a@example.com' }]],
    ['keeps every supported type, folded', [
      { type: 'Domain', value: 'example.com' }, { type: 'IP', value: '198.51.100.1' }, { type: 'IPv6', value: '2001:db8::1' }, { type: 'USER', value: 'jdoe' },
    ], [
      { type: 'domain', value: 'example.com' }, { type: 'ip', value: '198.51.100.1' }, { type: 'ipv6', value: '2001:db8::1' }, { type: 'user', value: 'jdoe' },
    ]],
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

describe('wellFormed (RELAY.md §5)', () => {
  const warning = (type: string, shown: string) =>
    ({ type: 'warning', code: 'invalid argument', message: `${type} ${shown} is not a valid ${type}; it was not looked up.` });

  it.each<[SupportedObservable['type'], string]>([
    ['email', 'jdoe@acme-corp.example'],
    ['email', 'a/b?c#d%e@example.org'],
    ['email', '"a@b"@example.org'],
    ['domain', 'example.com'],
    ['domain', 'mail.Acme-Corp.example'],
    ['domain', 'xn--bcher-kva.example'],
    ['domain', 'bücher.example'],
    ['domain', '_dmarc.example.com'],
    ['domain', `${'a'.repeat(63)}.example`],
    ['ip', '10.0.0.1'],
    ['ip', '255.255.255.255'],
    ['ipv6', '2001:db8::1'],
    ['ipv6', '::1'],
    ['ipv6', '::ffff:192.0.2.1'],
    ['ipv6', 'fe80::1%eth0'],
    ['user', 'jdoe'],
    ['user', ' spaced out '],
    ['user', '..'],
  ])('%s %j is looked up', (type, value) => {
    expect(wellFormed([{ type, value }])).toStrictEqual({ lookups: [{ type, value }], warnings: [] });
  });

  it.each<[SupportedObservable['type'], string]>([
    ['email', 'jdoe'],
    ['email', '@example.org'],
    ['email', 'jdoe@'],
    ['email', '..'],
    ['domain', 'localhost'],
    ['domain', 'example.com.'],
    ['domain', '.example.com'],
    ['domain', 'exa mple.com'],
    ['domain', '-example.com'],
    ['domain', 'example-.com'],
    ['domain', 'a..example'],
    ['domain', '10.0.0.1'],
    ['domain', 'https://example.com'],
    ['domain', 'jdoe@example.com'],
    ['domain', `${'a'.repeat(64)}.example`],
    ['ip', '10.0.0'],
    ['ip', '10.0.0.256'],
    ['ip', '010.0.0.1'],
    ['ip', ' 10.0.0.1'],
    ['ip', '10.0.0.1/24'],
    ['ip', '2001:db8::1'],
    ['ipv6', '2001:db8::g'],
    ['ipv6', '10.0.0.1'],
    ['ipv6', '2001:db8:::1'],
  ])('%s %j is a warning, not a lookup', (type, value) => {
    expect(wellFormed([{ type, value }])).toStrictEqual({ lookups: [], warnings: [warning(type, value)] });
  });

  it('a domain name over 253 characters is a warning', () => {
    const long = `${'abcdefghi.'.repeat(24)}example.com`;
    expect(long).toHaveLength(251);
    expect(wellFormed([{ type: 'domain', value: long }]).lookups).toHaveLength(1);
    const { lookups, warnings } = wellFormed([{ type: 'domain', value: `abc${long}` }]);
    expect(lookups).toStrictEqual([]);
    expect(warnings).toStrictEqual([warning('domain', `abc${long}`.slice(0, 100))]);
  });

  it('keeps request order in both lists', () => {
    const { lookups, warnings } = wellFormed([
      { type: 'ip', value: 'nope' },
      { type: 'user', value: 'a' },
      { type: 'domain', value: 'nope' },
      { type: 'email', value: 'b@example.org' },
    ]);
    expect(lookups).toStrictEqual([{ type: 'user', value: 'a' }, { type: 'email', value: 'b@example.org' }]);
    expect(warnings).toStrictEqual([warning('ip', 'nope'), warning('domain', 'nope')]);
  });

  it('cuts the value in the warning at 100 characters, never inside a character', () => {
    expect(wellFormed([{ type: 'ip', value: '9'.repeat(150) }]).warnings).toStrictEqual([warning('ip', '9'.repeat(100))]);
    expect(wellFormed([{ type: 'ip', value: '9'.repeat(100) }]).warnings).toStrictEqual([warning('ip', '9'.repeat(100))]);
    const emoji = '😀'.repeat(120);
    expect(wellFormed([{ type: 'domain', value: emoji }]).warnings).toStrictEqual([warning('domain', '😀'.repeat(100))]);
  });
});
