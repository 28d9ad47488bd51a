// SpyCloud time → CTIM time (RELAY.md §6): UTC, always six fraction digits,
// within CTIM's range (1970 to 2525).
const SPYCLOUD_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** CTIM's time range; a time outside it counts as missing. */
const MIN_MS = 0;
const MAX_MS = Date.UTC(2525, 0, 1);

/** Minutes east of UTC, or undefined for an offset no clock has (hours over 23, minutes over 59). */
function offsetMinutes(zone: string): number | undefined {
  if (zone.toUpperCase() === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(-2));
  if (hours > 23 || minutes > 59) return undefined;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
}

/** `YYYY-MM-DDThh:mm:ss.ffffffZ`, or undefined when `value` is not a time SpyCloud would send. */
export function ctimTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = SPYCLOUD_TIME.exec(value.trim());
  if (match === null) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone = 'Z'] = match;
  const offset = offsetMinutes(zone);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  const valid = offset !== undefined && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day) &&
    Number(hour) <= 23 && Number(minute) <= 59 && Number(second) <= 59;
  if (!valid) return undefined;
  const ms = date.setUTCHours(Number(hour), Number(minute) - offset, Number(second));
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  if (ms < MIN_MS || ms > MAX_MS || (ms === MAX_MS && micros !== '000000')) return undefined;
  return `${date.toISOString().slice(0, 19)}.${micros}Z`;
}

/** CTIM form of a JavaScript time (for "the time of the request"). */
export const ctimTimeOf = (ms: number): string => `${new Date(ms).toISOString().slice(0, 23)}000Z`;

export type CtimTimeOf = (value: unknown) => string | undefined;

/**
 * ctimTime with a bounded memory of the texts it has read: the same records (and
 * so the same dates) come back request after request, and parsing is a measurable
 * share of an enrichment's CPU. Emptied when full; one per relay instance.
 */
export function rememberingCtimTime(capacity = 50_000): CtimTimeOf {
  const known = new Map<string, string | undefined>();
  return (value) => {
    if (typeof value !== 'string') return undefined;
    let time = known.get(value);
    if (time === undefined && !known.has(value)) {
      time = ctimTime(value);
      if (known.size >= capacity) known.clear();
      known.set(value, time);
    }
    return time;
  };
}
