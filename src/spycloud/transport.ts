// One SpyCloud GET, done right: per-key concurrency cap, a fair share of the
// relay-wide connections, timeout, retries with full-jitter back-off and
// Retry-After, the request's budget, the answer-byte cap (RELAY.md §4.2).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { RequestScope } from './types.js';
import { NO_EVENTS, upstreamKind, type RelayEvents } from '../events.js';
import { NoRoom, type AnswerBytes } from './answer-bytes.js';
import type { ConnectionSlots } from './connection-slots.js';
import { QueueTimeout, type Feedback, type KeyLimiter } from './key-limiter.js';
import {
  answerBytesFull, budgetSpent, isConnectionReset, isRetryableStatus, retryAfterMs, statusError, timedOut,
  transportError, unexpectedBody, type UpstreamAnswer,
} from './upstream-errors.js';
import type { RelayError } from '../errors.js';

const MAX_RETRIES = 2;
const MAX_BODY_BYTES = 64 << 20;
/** Answers up to this length (declared) are read in one go when their room is free at once. */
const SMALL_ANSWER_BYTES = 64 << 10;

export interface TransportOptions {
  baseUrl: string;
  timeoutMs: number;
  retryBaseMs: number;
  userAgent: string;
  dispatcher: Dispatcher;
  limiter: KeyLimiter;
  answerBytes: AnswerBytes;
  /** Relay-wide slots for SpyCloud connections (SPYCLOUD_MAX_CONNECTIONS), shared fairly between keys. */
  connections: ConnectionSlots;
  /** Calls, statuses and retries, for the metrics. */
  events?: RelayEvents;
  now: () => number;
  random: () => number;
}

type Attempt =
  | { kind: 'answer'; answer: UpstreamAnswer }
  | { kind: 'failed'; error: RelayError; retryable: boolean };

/** Throttling (or being told to come back later) halves the key's limit; a plain answer lets it grow. */
function limitFeedback(attempt: Attempt): Feedback {
  if (attempt.kind !== 'answer') return 'hold';
  const { answer } = attempt;
  if ((answer.status === 429 && isRetryableStatus(answer)) || answer.headers['retry-after'] !== undefined) return 'shrink';
  return answer.status < 300 || answer.status === 400 || answer.status === 404 ? 'grow' : 'hold';
}

export class SpyCloudTransport {
  private readonly origin: string;
  private readonly basePath: string;
  private readonly events: RelayEvents;

  constructor(private readonly options: TransportOptions) {
    const base = new URL(options.baseUrl);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.events = options.events ?? NO_EVENTS;
  }

  /** Runs SpyCloud work that no relay request waits for (a background refresh) with a budget of its own. */
  detached<T>(work: (scope: RequestScope) => Promise<T>): Promise<T> {
    const arrivedAt = this.options.now();
    const budgetMs = this.options.timeoutMs;
    return work({ arrivedAt, deadline: arrivedAt + budgetMs, budgetMs, upstreamCalls: 0 });
  }

  /** SpyCloud calls `apiKey` may have in flight now (its adaptive limit). */
  callsAllowed(apiKey: string): number {
    return this.options.limiter.limit(apiKey);
  }

  /**
   * GETs `path` (already encoded) and answers with a 2xx or 400 answer;
   * every other outcome is thrown as the RelayError of §4.4.
   */
  async get(path: string, apiKey: string, scope: RequestScope): Promise<UpstreamAnswer> {
    const { now, random, retryBaseMs } = this.options;
    for (let retry = 0; ; retry++) {
      const attempt = await this.options.limiter
        .run(apiKey, () => this.once(path, apiKey, scope), scope.deadline - now(), limitFeedback)
        .catch((error: unknown): Attempt => {
          // Queued behind this key's other calls until the budget ran out.
          if (error instanceof QueueTimeout) return { kind: 'failed', error: budgetSpent(scope.budgetMs), retryable: false };
          throw error;
        });
      if (attempt.kind === 'answer' && (attempt.answer.status < 300 || attempt.answer.status === 400)) {
        return attempt.answer;
      }
      // The log line names the status, never SpyCloud's text (RELAY.md §8).
      if (attempt.kind === 'answer') scope.upstreamStatus = attempt.answer.status;
      const error = attempt.kind === 'answer' ? statusError(attempt.answer) : attempt.error;
      const retryable = attempt.kind === 'answer' ? isRetryableStatus(attempt.answer) : attempt.retryable;
      if (!retryable || retry >= MAX_RETRIES) throw error;
      const wait = (attempt.kind === 'answer' ? retryAfterMs(attempt.answer, now()) : undefined)
        ?? random() * retryBaseMs * 3 ** retry;
      if (now() + wait >= scope.deadline) throw error;
      this.events.upstreamRetry(upstreamKind(path));
      await sleep(wait);
    }
  }

