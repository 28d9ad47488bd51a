// Node adapter: listen (HTTP, or HTTPS with TLS_CERT_FILE/TLS_KEY_FILE), and on
// SIGTERM/SIGINT stop accepting, let in-flight requests finish, then exit 0.
import { serve, type ServerType } from '@hono/node-server';
import { readFileSync, realpathSync } from 'node:fs';
import type { Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { RelayMetrics } from './metrics.js';
import { createRelay, type RelayOptions } from './relay.js';

export interface RunningServer {
  server: ServerType;
  /** e.g. http://127.0.0.1:9090 */
  url: string;
  /** Stops accepting, waits for in-flight requests, closes upstream connections. */
  close: () => Promise<void>;
}

export function readTlsFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(variable, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}): ${path}`);
  }
}

export async function startServer(config: Config, options: RelayOptions = {}): Promise<RunningServer> {
  const metrics = options.metrics ?? (config.metricsEnabled ? new RelayMetrics() : undefined);
  const { app, dispatcher } = createRelay(config, { ...options, metrics });
  const tls = config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
    ? { cert: readTlsFile('TLS_CERT_FILE', config.tlsCertFile), key: readTlsFile('TLS_KEY_FILE', config.tlsKeyFile) }
    : undefined;
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({
      fetch: app.fetch,
      port: config.port,
      hostname: config.host,
      ...(tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls }),
    }, () => resolve(s));
    s.once('error', reject);
  });
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
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const close = async () => {
    closing = true;
    for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      http.closeIdleConnections();
    });
    await dispatcher.close();
  };
  return { server, url: `${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`, close };
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
  logger.info({
    url: running.url,
    mode: config.secretKey === undefined ? 'xdr-hosted' : 'self-hosted',
    egress_proxy: config.httpsProxy !== undefined || config.httpProxy !== undefined,
  }, 'relay listening');
  if (config.secretKey === undefined && config.relayPublicUrl === undefined) {
    logger.warn('RELAY_PUBLIC_URL is unset: the token audience is taken from each request\'s Host header; set it to the URL XDR calls in production');
  }
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
