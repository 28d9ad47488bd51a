// The composition root: Config → a ready relay app with its clients and caches.
// Every cache lives on the instance, so two relays in one process share nothing.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EnvHttpProxyAgent, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { createApp, requestUrlRoot, type AppDeps } from './app.js';
import { selfHostedAuthenticator, xdrAuthenticator } from './auth/authenticate.js';
import { JwksCache } from './auth/jwks.js';
import type { Config } from './config.js';
import { IndicatorMemo } from './ctim/indicator.js';
import { rememberingCtimTime } from './ctim/time.js';
import { createLogger } from './log.js';
import { NO_EVENTS, type RelayEvents } from './events.js';
import type { RelayMetrics } from './metrics.js';
import { CatalogStore } from './spycloud/catalog-store.js';
import { AnswerBytes } from './spycloud/answer-bytes.js';
import { SpyCloudClient } from './spycloud/client.js';
import { ConnectionSlots } from './spycloud/connection-slots.js';
import { KeyLimiter } from './spycloud/key-limiter.js';
import { SpyCloudTransport } from './spycloud/transport.js';
import { Dashboard } from './tiles/dashboard.js';

/** The package version, written into the bundles at build time (scripts/bundle.mjs): the Lambda package has no package.json to read. */
declare const __RELAY_VERSION__: string | undefined;

export const packageVersion = (): string =>
  typeof __RELAY_VERSION__ === 'string'
    ? __RELAY_VERSION__
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** How the relay names itself to SpyCloud and XDR. */
export const userAgent = (version = packageVersion()): string => `spycloud-xdr-relay/${version}`;

export interface RelayOptions {
  logger?: Logger;
  /** Outbound HTTP for SpyCloud and JWKS; by default egressDispatcher(config). */
  dispatcher?: Dispatcher;
  now?: () => number;
  random?: () => number;
  newId?: () => string;
  urlRoot?: AppDeps['urlRoot'];
  /** Counted and served at GET /metrics; the Node server makes them when METRICS_ENABLED, the Lambda handler never. */
  metrics?: RelayMetrics;
}

/**
 * Keep-alive pool for SpyCloud and JWKS calls, through the egress proxy of the
 * Config. Empty strings (not undefined) stop undici from reading process.env
 * itself, so the Config is the only source. http:// upstreams go to the proxy
 * in absolute form and https:// ones through a CONNECT tunnel, as curl does.
 */
export function egressDispatcher(config: Config): Dispatcher {
  return new EnvHttpProxyAgent({
    keepAliveTimeout: 30_000,
    // Per origin: thousands of tenants at once must not exhaust file descriptors.
    connections: config.spycloudMaxConnections,
    httpProxy: config.httpProxy ?? '',
    httpsProxy: config.httpsProxy ?? '',
    noProxy: config.noProxy ?? '',
    proxyTunnel: false,
  });
}

/**
 * The SpyCloud client of the Config (limits, pages, retries, answer-byte cap, catalog
 * cache): the relay's, and the one the `lookup` and `doctor` commands use.
 */
export function createSpyCloud(
  config: Config,
  dispatcher: Dispatcher,
  options: Pick<RelayOptions, 'now' | 'random'> & { version?: string; events?: RelayEvents } = {},
) {
  const now = options.now ?? Date.now;
  const events = options.events ?? NO_EVENTS;
  const transport = new SpyCloudTransport({
    baseUrl: config.spycloudApiUrl,
    timeoutMs: config.spycloudTimeoutMs,
    retryBaseMs: config.spycloudRetryBaseMs,
    userAgent: userAgent(options.version),
    dispatcher,
    limiter: new KeyLimiter(config.spycloudMaxConcurrency),
    answerBytes: new AnswerBytes(config.spycloudMaxBufferedBytes),
    connections: new ConnectionSlots(config.spycloudMaxConnections),
    events,
    now,
    random: options.random ?? Math.random,
  });
  return new SpyCloudClient(transport, new CatalogStore(config.catalogCacheTtlS, now, events), config.spycloudMaxPages);
}

export function createRelay(config: Config, options: RelayOptions = {}) {
  const now = options.now ?? Date.now;
  const version = packageVersion();
  const dispatcher = options.dispatcher ?? egressDispatcher(config);
  const { metrics } = options;
  const events = metrics ?? NO_EVENTS;
  const spycloud = createSpyCloud(config, dispatcher, { now, random: options.random, version, events });
  const authenticate = config.secretKey === undefined
    ? xdrAuthenticator(config, new JwksCache({ urlTemplate: config.jwksUrlTemplate, dispatcher, timeoutMs: config.spycloudTimeoutMs, now, events }), now)
    : selfHostedAuthenticator(config, config.secretKey, now);
  const app = createApp({
    config,
    version,
    authenticate,
    spycloud,
    metrics,
    time: rememberingCtimTime(),
    indicators: new IndicatorMemo(),
    dashboard: new Dashboard(spycloud, { cacheTtlS: config.tilesCacheTtlS, maxPages: config.tilesMaxPages }, now),
    logger: options.logger ?? createLogger(config.logLevel),
    newId: options.newId ?? randomUUID,
    now,
    urlRoot: options.urlRoot ?? requestUrlRoot(config),
  });
  return { app, dispatcher };
}
