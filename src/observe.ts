// The body of /observe/observables → the observables worth looking up
// (RELAY.md §5): validate, fold the type's case, keep supported types, de-duplicate.
import { invalidPayload } from './errors.js';

export interface Observable {
  type: string;
  value: string;
}

export const SUPPORTED_TYPES: ReadonlySet<string> = new Set(['email']);
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
export function supportedObservables(observables: readonly Observable[]): Observable[] {
  const seen = new Set<string>();
  const kept: Observable[] = [];
  for (const { type, value } of observables) {
    const folded = type.toLowerCase();
    if (!SUPPORTED_TYPES.has(folded)) continue;
    const key = `${folded}\u0000${value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push({ type: folded, value });
  }
  return kept;
}
