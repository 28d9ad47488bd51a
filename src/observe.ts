// The body of /observe/observables → the observables worth looking up
// (RELAY.md §5): validate, fold the type's case, keep supported types, de-duplicate,
// and set aside values that are not well-formed instances of their type.
import { isIPv4, isIPv6 } from 'node:net';
import { invalidPayload, type ErrorDoc } from './errors.js';

export interface Observable {
  type: string;
  value: string;
}

// Letters and marks of any script (internationalised names), digits, `_` and `-` not at an end.
const HOST_LABEL = /^(?!-)[\p{L}\p{M}\p{N}_-]{1,63}(?<!-)$/u;

/** Dot-separated labels, two at least, the last not all digits (that would be an IPv4 address). */
export function isHostName(value: string): boolean {
  const labels = value.split('.');
  return value.length <= 253 && labels.length >= 2 && labels.every((label) => HOST_LABEL.test(label))
    && !/^\d+$/.test(labels.at(-1) as string);
}

/** Supported types and what a well-formed value of each is; SpyCloud's path per type lives in its client. */
const WELL_FORMED = {
  // An `@` between something and something: a quoted local part may hold another `@`.
  email: (value: string) => value.lastIndexOf('@') > 0 && value.lastIndexOf('@') < value.length - 1,
  domain: isHostName,
  ip: isIPv4,
  ipv6: isIPv6,
  // Any value: parseObservables already refused empty ones.
  user: () => true,
} satisfies Record<string, (value: string) => boolean>;

export type ObservableType = keyof typeof WELL_FORMED;

/** An observable of a supported type, its type folded to lower case. */
export interface SupportedObservable extends Observable {
  type: ObservableType;
}

export const SUPPORTED_TYPES: ReadonlySet<string> = new Set(Object.keys(WELL_FORMED));
const isSupported = (type: string): type is ObservableType => SUPPORTED_TYPES.has(type);
export const MAX_OBSERVABLES = 1000;

// In Unicode mode a proper pair is one code point, so only a lone surrogate is in Cs.
const LONE_SURROGATE = /\p{Cs}/u;

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

/** Parses and validates the raw body; throws the contract's `invalid argument` error. */
export function parseObservables(body: string): Observable[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw invalidPayload('The body is not valid JSON.');
  }
  if (!Array.isArray(parsed)) throw invalidPayload('The body must be a list of observables.');
  if (parsed.length > MAX_OBSERVABLES) {
    throw invalidPayload(`At most ${MAX_OBSERVABLES} observables are accepted, got ${parsed.length}.`);
  }
  return parsed.map((item: unknown, index) => {
    const candidate = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    for (const field of ['type', 'value'] as const) {
      if (!isNonEmptyString(candidate[field])) {
        throw invalidPayload(`Item ${index} lacks a non-empty string "${field}".`);
      }
      // A lone UTF-16 surrogate (legal in JSON) cannot be sent to SpyCloud or shown by XDR.
      if (LONE_SURROGATE.test(candidate[field] as string)) {
        throw invalidPayload(`Item ${index} has a "${field}" that is not valid Unicode.`);
      }
    }
    return { type: candidate.type as string, value: candidate.value as string };
  });
}

/** Lower-cases types, keeps the supported ones, and drops repeated (type, value) pairs, keeping order. */
export function supportedObservables(observables: readonly Observable[]): SupportedObservable[] {
  const seen = new Set<string>();
  const kept: SupportedObservable[] = [];
  for (const { type, value } of observables) {
    const folded = type.toLowerCase();
    if (!isSupported(folded)) continue;
    const key = `${folded}\u0000${value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push({ type: folded, value });
  }
  return kept;
}

const MAX_VALUE_IN_WARNING = 100;

/**
 * Splits observables into those worth asking SpyCloud about and a warning for each
 * malformed value (never sent upstream), both in request order.
 */
export function wellFormed(observables: readonly SupportedObservable[]): { lookups: SupportedObservable[]; warnings: ErrorDoc[] } {
  const lookups: SupportedObservable[] = [];
  const warnings: ErrorDoc[] = [];
  for (const observable of observables) {
    const { type, value } = observable;
    if (WELL_FORMED[type](value)) {
      lookups.push(observable);
      continue;
    }
    // Cut by code point, so that a cut never splits a character in two.
    const shown = Array.from(value).slice(0, MAX_VALUE_IN_WARNING).join('');
    warnings.push({ type: 'warning', code: 'invalid argument', message: `${type} ${shown} is not a valid ${type}; it was not looked up.` });
  }
  return { lookups, warnings };
}
