// XDR's private intelligence as the sync uses it (RELAY.md §10): an OAuth2
// client-credentials token, reused until shortly before it expires (a 401 fetches
// a new one once), and CTIA's bundle import. 429, 5xx, timeouts and dropped
// connections are retried with full-jitter back-off within the run's deadline:
// an import is safe to repeat, every entity carries its external id. Messages
// never hold the secret, the token or what CTIA echoed of a bundle.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { RelayError } from '../errors.js';
import { retryAfterMs, statusReason } from '../spycloud/upstream-errors.js';
import type { XdrAccess } from './config.js';

const EXTERNAL_KEY_PREFIX = 'spycloud-';
const MAX_RETRIES = 4;
const RETRYABLE = new Set([429, 500, 502, 503, 504]);
/** A token is renewed this long before XDR says it expires (or at 90 % of a short lifetime). */
const RENEW_MARGIN_MS = 60_000;

interface ImportResult {
  id?: string;
  original_id?: string;
  result: string;
  type?: string;
  error?: string;
}

export interface XdrClientOptions {
  access: XdrAccess;
  dispatcher: Dispatcher;
  userAgent: string;
  /** Per call. */
  timeoutMs: number;
  retryBaseMs: number;
  /** The run's deadline (ms since the epoch): no wait or call goes past it. */
  deadline: number;
  budgetMs: number;
  now: () => number;
  random: () => number;
}

type Call = 'token' | 'import' | 'status';
type Answer = { status: number; headers: Record<string, string | string[] | undefined>; text: string };
type Attempt = { kind: 'answer'; answer: Answer } | { kind: 'failed'; error: RelayError };

/** CTIA's error word (`invalid_client`, `jwt_expired`…), never its free text. */
function errorWord(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown };
    return typeof body?.error === 'string' && /^[a-z_]{1,40}$/.test(body.error) ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** The sync's own budget message, for XDR and SpyCloud calls alike (not the relay's REQUEST_BUDGET_MS one). */
export const syncBudgetSpent = (budgetMs: number) =>
  new RelayError('unknown', `The sync ran out of its ${Math.round(budgetMs / 1000)} s budget (SYNC_BUDGET_S); the next run imports the rest.`);

export class XdrClient {
  private token: { value: string; renewAt: number } | undefined;
  /** Token requests made (for the run's report). */
  tokensFetched = 0;

  constructor(private readonly options: XdrClientOptions) {}

