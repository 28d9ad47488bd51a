// Shared pieces of the CTIM mapping (RELAY.md §6).
import type { Catalog } from '../spycloud/types.js';

export const SCHEMA_VERSION = '1.0.17';

/** SpyCloud leaves fields out, or sends null or ""; none of those is a value. */
export const isPresent = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

/** An identifier as text: SpyCloud sends ids as strings or numbers; anything else is no id. */
export const idText = (value: unknown): string | undefined =>
  typeof value === 'string' ? (value === '' ? undefined : value)
    : typeof value === 'number' && Number.isFinite(value) ? String(value)
      : undefined;

export const isDefined = <T>(value: T | undefined): value is T => value !== undefined;

export function catalogUri(catalog: Catalog | undefined): string | undefined {
  const uuid = idText(catalog?.uuid);
  return uuid === undefined ? undefined : `https://portal.spycloud.com/breach/catalog/${uuid}`;
}
