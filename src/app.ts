// The relay's routes (RELAY.md §2), built from injected parts so that the Node
// server, the Lambda handler and the tests all run the same app.
import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import type { Authenticate } from './auth/authenticate.js';
import { answerJson } from './answer-json.js';
import type { Config } from './config.js';
import type { IndicatorMemo } from './ctim/indicator.js';
import type { CtimTimeOf } from './ctim/time.js';
import { enrich } from './enrich.js';
import { envelope, invalidPayload, RelayError, toRelayError, type ErrorDoc } from './errors.js';
import { parseObservables, supportedObservables } from './observe.js';
import type { RelayMetrics } from './metrics.js';
import type { SpyCloudClient } from './spycloud/client.js';
import type { RequestScope } from './spycloud/types.js';
import type { CacheOutcome } from './tiles/cache.js';
import type { Dashboard } from './tiles/dashboard.js';
import { TILES } from './tiles/definitions.js';
import { parseTileDataRequest, parseTileRequest } from './tiles/request.js';

const MAX_BODY_BYTES = 1 << 20;

export interface AppDeps {
  config: Config;
  version: string;
  authenticate: Authenticate;
  spycloud: SpyCloudClient;
  /** Reads SpyCloud times, remembering the ones it has read. */
  time: CtimTimeOf;
  /** Indicators and their JSON, made once per catalog. */
  indicators: IndicatorMemo;
  dashboard: Dashboard;
  /** Set: GET /metrics serves them, and every request is counted. */
  metrics?: RelayMetrics;
  logger: Logger;
  newId: () => string;
  now: () => number;
  /** The relay's own URL root as this request reached it: the token audience XDR signed. */
  urlRoot: (c: Context) => string;
}

/** What the request log line says about a request, filled in as it flows. */
interface RequestFacts {
  /** deps.now() when the request arrived: its budget runs from here. */
  arrivedAt: number;
  observables?: number;
  types?: string[];
  tenant?: string;
  scope?: RequestScope;
  /** The error the answer ends with; its text may quote SpyCloud or an observable, so only its type and code are logged. */
  error?: ErrorDoc;
  /** Why authentication failed: the relay's own fixed texts (RELAY.md §3), safe to log. */
  authFailure?: string;
  tile?: string;
  period?: string;
  tilesCache?: CacheOutcome;
}

type Env = { Variables: { facts: RequestFacts } };

const ROUTES: Readonly<Record<string, string>> = {
  '/health': 'POST',
  '/observe/observables': 'POST',
  '/version': 'POST',
  '/watchdog': 'GET',
  '/tiles': 'POST',
  '/tiles/tile': 'POST',
  '/tiles/tile-data': 'POST',
  '/healthz': 'GET',
};

/** The route a path names, for metric labels: one of the table's, never the raw path (it may hold anything). */
const routeOf = (routes: Readonly<Record<string, string>>, path: string): string => {
  const route = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return Object.hasOwn(routes, route) ? route : 'other';
};

/**
 * The scheme of the connection a request came on: Node's server hands its
 * socket over as `incoming`; undefined where there is none (app.request in tests).
 */
function connectionScheme(c: Context): 'http' | 'https' | undefined {
  const socket = (c.env as { incoming?: { socket?: { encrypted?: boolean } } } | undefined)?.incoming?.socket;
  if (socket === undefined) return undefined;
  return socket.encrypted === true ? 'https' : 'http';
}

/**
 * `<scheme>://<host>[:port]` the client called, from X-Forwarded-* only when the proxy is trusted.
 * The scheme is the connection's: a request-target in absolute form (`POST https://host/… HTTP/1.1`)
 * names its host, as HTTP/1.1 says it may, but cannot turn a plain connection into TLS.
 */
export function requestUrlRoot(config: Config) {
  return (c: Context): string => {
    if (config.relayPublicUrl !== undefined) return config.relayPublicUrl;
    const url = new URL(c.req.url);
    const scheme = connectionScheme(c) ?? url.protocol.slice(0, -1);
    if (!config.trustProxy) return `${scheme}://${url.host}`;
    const first = (name: string) => c.req.header(name)?.split(',')[0]?.trim() || undefined;
    const proto = first('x-forwarded-proto') ?? scheme;
    const host = first('x-forwarded-host') ?? url.host;
    return `${proto}://${host}`;
  };
}

