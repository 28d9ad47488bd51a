// What the relay counts for operators (RELAY.md §8): the parts report plain
// events (events.ts), and RelayMetrics turns them into Prometheus series
// (prom-client) served at GET /metrics. Only the Node server loads it, so the
// Lambda bundle carries no prom-client. Each relay has its own registry. No label
// ever holds an API key, a tenant hash, an observable value or a token: routes are
// the route table's paths, upstream calls are named by kind.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueResource, RelayEvents, UpstreamKind, UpstreamOutcome } from './events.js';

export class RelayMetrics implements RelayEvents {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'status'>;
  private readonly duration: Histogram<'route'>;
  private readonly inFlight: Gauge;
  private readonly upstream: Counter<'kind' | 'status'>;
  private readonly retries: Counter<'kind'>;
  private readonly timeouts: Counter<'kind'>;
  private readonly queued: Histogram<'resource'>;
  private readonly catalogs: Counter<'result'>;
  private readonly jwks: Counter<'outcome'>;
  private readonly tiles: Counter<'result'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'relay_requests_total', help: 'Relay requests answered, by route and HTTP status.', labelNames: ['route', 'status'], registers });
    this.duration = new Histogram({
      name: 'relay_request_duration_seconds', help: 'Time to answer a relay request, by route.', labelNames: ['route'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25],
    });
    this.inFlight = new Gauge({ name: 'relay_requests_in_flight', help: 'Relay requests being answered now.', registers });
    this.upstream = new Counter({ name: 'relay_upstream_calls_total', help: 'SpyCloud calls, by endpoint kind and HTTP status (or timeout, error).', labelNames: ['kind', 'status'], registers });
    this.retries = new Counter({ name: 'relay_upstream_retries_total', help: 'SpyCloud calls retried, by endpoint kind.', labelNames: ['kind'], registers });
    this.timeouts = new Counter({ name: 'relay_upstream_timeouts_total', help: 'SpyCloud calls that timed out, by endpoint kind.', labelNames: ['kind'], registers });
    this.queued = new Histogram({
      name: 'relay_upstream_queue_seconds', help: 'Time SpyCloud calls that had to wait waited for a connection slot or for answer-byte room, by resource.',
      labelNames: ['resource'], registers, buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25],
    });
    this.catalogs = new Counter({ name: 'relay_catalog_cache_total', help: 'Breach catalog lookups: hit, stale (served while refreshed) or miss.', labelNames: ['result'], registers });
    this.jwks = new Counter({ name: 'relay_jwks_fetches_total', help: 'JWKS key set fetches, by outcome.', labelNames: ['outcome'], registers });
    this.tiles = new Counter({ name: 'relay_tiles_cache_total', help: 'Tile aggregate lookups: hit, shared (joined a read in flight) or read.', labelNames: ['result'], registers });
  }

  /** Call when a request starts; call the result when it has been answered. */
  requestStarted(): (route: string, status: number, seconds: number) => void {
    this.inFlight.inc();
    return (route, status, seconds) => {
      this.inFlight.dec();
      this.requests.inc({ route, status: String(status) });
      this.duration.observe({ route }, seconds);
    };
  }

  upstreamCall(kind: UpstreamKind, outcome: UpstreamOutcome): void {
    this.upstream.inc({ kind, status: String(outcome) });
    if (outcome === 'timeout') this.timeouts.inc({ kind });
  }

  upstreamRetry(kind: UpstreamKind): void {
    this.retries.inc({ kind });
  }

  upstreamQueued(resource: QueueResource, seconds: number): void {
    this.queued.observe({ resource }, seconds);
  }

  catalogLookup(result: 'hit' | 'stale' | 'miss'): void {
    this.catalogs.inc({ result });
  }

  jwksFetch(outcome: 'ok' | 'failed'): void {
    this.jwks.inc({ outcome });
  }

  tilesCache(result: 'hit' | 'shared' | 'read'): void {
    this.tiles.inc({ result });
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
