// SpyCloud or transport failure → RelayError (RELAY.md §4.4). Messages never carry
// a stack trace or more than 200 characters of an upstream body.
import { STATUS_CODES } from 'node:http';
import { RelayError } from '../errors.js';

const MAX_UPSTREAM_TEXT = 200;

export const THROTTLED = 'Too many requests have been made to Spycloud. Please, try again later.';
export const IP_NOT_ALLOWED = "Authorization failed: SpyCloud does not accept calls from this relay's IP address. Ask SpyCloud to allow-list it.";
export const QUOTA_EXHAUSTED = 'The monthly SpyCloud API quota of this key is exhausted. Contact SpyCloud to raise it.';

export interface UpstreamAnswer {
  status: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  text: string;
}

const header = (answer: UpstreamAnswer, name: string): string => {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
};

/** The HTTP reason phrase of `status` (RFC 9110's words). */
export const statusReason = (status: number): string => STATUS_CODES[status] ?? 'Unknown status';

function bodyMessage(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === 'string' && parsed.message.trim() !== '') {
      return parsed.message.trim().slice(0, MAX_UPSTREAM_TEXT);
    }
  } catch {
    // Not JSON: fall back to the HTTP reason.
  }
  return undefined;
}

const isQuota = (answer: UpstreamAnswer): boolean => header(answer, 'x-amzn-errortype').includes('LimitExceededException');

/** A 429 is retried only as AWS's throttling (TooManyRequestsException) or when it has no type (§4.2). */
const isThrottling = (answer: UpstreamAnswer): boolean => {
  const type = header(answer, 'x-amzn-errortype');
  return type === '' || type.includes('TooManyRequestsException');
};

export const isRetryableStatus = (answer: UpstreamAnswer): boolean =>
  [502, 503, 504].includes(answer.status) || (answer.status === 429 && isThrottling(answer));

/** Seconds or an HTTP date, as RFC 9110 allows; undefined when absent or unreadable. */
export function retryAfterMs(answer: UpstreamAnswer, nowMs: number): number | undefined {
  const value = header(answer, 'retry-after').trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Every HTTP date form starts with the day's name; Date.parse alone would take '1.5' for a day in 2001.
  const date = /^[a-z]{3}/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

export function statusError(answer: UpstreamAnswer): RelayError {
  const { status } = answer;
  switch (status) {
    case 401:
    case 403:
      if (header(answer, 'spycloud-error').includes('Invalid IP')) {
        return new RelayError('authorization error', IP_NOT_ALLOWED);
      }
      return new RelayError('authorization error', `Authorization failed: ${bodyMessage(answer.text) ?? statusReason(status)}`);
    case 404:
      return new RelayError('not found', 'The Spycloud not found.');
    case 500:
      return new RelayError('internal error', 'The Spycloud internal error.');
    case 429:
      return new RelayError('too many requests', isQuota(answer) ? QUOTA_EXHAUSTED : THROTTLED);
    case 422:
      return new RelayError('invalid argument',
        'SpyCloud cannot answer a query this broad. Narrow it, for example to a full email address.');
    default:
      return new RelayError('unknown',
        `Unexpected answer from SpyCloud: HTTP ${status} ${(bodyMessage(answer.text) ?? statusReason(status)).replace(/\.+$/, '')}.`);
  }
}

export const unexpectedBody = (status: number): RelayError =>
  new RelayError('unknown', `SpyCloud answered with an unexpected body (HTTP ${status}).`);

export const timedOut = (timeoutMs: number): RelayError =>
  new RelayError('unknown', `SpyCloud did not answer within ${timeoutMs} ms.`);

export const budgetSpent = (budgetMs: number): RelayError =>
  new RelayError('unknown', `The relay ran out of its ${budgetMs} ms budget; results are partial.`);

export const answerBytesFull = (capacityBytes: number): RelayError =>
  new RelayError('unknown',
    `SpyCloud's answers would pass the relay's limit of ${Math.round(capacityBytes / (1 << 20))} MiB held at once; try again shortly, or narrow the investigation.`);

/** Fatal for a catalog call too (§4.3): the key is refused or its quota is gone. */
export const endsTheRequest = (error: RelayError): boolean =>
  error.code === 'authorization error' || error.message === QUOTA_EXHAUSTED;

const errorCode = (error: unknown): string | undefined => {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && e.code !== 'UND_ERR_SOCKET') return e.code;
    if (e.code === 'UND_ERR_SOCKET') return 'ECONNRESET';
  }
  return undefined;
};

const errorText = (error: unknown): string => {
  const cause = (error as { cause?: { message?: unknown } })?.cause;
  const text = typeof cause?.message === 'string' ? cause.message : error instanceof Error ? error.message : String(error);
  return text.slice(0, MAX_UPSTREAM_TEXT);
};

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

export const isConnectionReset = (error: unknown): boolean => errorCode(error) === 'ECONNRESET';

export function transportError(error: unknown): RelayError {
  const code = errorCode(error) ?? '';
  if (CERT_CODES.test(code)) return new RelayError('unknown', `Unable to verify SSL certificate: ${errorText(error)}`);
  return new RelayError('unknown', `SpyCloud could not be reached: ${errorText(error).replace(/\.$/, '')}.`);
}