  private async once(path: string, apiKey: string, scope: RequestScope): Promise<Attempt> {
    const { connections, now } = this.options;
    const { events } = this;
    // Waiting for a connection is not the call's own time: its timeout starts once it
    // has one (a light tenant's calls must not time out behind busy ones); the
    // request's budget still bounds the wait.
    if (!connections.tryAcquire(apiKey)) {
      const queuedAt = now();
      try {
        await connections.acquire(apiKey, scope.deadline - queuedAt);
      } catch (error) {
        if (!(error instanceof QueueTimeout)) throw error;
        return { kind: 'failed', error: budgetSpent(scope.budgetMs), retryable: false };
      } finally {
        events.upstreamQueued('connection', (now() - queuedAt) / 1000);
      }
    }
    try {
      return await this.call(path, apiKey, scope);
    } finally {
      connections.release(apiKey);
    }
  }

  private async call(path: string, apiKey: string, scope: RequestScope): Promise<Attempt> {
    const { timeoutMs } = this.options;
    const remaining = scope.deadline - this.options.now();
    if (remaining <= 0) return { kind: 'failed', error: budgetSpent(scope.budgetMs), retryable: false };
    const budgetBound = remaining < timeoutMs;
    const { events } = this;
    const kind = upstreamKind(path);
    const callMs = Math.min(timeoutMs, remaining);
    const signal = AbortSignal.timeout(callMs);
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
      const text = await this.readText(response, apiKey, this.options.now() + callMs);
      events.upstreamCall(kind, response.statusCode);
      if (typeof text !== 'string') return { kind: 'failed', error: text, retryable: false };
      return { kind: 'answer', answer: { status: response.statusCode, headers: response.headers, text } };
    } catch (error) {
      events.upstreamCall(kind, signal.aborted ? 'timeout' : 'error');
      if (signal.aborted) {
        return { kind: 'failed', error: budgetBound ? budgetSpent(scope.budgetMs) : timedOut(timeoutMs), retryable: false };
      }
      return { kind: 'failed', error: transportError(error), retryable: isConnectionReset(error) };
    }
  }

  /**
   * The body as text, its bytes held against the relay-wide cap as they arrive
   * (a small answer of declared length, whole at once when it fits) until it has been read: the
   * caller parses it at once and keeps only the records it needs. Where the cap
   * is full, reading pauses until room comes free, at most until `deadline`.
   */
  private async readText(response: Dispatcher.ResponseData, apiKey: string, deadline: number): Promise<string | RelayError> {
    const { body } = response;
    const { answerBytes, now } = this.options;
    const hold = answerBytes.open(apiKey);
    const chunks: Buffer[] = [];
    let size = 0;
    let waitedMs: number | undefined;
    try {
      const declared = Number(response.headers['content-length']);
      if (Number.isSafeInteger(declared) && declared > MAX_BODY_BYTES) {
        // Destroying an unread undici body emits an AbortError: nobody else listens for it.
        body.on('error', () => undefined).destroy();
        return unexpectedBody(response.statusCode);
      }
      // An answer larger than the whole cap can never fit: no use reading it.
      if (Number.isSafeInteger(declared) && declared > answerBytes.capacity) throw new NoRoom();
      // A small answer (most are) is held whole from its headers on when it fits now and read in
      // one go, the cheapest way; holding a few KiB ahead of their arrival keeps nobody waiting.
      if (Number.isSafeInteger(declared) && declared > 0 && declared <= SMALL_ANSWER_BYTES && answerBytes.tryTake(hold, declared)) {
        return await body.text();
      }
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          body.destroy();
          return unexpectedBody(response.statusCode);
        }
        if (!answerBytes.tryTake(hold, chunk.length)) {
          const pausedAt = now();
          try {
            await answerBytes.take(hold, chunk.length, deadline - pausedAt);
          } finally {
            waitedMs = (waitedMs ?? 0) + now() - pausedAt;
          }
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (!(error instanceof NoRoom)) throw error;
      body.on('error', () => undefined).destroy();
      return answerBytesFull(answerBytes.capacity);
    } finally {
      answerBytes.close(hold);
      if (waitedMs !== undefined) this.events.upstreamQueued('answer_bytes', waitedMs / 1000);
    }
    return Buffer.concat(chunks, size).toString('utf8');
  }
}