  /** A token, fetched when there is none or it is about to expire. */
  async accessToken(): Promise<string> {
    const { now } = this.options;
    if (this.token !== undefined && now() < this.token.renewAt) return this.token.value;
    const { access } = this.options;
    const basic = Buffer.from(`${access.clientId}:${access.clientSecret}`).toString('base64');
    const answer = await this.call(access.tokenUrl, 'token', {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    }, 'grant_type=client_credentials');
    this.tokensFetched += 1;
    if (answer.status === 400 || answer.status === 401 || answer.status === 403) {
      const word = errorWord(answer.text) ?? statusReason(answer.status);
      throw new RelayError('authorization error',
        `XDR refused the API client's credentials (HTTP ${answer.status} ${word}): check XDR_CLIENT_ID, XDR_CLIENT_SECRET and XDR_REGION.`);
    }
    if (answer.status !== 200) throw unexpected('token', answer.status);
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(answer.text) as typeof body;
    } catch {
      throw unexpectedBody('token', answer.status);
    }
    if (typeof body?.access_token !== 'string' || body.access_token === '') throw unexpectedBody('token', answer.status);
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 600_000;
    this.token = { value: body.access_token, renewAt: now() + Math.max(lifetimeMs - RENEW_MARGIN_MS, lifetimeMs * 0.9) };
    return this.token.value;
  }

  /**
   * Imports one bundle; answers CTIA's results. A 401 (an expired or revoked token)
   * fetches a new token once; a 400 means CTIA refused the whole bundle.
   */
  async importBundle(bundle: unknown): Promise<ImportResult[]> {
    const url = `${this.options.access.intelUrl}/ctia/bundle/import?external-key-prefixes=${EXTERNAL_KEY_PREFIX}`;
    const body = JSON.stringify(bundle);
    let answer: Answer | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = { authorization: `Bearer ${await this.accessToken()}`, 'content-type': 'application/json', accept: 'application/json' };
      answer = await this.call(url, 'import', headers, body);
      if (answer.status !== 401) break;
      this.token = undefined;
    }
    const { status, text } = answer as Answer;
    if (status === 401 || status === 403) {
      throw new RelayError('authorization error',
        `XDR refused the import (HTTP ${status} ${errorWord(text) ?? statusReason(status)}): give the API client the Private Intelligence scope (read and write).`);
    }
    if (status === 400) throw new RelayError('invalid argument', 'XDR refused a bundle as invalid CTIM (HTTP 400); nothing in it was stored.');
    if (status !== 200) throw unexpected('import', status);
    let results: unknown;
    try {
      results = (JSON.parse(text) as { results?: unknown })?.results;
    } catch {
      throw unexpectedBody('import', status);
    }
    if (!Array.isArray(results)) throw unexpectedBody('import', status);
    return results.filter((r): r is ImportResult => typeof r === 'object' && r !== null && typeof (r as ImportResult).result === 'string');
  }

  /** The HTTP status CTIA's status route answers with a token (doctor: the intel host is reachable); no retry. */
  async intelStatus(): Promise<number> {
    const headers = { authorization: `Bearer ${await this.accessToken()}`, accept: 'application/json' };
    const attempt = await this.once(`${this.options.access.intelUrl}/ctia/status`, 'status', headers, undefined);
    if (attempt.kind === 'failed') throw attempt.error;
    return attempt.answer.status;
  }

  /** POSTs, retrying what may pass; answers the first answer that is not retried. */
  private async call(url: string, what: Call, headers: Record<string, string>, body: string): Promise<Answer> {
    const { now, random, retryBaseMs, deadline } = this.options;
    for (let retry = 0; ; retry++) {
      const attempt = await this.once(url, what, headers, body);
      if (attempt.kind === 'answer' && !RETRYABLE.has(attempt.answer.status)) return attempt.answer;
      const error = attempt.kind === 'failed' ? attempt.error : unexpected(what, attempt.answer.status);
      if (retry >= MAX_RETRIES) throw error;
      const retryAfter = attempt.kind === 'answer' ? retryAfterMs(attempt.answer, now()) : undefined;
      const wait = retryAfter ?? random() * retryBaseMs * 3 ** retry;
      if (now() + wait >= deadline) throw error;
      await sleep(wait);
    }
  }

  private async once(url: string, what: Call, headers: Record<string, string>, body: string | undefined): Promise<Attempt> {
    const { timeoutMs, deadline, budgetMs, now } = this.options;
    const remaining = deadline - now();
    if (remaining <= 0) return { kind: 'failed', error: syncBudgetSpent(budgetMs) };
    const signal = AbortSignal.timeout(Math.min(timeoutMs, remaining));
    const target = new URL(url);
    try {
      const response = await this.options.dispatcher.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: body === undefined ? 'GET' : 'POST',
        signal,
        headers: { ...headers, 'user-agent': this.options.userAgent },
        body,
      });
      const text = await response.body.text();
      return { kind: 'answer', answer: { status: response.statusCode, headers: response.headers, text } };
    } catch (error) {
      if (signal.aborted) {
        return { kind: 'failed', error: remaining < timeoutMs ? syncBudgetSpent(budgetMs) : new RelayError('unknown', `XDR did not answer within ${timeoutMs} ms (${what}).`) };
      }
      const code = (error as { code?: unknown; cause?: { code?: unknown } })?.cause?.code ?? (error as { code?: unknown })?.code;
      return { kind: 'failed', error: new RelayError('unknown', `XDR could not be reached at ${target.host} (${what}): ${typeof code === 'string' ? code : 'connection failed'}.`) };
    }
  }
}

const unexpected = (what: Call, status: number) =>
  new RelayError('unknown', `Unexpected answer from XDR (${what}): HTTP ${status} ${statusReason(status)}.`);

const unexpectedBody = (what: Call, status: number) =>
  new RelayError('unknown', `XDR answered with an unexpected body (${what}, HTTP ${status}).`);
