// AWS Lambda adapter: API Gateway REST API (payload v1), HTTP API and Function
// URL (payload v2) events → the same app as the Node server. One relay per
// container, built at module load, so JWKS and catalog caches live across warm
// invocations and a bad configuration fails the function's init, loudly.
import type { Context } from 'hono';
import { handle, type APIGatewayProxyResult, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { pino } from 'pino';
import { loadConfig, type Config } from './config.js';
import { envelope, RelayError, toRelayError } from './errors.js';
import { httpEvent } from './lambda-event.js';
import { createLogger } from './log.js';
import { createRelay, type RelayOptions } from './relay.js';

/** Takes any event: Lambda hands over whatever it was invoked with. */
export type LambdaHandler = (event: unknown, context?: LambdaContext) => Promise<APIGatewayProxyResult>;

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/i;

interface EventFacts {
  version: 1 | 2;
  domain: string | undefined;
  stage: string | undefined;
}

function facts(event: LambdaEvent): EventFacts {
  const context = event.requestContext as { domainName?: string; stage?: string } | undefined;
  const headers = (event.headers ?? {}) as Record<string, string | string[] | undefined>;
  const hostHeader = Object.entries(headers).find(([name]) => name.toLowerCase() === 'host')?.[1];
  return {
    version: 'rawPath' in event ? 2 : 1,
    domain: context?.domainName ?? (Array.isArray(hostHeader) ? hostHeader[0] : hostHeader),
    stage: context?.stage,
  };
}

/** A named stage reached through the execute-api host is part of the URL XDR calls. */
function stagePrefix({ domain, stage }: EventFacts): string {
  return domain !== undefined && EXECUTE_API_HOST.test(domain) && stage !== undefined && stage !== '' && stage !== '$default'
    ? `/${stage}`
    : '';
}

/**
 * The token audience: RELAY_PUBLIC_URL, else `https://<domain>` plus `/<stage>`
 * for a named stage on the execute-api host (RELAY.md §3 step 7).
 */
export function lambdaUrlRoot(config: Config) {
  return (c: Context): string => {
    if (config.relayPublicUrl !== undefined) return config.relayPublicUrl;
    const event = (c.env as { event?: LambdaEvent } | undefined)?.event;
    if (event === undefined) return new URL(c.req.url).origin;
    const about = facts(event);
    return `https://${about.domain ?? new URL(c.req.url).host}${stagePrefix(about)}`;
  };
}

/**
 * The path the relay routes on. REST API (v1) events already leave the stage
 * out of `path`; HTTP API (v2) events keep a named stage in `rawPath`.
 */
function withRoutePath(event: LambdaEvent): LambdaEvent {
  const about = facts(event);
  if (about.version !== 2 || about.stage === undefined || about.stage === '$default') return event;
  const v2 = event as LambdaEvent & { rawPath: string };
  const prefix = `/${about.stage}`;
  if (v2.rawPath !== prefix && !v2.rawPath.startsWith(`${prefix}/`)) return event;
  return { ...v2, rawPath: v2.rawPath.slice(prefix.length) || '/' };
}

/** The contract's error envelope as a Lambda result. */
const errorResult = (error: RelayError): APIGatewayProxyResult => ({
  statusCode: error.status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(envelope(undefined, [error.toDoc()])),
  isBase64Encoded: false,
});

export function createHandler(config: Config, options: RelayOptions = {}): LambdaHandler {
  // Lambda may freeze the process right after an answer: write log lines synchronously.
  const logger = options.logger ?? createLogger(config.logLevel, pino.destination({ dest: 1, sync: true }));
  const { app } = createRelay(config, { ...options, logger, urlRoot: options.urlRoot ?? lambdaUrlRoot(config) });
  const handleEvent = handle(app);
  return async (event, context) => {
    let request: LambdaEvent;
    try {
      request = withRoutePath(httpEvent(event));
    } catch (error) {
      const refused = toRelayError(error);
      // The relay's own words about the event's shape: no value of it.
      logger.warn({ error: { type: refused.type, code: refused.code, reason: refused.message } }, 'Lambda event refused');
      return errorResult(refused);
    }
    return handleEvent(request, context);
  };
}

export const handler: LambdaHandler = createHandler(loadConfig());
