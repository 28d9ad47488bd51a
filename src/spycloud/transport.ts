// One SpyCloud GET, done right: per-key concurrency cap, timeout, retries with
// full-jitter back-off and Retry-After, the request's budget (RELAY.md §4.2).
import type { Dispatcher } from 'undici';
import type { RequestScope } from './types.js';
import { QueueTimeout, type KeyLimiter } from './key-limiter.js';
import {
  budgetSpent, isConnectionReset, isRetryableStatus, retryAfterMs, statusError, timedOut, transportError,
  unexpectedBody, type UpstreamAnswer,
} from './upstream-errors.js';
import type { RelayError } from '../errors.js';

const MAX_RETRIES = 2;
const MAX_BODY_BYTES = 64 << 20;

export interface TransportOptions {
  baseUrl: string;
  timeoutMs: number;
  retryBaseMs: number;
  userAgent: string;
  dispatcher: Dispatcher;
  limiter: KeyLimiter;
  now: () => number;
  random: () => number;
}

type Attempt =
  | { kind: 'answer'; answer: UpstreamAnswer }
  | { kind: 'failed'; error: RelayError; retryable: boolean };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readText(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class SpyCloudTransport {
  private readonly origin: string;
  private readonly basePath: string;

  constructor(private readonly options: TransportOptions) {
    const base = new URL(options.baseUrl);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/+$/, '');
  }

  /**
   * GETs `path` (already encoded) and answers with a 2xx or 400 answer;
   * every other outcome is thrown as the RelayError of §4.4.
   */
  async get(path: string, apiKey: string, scope: RequestScope): Promise<UpstreamAnswer> {
    const { now, random, retryBaseMs } = this.options;
    for (let retry = 0; ; retry++) {
      const attempt = await this.options.limiter
        .run(apiKey, () => this.once(path, apiKey, scope), scope.deadline - now())
        .catch((error: unknown): Attempt => {
          // Queued behind this key's other calls until the budget ran out.
          if (error instanceof QueueTimeout) return { kind: 'failed', error: budgetSpent(scope.budgetMs), retryable: false };
          throw error;
        });
      if (attempt.kind === 'answer' && (attempt.answer.status < 300 || attempt.answer.status === 400)) {
        return attempt.answer;
      }
      const error = attempt.kind === 'answer' ? statusError(attempt.answer) : attempt.error;
      const retryable = attempt.kind === 'answer' ? isRetryableStatus(attempt.answer) : attempt.retryable;
      if (!retryable || retry >= MAX_RETRIES) throw error;
      const wait = (attempt.kind === 'answer' ? retryAfterMs(attempt.answer, now()) : undefined)
        ?? random() * retryBaseMs * 3 ** retry;
      if (now() + wait >= scope.deadline) throw error;
      await sleep(wait);
    }
  }

  private async once(path: string, apiKey: string, scope: RequestScope): Promise<Attempt> {
    const { timeoutMs } = this.options;
    const remaining = scope.deadline - this.options.now();
    if (remaining <= 0) return { kind: 'failed', error: budgetSpent(scope.budgetMs), retryable: false };
    const budgetBound = remaining < timeoutMs;
    const signal = AbortSignal.timeout(Math.min(timeoutMs, remaining));
    scope.upstreamCalls += 1;
    try {
      // Origin and path go separately: a URL string would be normalised, and a dot
      // segment (an email of "..") would then climb out of /breach/data/emails/.
      const response = await this.options.dispatcher.request({
        origin: this.origin,
        path: this.basePath + path,
        method: 'GET',
        signal,
        headers: { 'x-api-key': apiKey, accept: 'application/json', 'user-agent': this.options.userAgent },
      });
      const text = await readText(response.body);
      if (text === undefined) return { kind: 'failed', error: unexpectedBody(response.statusCode), retryable: false };
      return { kind: 'answer', answer: { status: response.statusCode, headers: response.headers, text } };
    } catch (error) {
      if (signal.aborted) {
        return { kind: 'failed', error: budgetBound ? budgetSpent(scope.budgetMs) : timedOut(timeoutMs), retryable: false };
      }
      return { kind: 'failed', error: transportError(error), retryable: isConnectionReset(error) };
    }
  }
}
