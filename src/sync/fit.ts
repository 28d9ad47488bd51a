// CTIM's limits, which CTIA enforces per entity (RELAY.md §6, §10): text lengths
// and the 1970–2525 time range. Pure.
import { ctimTime } from '../ctim/time.js';

export const TEXT_LIMITS = { title: 1024, short_description: 2048, description: 5000 } as const;

const EARLIEST = '1970-01-01T00:00:00.000000Z';
/** CTIA refuses times from 2525-01-01 on. */
const LATEST_EXCLUDED = '2525-01-01T00:00:00.000000Z';

/** `text` cut to `max` characters, the last one `…` when cut (never half a surrogate pair). */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  if (/[\ud800-\udbff]/.test(text.charAt(end - 1))) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** A SpyCloud time in CTIM form, or undefined when missing, unreadable or outside CTIM's range. */
export function syncTime(value: unknown): string | undefined {
  const time = ctimTime(value);
  // CTIM times are fixed-width UTC text: they compare as strings.
  return time !== undefined && time >= EARLIEST && time < LATEST_EXCLUDED ? time : undefined;
}

/** The entity's title, short_description and description within CTIM's limits; a value that is not text is left out. */
export function fitText<T extends Record<string, unknown>>(entity: T): T {
  const fitted: Record<string, unknown> = { ...entity };
  for (const [name, max] of Object.entries(TEXT_LIMITS)) {
    const value = fitted[name];
    if (value === undefined) continue;
    if (typeof value === 'string' && value !== '') fitted[name] = cut(value, max);
    else delete fitted[name];
  }
  return fitted as T;
}
