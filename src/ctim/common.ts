// Shared pieces of the CTIM mapping (RELAY.md §6).
import type { Catalog } from '../spycloud/types.js';

export const SCHEMA_VERSION = '1.0.17';

/** SpyCloud leaves fields out, or sends null or ""; none of those is a value. */
export const isPresent = (value: unknown): boolean => value !== undefined && value !== null && value !== '';

export function catalogUri(catalog: Catalog | undefined): string | undefined {
  const uuid = catalog?.uuid;
  return isPresent(uuid) ? `https://portal.spycloud.com/breach/catalog/${String(uuid)}` : undefined;
}
