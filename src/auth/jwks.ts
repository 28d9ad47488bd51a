// XDR's signing keys, per jwks_host (RELAY.md §3 step 4): cached for 10 minutes,
// refetched on an unknown kid at most once a minute, one fetch in flight per host.
import { importJWK, type JWK } from 'jose';
import { request, type Dispatcher } from 'undici';
import { NO_EVENTS, type RelayEvents } from '../events.js';

const TTL_MS = 10 * 60_000;
const UNKNOWN_KID_REFETCH_MS = 60_000;
const MAX_JWKS_BYTES = 1 << 20;

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

interface KeySet {
  keys: ReadonlyMap<string, VerifyKey>;
  fetchedAt: number;
}

export interface JwksOptions {
  urlTemplate: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
  now: () => number;
  /** Fetches and their outcome, for the metrics. */
  events?: RelayEvents;
}

/** The body as text, given up as soon as it passes `maxBytes` (a hostile host may stream for ever). */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw new Error('JWKS too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class JwksCache {
  private readonly sets = new Map<string, KeySet>();
  private readonly inFlight = new Map<string, Promise<KeySet>>();
  /** When each host was last asked, successfully or not: a failed refresh keeps the stale set. */
  private readonly lastAttempt = new Map<string, number>();

  private readonly events: RelayEvents;

  constructor(private readonly options: JwksOptions) {
    this.events = options.events ?? NO_EVENTS;
  }

  /**
   * The RS256 key with this kid, or undefined when the host does not publish it.
   * Throws when the host's key set cannot be fetched or parsed.
   */
  async key(host: string, kid: string | undefined): Promise<VerifyKey | undefined> {
    const now = this.options.now();
    let set = this.sets.get(host);
    if (set === undefined) {
      // Nothing cached and the host failed within the minute: fail without asking it again,
      // or every request (unauthenticated ones included) would make the relay fetch.
      if (!this.mayRefetch(host, now)) throw new Error('JWKS fetch failed recently');
      set = await this.refresh(host, set);
    } else if (now - set.fetchedAt >= TTL_MS && this.mayRefetch(host, now)) set = await this.refresh(host, set);
    if (kid !== undefined && !set.keys.has(kid) && this.mayRefetch(host, now)) set = await this.refresh(host, set);
    return kid === undefined ? undefined : set.keys.get(kid);
  }

  /** RS256 keys `host` publishes, fetched now (the `doctor` command); throws when they cannot be fetched. */
  async keyCount(host: string): Promise<number> {
    return (await this.refresh(host, undefined)).keys.size;
  }

  /** At most once a minute per host, counting failed attempts too; joining a fetch in flight costs nothing. */
  private mayRefetch(host: string, now: number): boolean {
    return this.inFlight.has(host) || now - (this.lastAttempt.get(host) ?? Number.NEGATIVE_INFINITY) >= UNKNOWN_KID_REFETCH_MS;
  }

  private refresh(host: string, stale: KeySet | undefined): Promise<KeySet> {
    let pending = this.inFlight.get(host);
    if (pending === undefined) {
      this.lastAttempt.set(host, this.options.now());
      pending = this.fetchKeySet(host)
        .then((fresh) => {
          this.events.jwksFetch('ok');
          this.sets.set(host, fresh);
          return fresh;
        })
        .catch((error: unknown) => {
          this.events.jwksFetch('failed');
          // A key set we already trust beats failing every analyst while the host hiccups.
          if (stale !== undefined) return stale;
          throw error;
        })
        .finally(() => this.inFlight.delete(host));
      this.inFlight.set(host, pending);
    }
    return pending;
  }

  private async fetchKeySet(host: string): Promise<KeySet> {
    const url = this.options.urlTemplate.replace('{host}', host);
    const response = await request(url, {
      dispatcher: this.options.dispatcher,
      signal: AbortSignal.timeout(this.options.timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (response.statusCode !== 200) {
      // Destroying an unread undici body emits an AbortError: nobody else listens for it.
      response.body.on('error', () => undefined).destroy();
      throw new Error(`JWKS HTTP ${response.statusCode}`);
    }
    const body = await readCapped(response.body, MAX_JWKS_BYTES);
    const parsed = JSON.parse(body) as { keys?: unknown };
    if (!Array.isArray(parsed.keys)) throw new Error('JWKS without keys');
    const keys = new Map<string, VerifyKey>();
    for (const jwk of parsed.keys as JWK[]) {
      if (typeof jwk?.kid !== 'string' || jwk.kty !== 'RSA') continue;
      try {
        keys.set(jwk.kid, await importJWK({ ...jwk, alg: 'RS256' }, 'RS256'));
      } catch {
        // One unusable key must not hide the others.
      }
    }
    return { keys, fetchedAt: this.options.now() };
  }
}