/** The share of a request's budget kept for mapping and writing the answer: a tenth, at most a second. */
export const assemblyReserveMs = (budgetMs: number): number => Math.min(1_000, Math.floor(budgetMs / 10));

/** The SpyCloud work of one request that arrived at `arrivedAt` (the `lookup` command's too). */
export const requestScope = (arrivedAt: number, budgetMs: number): RequestScope => ({
  arrivedAt,
  // Upstream calls stop a little early: assembling the answer is part of the budget too.
  deadline: arrivedAt + budgetMs - assemblyReserveMs(budgetMs),
  budgetMs,
  upstreamCalls: 0,
});

/**
 * UTF-8 bytes of `text`. Answers are mostly ASCII, and for ASCII the byte-per-character
 * copy is the UTF-8 encoding too, several times faster; anything else is encoded as UTF-8.
 */
export function utf8(text: string): Buffer<ArrayBuffer> {
  // As many UTF-8 bytes as UTF-16 units only when every character is ASCII (any other takes 2 bytes or more per unit).
  return Buffer.from(text, Buffer.byteLength(text, 'utf8') === text.length ? 'latin1' : 'utf8');
}

const tooLarge = () => invalidPayload('The body is larger than 1 MiB.', 413);

/** The body as text, at most 1 MiB, read once; a client that hangs up mid-body is an input error, not a bug. */
async function readBody(request: Request): Promise<string> {
  const declared = request.headers.get('content-length');
  if (Number(declared ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  // With a declared length Node's parser delivers no more than that, and text() skips the
  // web-stream path (a measurable share of a warm enrichment's CPU); so does not touching
  // `request.body` first, which would build the whole web Request.
  if (declared !== null && !request.headers.has('transfer-encoding')) {
    try {
      return await request.text();
    } catch {
      throw invalidPayload('The body could not be read.');
    }
  }
  if (request.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof RelayError) throw error;
    throw invalidPayload('The body could not be read.');
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createApp(deps: AppDeps) {
  const { config, logger } = deps;
  const app = new Hono<Env>({ strict: false });

  const scopeFor = (c: Context<Env>): RequestScope => {
    const facts = c.get('facts');
    facts.scope = requestScope(facts.arrivedAt, config.requestBudgetMs);
    return facts.scope;
  };

  const authenticate = async (c: Context<Env>) => {
    try {
      const tenant = await deps.authenticate(c.req.header('authorization'), () => deps.urlRoot(c));
      c.get('facts').tenant = tenant.tenant;
      return tenant;
    } catch (error) {
      if (error instanceof RelayError) c.get('facts').authFailure = error.message;
      throw error;
    }
  };

  const fail = (c: Context<Env>, error: RelayError) => {
    c.get('facts').error = error.toDoc();
    // The unread rest of a refused body would poison a kept-alive connection.
    if (error.status === 413) c.header('Connection', 'close');
    return c.json(envelope(undefined, [error.toDoc()]), error.status as 200);
  };

  app.use(async (c, next) => {
    const started = performance.now();
    const facts: RequestFacts = { arrivedAt: deps.now() };
    c.set('facts', facts);
    const counted = deps.metrics?.requestStarted();
    try {
      await next();
    } finally {
      counted?.(routeOf(ROUTES, c.req.path), c.res.status, (performance.now() - started) / 1000);
    }
    const line = {
      method: c.req.method,
      path: c.req.path.slice(0, 200),
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      observables: facts.observables,
      types: facts.types,
      upstream_calls: facts.scope?.upstreamCalls,
      upstream_status: facts.scope?.upstreamStatus,
      tenant: facts.tenant,
      tile: facts.tile,
      period: facts.period,
      tiles_cache: facts.tilesCache,
      error: facts.error === undefined ? undefined : { type: facts.error.type, code: facts.error.code, reason: facts.authFailure },
    };
    if (facts.error?.type === 'fatal') logger.warn(line, 'request failed');
    else logger.info(line, 'request');
  });

  app.onError((error, c) => {
    if (error instanceof RelayError) return fail(c, error);
    // Anything else is a bug: log the stack for operators, never show it to clients.
    logger.error({ err: error }, 'unexpected failure');
    return fail(c, toRelayError(error));
  });

  app.post('/version', (c) => c.json({ version: deps.version }));

  // Liveness for orchestrators: no auth, no upstream call.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/watchdog', (c) => {
    const value = c.req.header('health-check');
    if (value === undefined) {
      return fail(c, new RelayError('health check failed', 'Invalid Health Check'));
    }
    return c.json({ data: value });
  });

  // A RelayError thrown by a handler becomes the contract's envelope in onError.
  app.post('/health', async (c) => {
    const tenant = await authenticate(c);
    await deps.spycloud.checkHealth({ apiKey: tenant.apiKey, scope: scopeFor(c) });
    return c.json({ data: { status: 'ok' } });
  });

  app.post('/observe/observables', async (c) => {
    const facts = c.get('facts');
    const observables = supportedObservables(parseObservables(await readBody(c.req.raw)));
    facts.observables = observables.length;
    facts.types = [...new Set(observables.map((o) => o.type))];
    if (observables.length === 0) return c.json({ data: {} });
    const tenant = await authenticate(c);
    const result = await enrich(observables, tenant, scopeFor(c), {
      ...deps,
      maxSightings: config.maxSightingsPerAnswer,
    });
    if (result.unexpected !== undefined) logger.error({ err: result.unexpected }, 'unexpected failure');
    facts.error = result.errors.at(-1);
    // A large answer is written in slices, so other requests are served meanwhile.
    const text = await answerJson(envelope(result.data, result.errors));
    // Bytes, not text: the Node adapter would otherwise measure the text's UTF-8 length and then
    // encode it, two passes over a large answer where one does.
    return c.body(utf8(text), 200, { 'content-type': 'application/json' });
  });

  // Dashboard tiles (§9): authenticated like /health, even for the fixed tile list.
  app.post('/tiles', async (c) => {
    await authenticate(c);
    return c.json({ data: TILES });
  });

  app.post('/tiles/tile', async (c) => {
    await authenticate(c);
    const tile = parseTileRequest(await readBody(c.req.raw));
    c.get('facts').tile = tile.id;
    return c.json({ data: tile });
  });

  app.post('/tiles/tile-data', async (c) => {
    const tenant = await authenticate(c);
    const { tile, period } = parseTileDataRequest(await readBody(c.req.raw));
    const facts = c.get('facts');
    facts.tile = tile.id;
    facts.period = period;
    const answer = await deps.dashboard.tileData(tile, period, { apiKey: tenant.apiKey, scope: scopeFor(c) });
    facts.tilesCache = answer.outcome;
    deps.metrics?.tilesCache(answer.outcome);
    facts.error = answer.errors.at(-1);
    return c.json(envelope(answer.data, answer.errors));
  });

  answerOtherRequests(app, ROUTES);
  return app;
}

/** 405 with `Allow` for a known path and another method; 404 for any other path. */
function answerOtherRequests<E extends object>(app: Hono<E>, routes: Readonly<Record<string, string>>): void {
  for (const [path, method] of Object.entries(routes)) {
    app.all(path, (c) => {
      c.header('Allow', method);
      return c.json({ code: 405, message: 'Method Not Allowed' }, 405);
    });
  }
  app.notFound((c) => c.json({ code: 404, message: 'Not Found' }, 404));
}

/** What METRICS_PORT serves: GET /metrics (RELAY.md §8), and the relay's 404 and 405 for anything else. */
export function createMetricsApp(metrics: RelayMetrics) {
  const app = new Hono({ strict: false });
  app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'content-type': metrics.contentType }));
  answerOtherRequests(app, { '/metrics': 'GET' });
  return app;
}
