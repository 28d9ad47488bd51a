// Shared pieces of the CTIM mapping (RELAY.md §6).
import type { Catalog } from '../spycloud/types.js';

/** What XDR's CTIA shows today; 1.0.17 (the reference relay's) lacks the `Critical` severity. */
export const SCHEMA_VERSION = '1.3.30';

/** CTIM's length limits, in UTF-16 code units (what CTIM counts). */
export const MAX_TITLE = 1024;
export const MAX_SHORT_DESCRIPTION = 2048;
export const MAX_DESCRIPTION = 5000;

/** SpyCloud leaves fields out, or sends null or ""; none of those is a value. */
export const isPresent = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

/** An identifier as text: SpyCloud sends ids as strings or numbers; anything else is no id. */
export const idText = (value: unknown): string | undefined =>
  typeof value === 'string' ? (value === '' ? undefined : value)
    : typeof value === 'number' && Number.isFinite(value) ? String(value)
      : undefined;

/** A text field of a catalog: a non-empty string, or a number written out; anything else is no text. */
export const textOf: (value: unknown) => string | undefined = idText;

export const isDefined = <T>(value: T | undefined): value is T => value !== undefined;

/**
 * `text` within `max` code units, the cut marked with `…` (counted in), never
 * splitting a surrogate pair (half an emoji is not text).
 */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** The catalog's portal page; its uuid is SpyCloud's text, so it is encoded as one path segment. */
export function catalogUri(catalog: Catalog | undefined): string | undefined {
  const uuid = idText(catalog?.uuid);
  if (uuid === undefined) return undefined;
  try {
    return `https://portal.spycloud.com/breach/catalog/${encodeURIComponent(uuid)}`;
  } catch {
    // A lone surrogate cannot be encoded: no URL rather than a broken one.
    return undefined;
  }
}
