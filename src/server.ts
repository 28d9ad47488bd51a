// Node adapter: listen (HTTP, or HTTPS with TLS_CERT_FILE/TLS_KEY_FILE), serve
// GET /metrics on METRICS_PORT, and on SIGTERM/SIGINT stop accepting, let
// in-flight requests finish, then exit 0.
import { serve, type ServerType } from '@hono/node-server';
import { realpathSync } from 'node:fs';
import type { Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { createMetricsApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { RelayMetrics } from './metrics.js';
import { createRelay, type RelayOptions } from './relay.js';
import { tlsCredentials } from './tls.js';

export interface RunningServer {
  server: ServerType;
  /** Where a client on this machine reaches the relay, e.g. http://127.0.0.1:9090 */
  url: string;
  /** The address the relay listens on, as bound, e.g. http://0.0.0.0:9090 */
  listening: string;
  /** GET /metrics for a client on this machine; undefined with METRICS_ENABLED=false. */
  metricsUrl: string | undefined;
  /** The metrics port's address, as bound; undefined with METRICS_ENABLED=false. */
  metricsListening: string | undefined;
  /** Stops accepting, waits for in-flight requests, closes the metrics port and upstream connections. */
  close: () => Promise<void>;
}

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Why the relay cannot listen, naming the variable to change rather than the system call. */
function listenError(variable: 'PORT' | 'METRICS_PORT', host: string, port: number, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(variable, `${port} is already in use on HOST ${host} (EADDRINUSE): stop the process that listens there, or choose another ${variable}`);
    case 'EACCES':
      return new ConfigError(variable, `${port} on HOST ${host} needs privileges this user lacks (EACCES): use a port of 1024 or more`);
    case 'EADDRNOTAVAIL':
      return new ConfigError('HOST', `${host} is not an address of this machine (EADDRNOTAVAIL): use 0.0.0.0 (every interface) or one of its own addresses`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return new ConfigError('HOST', `"${host}" does not resolve (${code}): use an address of this machine, such as 0.0.0.0 or 127.0.0.1`);
    default:
      return new ConfigError(variable, `${port} on HOST ${host} cannot be listened on (${reason(error)})`);
  }
}

type Fetch = Parameters<typeof serve>[0]['fetch'];

async function listen(variable: 'PORT' | 'METRICS_PORT', config: Config, port: number, fetch: Fetch, tls?: { cert: Buffer; key: Buffer }): Promise<ServerType> {
  try {
    return await new Promise<ServerType>((resolve, reject) => {
      const s = serve({
        fetch,
        port,
        hostname: config.host,
        ...(tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls }),
      }, () => resolve(s));
      s.once('error', reject);
    });
  } catch (error) {
    throw listenError(variable, config.host, port, error);
  }
}

/** `<scheme>://<address>:<port>` of a listening server: as bound, or as a client here would call it. */
function addressOf(server: ServerType, scheme: string, forClients: boolean): string {
  const { address, port } = server.address() as AddressInfo;
  const host = forClients && (address === '0.0.0.0' || address === '::') ? '127.0.0.1' : address;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const closeServer = (server: ServerType) => new Promise<void>((resolve) => {
  server.close(() => resolve());
  (server as HttpServer).closeIdleConnections();
});

export async function startServer(config: Config, options: RelayOptions = {}): Promise<RunningServer> {
  const metrics = options.metrics ?? (config.metricsEnabled ? new RelayMetrics() : undefined);
  const tls = config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
    ? tlsCredentials(config.tlsCertFile, config.tlsKeyFile)
    : undefined;
  const { app, dispatcher } = createRelay(config, { ...options, metrics });
  let server: ServerType;
  let metricsServer: ServerType | undefined;
  try {
    server = await listen('PORT', config, config.port, app.fetch, tls);
    try {
      // Plain HTTP: a scrape from inside the network; the port is never published.
      metricsServer = metrics === undefined ? undefined : await listen('METRICS_PORT', config, config.metricsPort, createMetricsApp(metrics).fetch);
    } catch (error) {
      await closeServer(server);
      throw error;
    }
  } catch (error) {
    await dispatcher.close();
    throw error;
  }
  // Slow clients must not hold sockets for ever; XDR itself gives up long before.
  const http = server as HttpServer;
  http.headersTimeout = 10_000;
  http.requestTimeout = config.requestBudgetMs + 5_000;
  // Once closing, every answer still to be written says `Connection: close`, so
  // keep-alive sockets end with their last answer instead of idling on.
  let closing = false;
  const unanswered = new Set<ServerResponse>();
  http.prependListener('request', (_req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
  });
  const scheme = tls === undefined ? 'http' : 'https';
  let closed: Promise<void> | undefined;
  // Once is enough: a second call waits for the first.
  const close = () => (closed ??= (async () => {
    closing = true;
    for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
    await Promise.all([closeServer(server), ...(metricsServer === undefined ? [] : [closeServer(metricsServer)])]);
    await dispatcher.close();
  })());
  return {
    server,
    url: addressOf(server, scheme, true),
    listening: addressOf(server, scheme, false),
    metricsUrl: metricsServer === undefined ? undefined : `${addressOf(metricsServer, 'http', true)}/metrics`,
    metricsListening: metricsServer === undefined ? undefined : addressOf(metricsServer, 'http', false),
    close,
  };
}

/** The lines the relay logs once it listens: where, in which mode, and what an operator may have got wrong. */
function logStart(logger: Logger, config: Config, running: RunningServer, env: Record<string, string | undefined>): void {
  logger.info({
    url: running.listening,
    metrics_url: running.metricsListening === undefined ? undefined : `${running.metricsListening}/metrics`,
    mode: config.secretKey === undefined ? 'xdr-hosted' : 'self-hosted',
    egress_proxy: config.httpsProxy !== undefined || config.httpProxy !== undefined,
  }, 'relay listening');
  if (config.secretKey === undefined) {
    logger.info('XDR-hosted mode: XDR signs each token (RS256), checked with the keys of its JWKS host; set SECRET_KEY to mint tokens yourself (self-hosted mode)');
  } else {
    logger.info('self-hosted mode: tokens are signed with SECRET_KEY (HS256), minted with the token command');
  }
  if (env.SPYCLOUD_API_KEY !== undefined && env.SPYCLOUD_API_KEY.trim() !== '') {
    logger.warn('SPYCLOUD_API_KEY is set, but the relay never reads it: the SpyCloud key of each request comes in its token. To serve your own key, use self-hosted mode (set SECRET_KEY, mint a token with the command spycloud-relay token); SPYCLOUD_API_KEY is for the lookup, doctor and sync commands');
  }
  if (config.secretKey === undefined && config.relayPublicUrl === undefined) {
    logger.warn('RELAY_PUBLIC_URL is unset: the token audience is taken from each request\'s Host header; set it to the URL XDR calls in production');
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  // Synchronous writes, as Node's own stdout to a pipe: no line is lost when the
  // process exits right after writing it (the last ones of a shutdown).
  const logger = createLogger(config.logLevel, pino.destination({ dest: 1, sync: true }));
  let running: RunningServer;
  try {
    running = await startServer(config, { logger });
  } catch (error) {
    logger.fatal({ error: (error as Error).message }, 'relay could not start');
    process.exit(1);
  }
  logStart(logger, config, running, process.env);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // close() stops listening at once; the log line then tells the truth.
    const closed = running.close();
    logger.info({ signal }, 'draining in-flight requests');
    // A request cannot outlive its budget, so neither does the drain.
    setTimeout(() => {
      logger.error('in-flight requests did not finish in time; stopping anyway');
      process.exit(1);
    }, config.requestBudgetMs + 5_000).unref();
    void closed.then(() => {
      logger.info('relay stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) void main();
