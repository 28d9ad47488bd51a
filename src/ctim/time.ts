// SpyCloud time → CTIM time (RELAY.md §6): UTC, always six fraction digits.
const SPYCLOUD_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** `YYYY-MM-DDThh:mm:ss.ffffffZ`, or undefined when `value` is not a time SpyCloud would send. */
export function ctimTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = SPYCLOUD_TIME.exec(value.trim());
  if (match === null) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone = 'Z'] = match;
  const offsetMinutes = zone.toUpperCase() === 'Z'
    ? 0
    : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth ||
      Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
    return undefined;
  }
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute) - offsetMinutes, Number(second)));
  return `${date.toISOString().slice(0, 19)}.${fraction.padEnd(6, '0').slice(0, 6)}Z`;
}

/** CTIM form of a JavaScript time (for "the time of the request"). */
export const ctimTimeOf = (ms: number): string => `${new Date(ms).toISOString().slice(0, 23)}000Z`;
