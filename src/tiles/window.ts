// A period's time window and its chart buckets, in UTC (RELAY.md §9). Pure: `now` is given.
import type { Period } from './definitions.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const PERIOD_MS: Readonly<Record<Period, number>> = {
  last_24_hours: DAY_MS,
  last_7_days: 7 * DAY_MS,
  last_30_days: 30 * DAY_MS,
  last_90_days: 90 * DAY_MS,
};

/** (startMs, endMs]: a record published at startMs is outside, one at endMs inside. */
export interface Window {
  period: Period;
  startMs: number;
  endMs: number;
  /** Bucket width of the timeline: an hour for 24 hours, else a UTC day. */
  bucketMs: number;
  /** Start of the first bucket (the one holding just after startMs). */
  firstBucketMs: number;
  /** Buckets from the one of startMs to the one of endMs, both included. */
  buckets: number;
}

/** `YYYY-MM-DD`: SpyCloud's day-granular `since` and `until`. */
export const utcDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function periodWindow(period: Period, now: number): Window {
  const startMs = now - PERIOD_MS[period];
  const bucketMs = period === 'last_24_hours' ? HOUR_MS : DAY_MS;
  // Epoch milliseconds have no leap seconds, so whole multiples of a day are UTC midnights.
  const firstBucketMs = Math.floor(startMs / bucketMs) * bucketMs;
  const lastBucketMs = Math.floor(now / bucketMs) * bucketMs;
  return { period, startMs, endMs: now, bucketMs, firstBucketMs, buckets: (lastBucketMs - firstBucketMs) / bucketMs + 1 };
}

export const inWindow = (window: Window, ms: number): boolean => ms > window.startMs && ms <= window.endMs;

/** Index of the bucket holding `ms`, which must be in the window. */
export const bucketOf = (window: Window, ms: number): number => Math.floor((ms - window.firstBucketMs) / window.bucketMs);

export const bucketStart = (window: Window, index: number): number => window.firstBucketMs + index * window.bucketMs;

/** `YYYY-MM-DD`, or `YYYY-MM-DD hh:00` for hourly buckets. */
export function bucketLabel(window: Window, index: number): string {
  const iso = new Date(bucketStart(window, index)).toISOString();
  return window.bucketMs === HOUR_MS ? `${iso.slice(0, 10)} ${iso.slice(11, 13)}:00` : iso.slice(0, 10);
}
