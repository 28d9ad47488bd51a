// The AWS Lambda handler, invoked in-process with events shaped like the ones
// API Gateway REST API (payload v1, stage /dev, base64 body, multiValueHeaders),
// HTTP API and Function URLs (payload v2) send. Each answer must equal, byte for
// byte, the Node server's answer to the same request, in both auth modes. Every
// case runs twice: against src/lambda.ts and against the one-file bundle the
// Lambda package ships, imported from a directory with nothing else in it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { LambdaEvent } from 'hono/aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOG_LEVELS, loadConfig } from '../src/config.js';
import * as sourceModule from '../src/lambda.js';
import type { LambdaHandler } from '../src/lambda.js';
import { createLogger } from '../src/log.js';
import { fixture } from './support/fixtures.js';
import { startRelay, type TestRelay } from './support/relay.js';
import { catalogCalls, EXAMPLE_EMAIL, startExampleSpyCloud } from './support/spycloud.js';
import { json, startStandIn, type StandIn } from './support/stand-in.js';
import { hs256, xdrSigner, type XdrSigner } from './support/tokens.js';
import { WATCHLIST_PATH, watchlistPages, watchRecord } from './support/watchlist.js';
import { API_KEY } from './support/xdr.js';

const REST_DOMAIN = 'a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com';
const HTTP_API_DOMAIN = 'f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com';
const FUNCTION_URL_DOMAIN = 'k4x7qz2vbn3mwe5rty6uio8pas9dfghj.lambda-url.eu-west-1.on.aws';
const SECRET = 'lambda-test-secret-0123456789-abcdef';

interface Call {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Answer {
  status: number;
  contentType: string | null;
  allow: string | null;
  body: string;
}

/** How the Lambda is reached: which event shape, and the URL root XDR calls (the token audience). */
interface Gateway {
  name: string;
  urlRoot: string;
  event: (call: Call) => LambdaEvent;
}

const TIME = { requestTime: '23/Nov/2026:12:00:00 +0000', requestTimeEpoch: 1_795_435_200_000 };

/** API Gateway REST API, Lambda proxy integration on `/{proxy+}`, payload v1. */
function restApi(domain: string, stage: string, call: Call): LambdaEvent {
  const headers: Record<string, string> = {
    Accept: '*/*',
    Host: domain,
    'User-Agent': 'XDR-relay-client/1.0',
    'X-Amzn-Trace-Id': 'Root=1-6742c000-0a1b2c3d4e5f60718293a4b5',
    'X-Forwarded-For': '198.51.100.7',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...call.headers,
  };
  return {
    resource: '/{proxy+}',
    path: call.path,
    httpMethod: call.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { proxy: call.path.slice(1) },
    stageVariables: null,
    requestContext: {
      resourceId: 'x1y2z3',
      resourcePath: '/{proxy+}',
      httpMethod: call.method,
      extendedRequestId: 'BvW4rFh2DoEFzXw=',
      ...TIME,
      path: domain.includes('.execute-api.') ? `/${stage}${call.path}` : call.path,
      accountId: '123456789012',
      protocol: 'HTTP/1.1',
      stage,
      domainPrefix: domain.split('.')[0],
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      identity: { sourceIp: '198.51.100.7', userAgent: 'XDR-relay-client/1.0', accessKey: null, accountId: null, caller: null, user: null, userArn: null },
      domainName: domain,
      apiId: domain.split('.')[0],
    },
    // REST APIs with binary media types hand the body over base64-encoded.
    body: call.body === undefined ? null : Buffer.from(call.body).toString('base64'),
    isBase64Encoded: call.body !== undefined,
  } as unknown as LambdaEvent;
}

/** HTTP API (`$default` or a named stage) and Function URLs, payload v2: lower-case headers, rawPath. */
function payloadV2(domain: string, stage: string, call: Call, base64 = false): LambdaEvent {
  const rawPath = stage === '$default' ? call.path : `/${stage}${call.path}`;
  const headers = Object.fromEntries(Object.entries({
    accept: '*/*',
    host: domain,
    'user-agent': 'XDR-relay-client/1.0',
    'x-amzn-trace-id': 'Root=1-6742c000-0a1b2c3d4e5f60718293a4b5',
    'x-forwarded-for': '198.51.100.7',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    ...call.headers,
  }).map(([name, value]) => [name.toLowerCase(), value]));
  if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: domain.includes('.lambda-url.') ? 'anonymous' : '123456789012',
      apiId: domain.split('.')[0],
      domainName: domain,
      domainPrefix: domain.split('.')[0],
      http: { method: call.method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'XDR-relay-client/1.0' },
      requestId: 'JKJaXmPLvHcESHA=',
      routeKey: '$default',
      stage,
      time: TIME.requestTime,
      timeEpoch: TIME.requestTimeEpoch,
    },
    ...(call.body === undefined ? {} : { body: base64 ? Buffer.from(call.body).toString('base64') : call.body }),
    isBase64Encoded: base64,
  } as unknown as LambdaEvent;
}

const GATEWAYS: Gateway[] = [
  { name: 'REST API (v1), stage dev', urlRoot: `https://${REST_DOMAIN}/dev`, event: (call) => restApi(REST_DOMAIN, 'dev', call) },
  { name: 'HTTP API (v2), $default stage', urlRoot: `https://${HTTP_API_DOMAIN}`, event: (call) => payloadV2(HTTP_API_DOMAIN, '$default', call) },
  { name: 'HTTP API (v2), stage dev, base64 body', urlRoot: `https://${HTTP_API_DOMAIN}/dev`, event: (call) => payloadV2(HTTP_API_DOMAIN, 'dev', call, true) },
  { name: 'Function URL (v2)', urlRoot: `https://${FUNCTION_URL_DOMAIN}`, event: (call) => payloadV2(FUNCTION_URL_DOMAIN, '$default', call) },
];

async function invoke(lambda: LambdaHandler, event: LambdaEvent): Promise<Answer> {
  const result = await lambda(event);
  expect(result.isBase64Encoded).toBe(false);
  // A v1 event with multiValueHeaders gets multiValueHeaders back; others plain headers.
  const header = (name: string) => result.multiValueHeaders?.[name]?.[0] ?? (result.headers?.[name] as string | undefined) ?? null;
  return { status: result.statusCode, contentType: header('content-type'), allow: header('allow'), body: result.body };
}

async function callServer(server: TestRelay, call: Call): Promise<Answer> {
  const response = await fetch(server.url + call.path, { method: call.method, headers: call.headers, body: call.body });
  return { status: response.status, contentType: response.headers.get('content-type'), allow: response.headers.get('allow'), body: await response.text() };
}

/** Deterministic uuid4-shaped ids, restartable, so two relays number their sightings alike. */
function idSequence() {
  let n = 0;
  return {
    next: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    restart: () => {
      n = 0;
    },
  };
}

function quietLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

const OBSERVE = JSON.stringify(fixture('request-observe.json'));
const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** The same requests for server and Lambda; `auth` gives the Authorization header for a URL root. */
function calls(auth: (urlRoot: string) => Promise<Record<string, string>>, urlRoot: string): Array<Promise<[string, Call]>> {
  const authed = async (what: string, call: Omit<Call, 'headers'> & { headers?: Record<string, string> }): Promise<[string, Call]> =>
    [what, { ...call, headers: { ...JSON_HEADERS, ...call.headers, ...(await auth(urlRoot)) } }];
  const plain = async (what: string, call: Call): Promise<[string, Call]> => [what, call];
  return [
    authed('the worked example', { method: 'POST', path: '/observe/observables', body: OBSERVE }),
    authed('the worked example, path with a trailing slash', { method: 'POST', path: '/observe/observables/', body: OBSERVE }),
    authed('a health check', { method: 'POST', path: '/health' }),
    authed('the dashboard tiles', { method: 'POST', path: '/tiles' }),
    authed('one dashboard tile', { method: 'POST', path: '/tiles/tile', body: '{"tile_id":"spycloud-severity"}' }),
    authed('an unknown tile period', { method: 'POST', path: '/tiles/tile-data', body: '{"tile_id":"spycloud-severity","period":"today"}' }),
    authed('a body that is not JSON', { method: 'POST', path: '/observe/observables', body: '[{"type": "email",' }),
    plain('no Authorization header', { method: 'POST', path: '/observe/observables', headers: JSON_HEADERS, body: OBSERVE }),
    plain('/version', { method: 'POST', path: '/version', headers: {} }),
    plain('/watchdog with Health-Check', { method: 'GET', path: '/watchdog', headers: { 'Health-Check': 'lambda-probe' } }),
    plain('/watchdog without Health-Check', { method: 'GET', path: '/watchdog', headers: {} }),
    plain('an unknown path', { method: 'GET', path: '/observe/nothing', headers: {} }),
    plain('a known path with the wrong method', { method: 'GET', path: '/health', headers: {} }),
    plain('a tile route with the wrong method', { method: 'GET', path: '/tiles/tile-data', headers: {} }),
  ];
}

interface Mode {
  name: string;
  env: (spycloud: StandIn, jwks: StandIn) => Record<string, string>;
  auth: (signer: XdrSigner, jwks: StandIn) => (urlRoot: string) => Promise<Record<string, string>>;
}

const MODES: Mode[] = [
  {
    name: 'XDR-hosted (RS256, JWKS, audience)',
    env: (spycloud, jwks) => ({ SPYCLOUD_API_URL: spycloud.url, JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks', JWKS_ALLOWED_HOSTS: jwks.host }),
    auth: (signer, jwks) => async (aud) => ({ authorization: `Bearer ${await signer.sign({ key: API_KEY, jwks_host: jwks.host, aud })}` }),
  },
  {
    name: 'self-hosted (HS256)',
    env: (spycloud) => ({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET }),
    auth: () => async () => ({ authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` }),
  },
];

type LambdaModule = typeof sourceModule;

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const VERSION_EVENT = payloadV2(FUNCTION_URL_DOMAIN, '$default', { method: 'POST', path: '/version', headers: {} });
const run = promisify(execFile);

/**
 * The Lambda package as `sam build` makes it (Makefile): dist/lambda.js, bundled by
 * the build's own script, and a package.json saying it is an ES module, alone in
 * a fresh temporary directory (no node_modules to fall back on). Built once per run.
 */
let packageDir: Promise<string> | undefined;
function lambdaPackage(): Promise<string> {
  packageDir ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-lambda-package-'));
    await run(process.execPath, [fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url)), 'lambda', join(dir, 'dist', 'lambda.js')]);
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    return dir;
  })();
  return packageDir;
}
afterAll(async () => {
  if (packageDir !== undefined) rmSync(await packageDir, { recursive: true, force: true });
});

/** How the tests reach the handler: the module itself, and the bundle built from it. */
interface EntryPoint {
  name: string;
  load: () => Promise<LambdaModule>;
  /** Imports the module afresh with `env` added to the environment; its `handler`'s /version answer, or the import's error. */
  freshVersion: (env: Record<string, string>) => Promise<unknown>;
}

const ENTRY_POINTS: EntryPoint[] = [
  {
    name: 'src/lambda.ts',
    load: async () => sourceModule,
    freshVersion: async (extra) => {
      // As the bundle's run below: the handler's own request log line must not land in the test output.
      const env = { LOG_LEVEL: 'silent', ...extra };
      const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
      Object.assign(process.env, env);
      try {
        vi.resetModules();
        const { handler } = await import('../src/lambda.js');
        return JSON.parse((await handler(VERSION_EVENT)).body);
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
    },
  },
  {
    name: 'the Lambda bundle, alone in a directory',
    load: async () => (await import(pathToFileURL(join(await lambdaPackage(), 'dist', 'lambda.js')).href)) as LambdaModule,
    // In a plain `node` with nothing but PATH and `env`: no vitest, no node_modules, no NODE_PATH.
    freshVersion: async (env) => {
      const dir = await lambdaPackage();
      const script = `
        let answer;
        try {
          const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'dist', 'lambda.js')).href)});
          answer = JSON.parse((await handler(JSON.parse(process.env.EVENT))).body);
        } catch (error) {
          answer = { importError: error.message };
        }
        process.stdout.write('\\n' + JSON.stringify(answer));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', EVENT: JSON.stringify(VERSION_EVENT), ...env },
      });
      const answer = JSON.parse(stdout.split('\n').at(-1) as string);
      if (answer.importError !== undefined) throw new Error(answer.importError);
      return answer;
    },
  },
];

for (const entry of ENTRY_POINTS) {
  describe(entry.name, () => {
    let createHandler: LambdaModule['createHandler'];
    beforeAll(async () => {
      ({ createHandler } = await entry.load());
    });

    for (const mode of MODES) {
      describe(`Lambda answers equal the server's, ${mode.name}`, () => {
        let spycloud: StandIn;
        let jwks: StandIn;
        let signer: XdrSigner;
        let server: TestRelay;
        const serverIds = idSequence();
        const lambdaIds = idSequence();

        beforeAll(async () => {
          signer = await xdrSigner();
          spycloud = await startExampleSpyCloud();
          jwks = await startStandIn({ '/.well-known/jwks': json(signer.jwks) });
          server = await startRelay(mode.env(spycloud, jwks), { newId: serverIds.next });
        });
        afterAll(async () => {
          await server.close();
          await Promise.all([spycloud.close(), jwks.close()]);
        });

        for (const gateway of GATEWAYS) {
          it(gateway.name, async () => {
            // A fresh container per gateway: its caches start as cold as the server's did.
            const env = { LOG_LEVEL: 'debug', ...mode.env(spycloud, jwks) };
            const lambda = createHandler(loadConfig(env), { newId: lambdaIds.next, logger: quietLogger().logger });
            const auth = mode.auth(signer, jwks);
            const serverCalls = await Promise.all(calls(auth, server.url));
            const lambdaCalls = await Promise.all(calls(auth, gateway.urlRoot));
            for (const [index, [what, lambdaCall]] of lambdaCalls.entries()) {
              serverIds.restart();
              lambdaIds.restart();
              const fromServer = await callServer(server, (serverCalls[index] as [string, Call])[1]);
              const fromLambda = await invoke(lambda, gateway.event(lambdaCall));
              expect(fromLambda, what).toEqual(fromServer);
            }
          });
        }

        it('the comparison is not vacuous: the worked example answer is the full enrichment', async () => {
          const lambda = createHandler(loadConfig(mode.env(spycloud, jwks)), { logger: quietLogger().logger });
          const [, call] = await calls(mode.auth(signer, jwks), GATEWAYS[0]!.urlRoot)[0]!;
          const answer = JSON.parse((await invoke(lambda, GATEWAYS[0]!.event(call))).body);
          expect(answer.data.sightings.count).toBe(4);
          expect(answer.data.indicators.count).toBe(2);
          expect(answer.data.relationships.count).toBe(3);
        });
      });
    }

    describe('token audience on Lambda (XDR-hosted mode)', () => {
      let spycloud: StandIn;
      let jwks: StandIn;
      let signer: XdrSigner;
      beforeAll(async () => {
        signer = await xdrSigner();
        spycloud = await startExampleSpyCloud();
        jwks = await startStandIn({ '/.well-known/jwks': json(signer.jwks) });
      });
      afterAll(() => Promise.all([spycloud.close(), jwks.close()]));

      const lambdaWith = (extra: Record<string, string> = {}) => {
        const log = quietLogger();
        const env = { SPYCLOUD_API_URL: spycloud.url, JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks', JWKS_ALLOWED_HOSTS: jwks.host, ...extra };
        return { lambda: createHandler(loadConfig(env), { logger: log.logger }), log };
      };
      const health = async (aud: string): Promise<Call> => ({
        method: 'POST',
        path: '/health',
        headers: { authorization: `Bearer ${await signer.sign({ key: API_KEY, jwks_host: jwks.host, aud })}` },
      });
      const WRONG_AUDIENCE = { errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Wrong configuration-token-audience' }] };
      const OK = { data: { status: 'ok' } };
      const answer = async (lambda: LambdaHandler, event: LambdaEvent) => JSON.parse((await invoke(lambda, event)).body);

      it('a REST API stage is part of the audience: https://<domain>/dev, not https://<domain>', async () => {
        const { lambda } = lambdaWith();
        expect(await answer(lambda, restApi(REST_DOMAIN, 'dev', await health(`https://${REST_DOMAIN}/dev`)))).toEqual(OK);
        expect(await answer(lambda, restApi(REST_DOMAIN, 'dev', await health(`https://${REST_DOMAIN}/dev/`)))).toEqual(OK);
        expect(await answer(lambda, restApi(REST_DOMAIN, 'dev', await health(`https://${REST_DOMAIN}`)))).toEqual(WRONG_AUDIENCE);
        expect(await answer(lambda, restApi(REST_DOMAIN, 'prod', await health(`https://${REST_DOMAIN}/dev`)))).toEqual(WRONG_AUDIENCE);
      });

      it('the $default stage of an HTTP API or a Function URL adds nothing to the audience', async () => {
        const { lambda } = lambdaWith();
        expect(await answer(lambda, payloadV2(HTTP_API_DOMAIN, '$default', await health(`https://${HTTP_API_DOMAIN}`)))).toEqual(OK);
        expect(await answer(lambda, payloadV2(HTTP_API_DOMAIN, '$default', await health(`https://${HTTP_API_DOMAIN}/$default`)))).toEqual(WRONG_AUDIENCE);
        expect(await answer(lambda, payloadV2(FUNCTION_URL_DOMAIN, '$default', await health(`https://${FUNCTION_URL_DOMAIN}`)))).toEqual(OK);
      });

      it('a custom domain adds no stage: the audience is https://<custom domain>', async () => {
        const { lambda } = lambdaWith();
        expect(await answer(lambda, restApi('relay.example.com', 'prod', await health('https://relay.example.com')))).toEqual(OK);
        expect(await answer(lambda, restApi('relay.example.com', 'prod', await health('https://relay.example.com/prod')))).toEqual(WRONG_AUDIENCE);
      });

      it('RELAY_PUBLIC_URL, when set, is the only audience accepted', async () => {
        const { lambda } = lambdaWith({ RELAY_PUBLIC_URL: 'https://spycloud-relay.example.com/' });
        expect(await answer(lambda, restApi(REST_DOMAIN, 'dev', await health('https://spycloud-relay.example.com')))).toEqual(OK);
        expect(await answer(lambda, restApi(REST_DOMAIN, 'dev', await health(`https://${REST_DOMAIN}/dev`)))).toEqual(WRONG_AUDIENCE);
      });

      it('keeps JWKS and catalog caches across warm invocations of one container', async () => {
        const { lambda, log } = lambdaWith();
        jwks.seen.length = 0;
        spycloud.seen.length = 0;
        const call = async (): Promise<Call> => ({
          method: 'POST',
          path: '/observe/observables',
          headers: { authorization: (await health(`https://${HTTP_API_DOMAIN}`)).headers.authorization as string },
          body: OBSERVE,
        });
        for (let n = 0; n < 3; n++) {
          const body = await answer(lambda, payloadV2(HTTP_API_DOMAIN, '$default', await call()));
          expect(body.data.sightings.count).toBe(4);
        }
        expect(jwks.seen).toHaveLength(1);
        expect(catalogCalls(spycloud)).toHaveLength(1);
        expect(spycloud.seen.filter((s) => s.path.startsWith('/breach/data/emails/'))).toHaveLength(3);
        // The request log line names the route the relay matched, stage prefix removed.
        const lines = log.lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request');
        expect(lines.map((line) => [line.path, line.status])).toEqual(Array(3).fill(['/observe/observables', 200]));
      });
    });

    describe('the module', () => {
      it('exports a ready handler built from the environment, which knows the package version', async () => {
        expect(await entry.freshVersion({})).toEqual({ version: PACKAGE_VERSION });
      });

      it('fails at import, naming the variable, when the configuration is bad', async () => {
        await expect(entry.freshVersion({ CTR_ENTITIES_LIMIT: '0' })).rejects.toThrow(/^Invalid configuration: CTR_ENTITIES_LIMIT /);
      });

      it('an email observable in a Function URL event with a base64 body is enriched too', async () => {
        const spycloud = await startExampleSpyCloud();
        try {
          const lambda = createHandler(loadConfig({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET }), { logger: quietLogger().logger });
          const call: Call = {
            method: 'POST',
            path: '/observe/observables',
            headers: { ...JSON_HEADERS, authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` },
            body: JSON.stringify([{ type: 'email', value: EXAMPLE_EMAIL }]),
          };
          const body = JSON.parse((await invoke(lambda, payloadV2(FUNCTION_URL_DOMAIN, '$default', call, true))).body);
          expect(body.data.sightings.count).toBe(4);
        } finally {
          await spycloud.close();
        }
      });
    });

    describe('events that are not HTTP requests it can answer', () => {
      const PREFIX = 'Invalid JSON payload received. The Lambda event is not an HTTP request from API Gateway or a Function URL: ';
      const version = (call: Partial<Call> = {}) => ({ method: 'POST' as const, path: '/version', headers: {}, ...call });
      const v1 = (change: (event: Record<string, any>) => void) => {
        const event = restApi(REST_DOMAIN, 'dev', version()) as unknown as Record<string, any>;
        change(event);
        return event;
      };
      const v2 = (change: (event: Record<string, any>) => void, body?: string) => {
        const event = payloadV2(FUNCTION_URL_DOMAIN, '$default', version({ body }), body !== undefined) as unknown as Record<string, any>;
        change(event);
        return event;
      };
      const cases: Array<[string, unknown, string]> = [
        ['a null event', null, 'the event is null.'],
        ['no event', undefined, 'the event is of type undefined.'],
        ['a string', 'GET /version', 'the event is of type string.'],
        ['a list', [], 'the event is a list.'],
        ['an empty object (a console test event)', {}, 'no usable HTTP method.'],
        ['a scheduled event', { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, 'no usable HTTP method.'],
        ['v2, a body that is not base64', v2((e) => {
          e.body = '%%% not base64';
        }, 'x'), 'the body is not valid base64.'],
        ['v2, base64 cut short', v2((e) => {
          e.body = 'e';
        }, 'x'), 'the body is not valid base64.'],
        ['v2, a body that is a number', v2((e) => {
          e.body = 5;
        }), 'the body is not a string.'],
        ['v2, isBase64Encoded a string', v2((e) => {
          e.isBase64Encoded = 'yes';
        }), 'isBase64Encoded is not true or false.'],
        ['v2, no rawPath', v2((e) => {
          delete e.rawPath;
        }), 'no path starting with /.'],
        ['v2, rawPath a number', v2((e) => {
          e.rawPath = 5;
        }), 'no path starting with /.'],
        ['v2, no requestContext.http', v2((e) => {
          delete e.requestContext.http;
        }), 'requestContext.http is missing.'],
        ['v2, a method that is a number', v2((e) => {
          e.requestContext.http.method = 5;
        }), 'no usable HTTP method.'],
        ['v2, a method with a space', v2((e) => {
          e.requestContext.http.method = 'PO ST';
        }), 'no usable HTTP method.'],
        ['v2, headers a string', v2((e) => {
          e.headers = 'host: x';
        }), 'headers is not an object.'],
        ['v2, a header value with a line break', v2((e) => {
          e.headers['x-injected'] = 'a\r\nb';
        }), 'headers has a value that is not a string, or cannot be sent.'],
        ['v2, a header value that is a number', v2((e) => {
          e.headers['x-number'] = 5;
        }), 'headers has a value that is not a string, or cannot be sent.'],
        ['v2, rawQueryString a number', v2((e) => {
          e.rawQueryString = 5;
        }), 'rawQueryString is not a string.'],
        ['v2, cookies a string', v2((e) => {
          e.cookies = 'a=b';
        }), 'cookies is not a list of strings.'],
        ['v2, a domain name with a space', v2((e) => {
          e.requestContext.domainName = 'relay example.com';
        }), 'its domain name is not a host.'],
        ['v1, requestContext a string', v1((e) => {
          e.requestContext = 'dev';
        }), 'requestContext is not an object.'],
        ['v1, no httpMethod', v1((e) => {
          delete e.httpMethod;
        }), 'no usable HTTP method.'],
        ['v1, no path', v1((e) => {
          delete e.path;
        }), 'no path starting with /.'],
        ['v1, multiValueHeaders values not lists', v1((e) => {
          e.multiValueHeaders = { accept: '*/*' };
        }), 'multiValueHeaders has a value that is not a string, or cannot be sent.'],
        ['v1, a header name with a space', v1((e) => {
          e.headers['x bad'] = '1';
        }), 'headers has a name that cannot be sent.'],
        ['v1, queryStringParameters a list', v1((e) => {
          e.queryStringParameters = ['a'];
        }), 'queryStringParameters is not an object.'],
        ['v1, stage a number', v1((e) => {
          e.requestContext.stage = 1;
        }), 'requestContext.stage is not a string.'],
      ];

      it.each(cases)('%s: HTTP 400 with the invalid argument envelope, logged, nothing thrown or printed', async (_what, event, reason) => {
        const { createHandler: create } = await entry.load();
        const log = quietLogger();
        const lambda = create(loadConfig({ SECRET_KEY: SECRET }), { logger: log.logger });
        const printed = vi.spyOn(console, 'error');
        try {
          const result = await lambda(event as LambdaEvent);
          expect(result.statusCode).toBe(400);
          expect(result.headers?.['content-type']).toBe('application/json');
          expect(result.isBase64Encoded).toBe(false);
          expect(JSON.parse(result.body)).toEqual({ errors: [{ type: 'fatal', code: 'invalid argument', message: PREFIX + reason }] });
          expect(printed).not.toHaveBeenCalled();
        } finally {
          printed.mockRestore();
        }
        const refused = log.lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'Lambda event refused');
        expect(refused).toMatchObject({ level: 40, error: { code: 'invalid argument', reason: PREFIX + reason } });
      });

      it('the same events, well formed, are answered: the checks refuse only what is broken', async () => {
        const lambda = createHandler(loadConfig({ SECRET_KEY: SECRET }), { logger: quietLogger().logger });
        const body = '[{"type":"email","value":"a@b.example"}]';
        for (const event of [v1(() => undefined), v2(() => undefined), v2(() => undefined, body), v1((e) => {
          e.headers = null;
          e.multiValueHeaders = null;
          e.requestContext.stage = '$default';
        })]) {
          const result = await lambda(event as LambdaEvent);
          expect(result.statusCode).toBe(200);
          expect(JSON.parse(result.body)).toEqual({ version: PACKAGE_VERSION });
        }
      });
    });

    describe('dashboard tiles on Lambda', () => {
      it('a tile-data request reads the watchlist window of the injected clock and answers its figures', async () => {
        const spycloud = await startStandIn({
          [WATCHLIST_PATH]: watchlistPages([[
            watchRecord({ at: '2026-11-23T11:00:00Z', email: 'a@acme.example', severity: 30 }),
            watchRecord({ at: '2026-11-22T12:00:00Z', email: 'b@acme.example', severity: 2 }), // the window's start: outside
          ], [
            watchRecord({ at: '2026-11-22T12:00:01Z', email: 'b@acme.example', severity: 20 }),
          ]]),
        });
        try {
          const now = Date.UTC(2026, 10, 23, 12);
          const lambda = createHandler(loadConfig({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET }), { logger: quietLogger().logger, now: () => now });
          const call: Call = {
            method: 'POST',
            path: '/tiles/tile-data',
            headers: { ...JSON_HEADERS, authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` },
            body: JSON.stringify({ tile_id: 'spycloud-timeline', period: 'last_24_hours' }),
          };
          const body = JSON.parse((await invoke(lambda, restApi(REST_DOMAIN, 'dev', call))).body);
          expect(spycloud.seen.map((s) => s.url)).toEqual([
            `${WATCHLIST_PATH}?since=2026-11-22&until=2026-11-23`,
            `${WATCHLIST_PATH}?since=2026-11-22&until=2026-11-23&cursor=page-1`,
          ]);
          expect(body.data.observed_time).toEqual({ start_time: '2026-11-22T12:00:00.000000Z', end_time: '2026-11-23T12:00:00.000000Z' });
          expect(body.data.data).toHaveLength(25);
          expect(body.data.data[0]).toMatchObject({ label: '2026-11-22 12:00', value: 1, values: [{ key: 'high', value: 1 }] });
          expect(body.data.data[23]).toMatchObject({ label: '2026-11-23 11:00', value: 1, values: [{ key: 'critical', value: 1 }] });
        } finally {
          await spycloud.close();
        }
      });
    });
  });
}

describe('template.yaml (SAM)', () => {
  const template = readFileSync(new URL('../template.yaml', import.meta.url), 'utf8');
  /** The value of the first `key: value` line, at any indentation, after `after` if given. */
  const field = (key: string, after = ''): string | undefined =>
    new RegExp(`^\\s*${key}:[ \\t]*(.+)$`, 'm').exec(template.slice(template.indexOf(after)))?.[1]?.trim();

  it('runs dist/lambda.handler, compiled from src/lambda.ts, which exports handler', () => {
    expect(field('Transform')).toBe('AWS::Serverless-2016-10-31');
    expect(field('Type', 'RelayFunction:')).toBe('AWS::Serverless::Function');
    expect(field('Handler')).toBe('dist/lambda.handler');
    expect(field('CodeUri')).toBe('.');
    expect(field('Runtime')).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
    const build = JSON.parse(readFileSync(new URL('../tsconfig.build.json', import.meta.url), 'utf8'));
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(typeof sourceModule.handler).toBe('function');
  });

  it('ships the one-file bundle alone (Makefile), without source maps to load at each cold start', () => {
    const makefile = readFileSync(new URL('../Makefile', import.meta.url), 'utf8');
    const after = makefile.slice(makefile.indexOf('build-RelayFunction:')).split('\n').slice(1);
    // The recipe: the tab-indented lines right after the target, up to the next blank line.
    const recipe = after.slice(0, after.findIndex((line) => !line.startsWith('\t')));
    const shipped = recipe.filter((line) => line.includes('$(ARTIFACTS_DIR)') && !line.includes('mkdir'));
    expect(shipped).toEqual([
      '\tcp dist/lambda.js "$(ARTIFACTS_DIR)/dist/"',
      '\tprintf \'{ "type": "module" }\\n\' > "$(ARTIFACTS_DIR)/package.json"',
    ]);
    expect(field('NODE_OPTIONS')).toBeUndefined();
  });

  it('times out after the relay\'s own budget, within API Gateway\'s 30 s', () => {
    const timeoutS = Number(field('Timeout'));
    const budgetMs = Number(field('REQUEST_BUDGET_MS')?.replace(/'/g, ''));
    expect(timeoutS).toBeLessThanOrEqual(29);
    expect(budgetMs).toBeGreaterThan(0);
    expect(timeoutS * 1000).toBeGreaterThan(budgetMs);
    expect(loadConfig({ REQUEST_BUDGET_MS: String(budgetMs) }).requestBudgetMs).toBe(budgetMs);
  });

  it('maps its parameters onto the relay\'s variables, the secret hidden and long enough', () => {
    expect(field('SECRET_KEY')).toBe('!Ref SecretKey');
    expect(field('CTR_ENTITIES_LIMIT')).toBe('!Ref EntitiesLimit');
    expect(field('PASSWORD_DISPLAY')).toBe('!Ref PasswordDisplay');
    expect(field('LOG_LEVEL')).toBe('!Ref LogLevel');
    expect(field('NoEcho', 'SecretKey:')).toBe('true');
    expect(field('MinLength', 'SecretKey:')).toBe('32');
    expect(field('MinValue', 'EntitiesLimit:')).toBe('1');
    expect(field('AllowedValues', 'LogLevel:')).toBe(`[${LOG_LEVELS.join(', ')}]`);
    // Every value the template allows is one the relay starts with; masked is the default of both.
    expect(field('Default', 'PasswordDisplay:')).toBe('masked');
    for (const mode of field('AllowedValues', 'PasswordDisplay:')?.slice(1, -1).split(', ') ?? []) {
      expect(loadConfig({ PASSWORD_DISPLAY: mode }).passwordDisplay).toBe(mode);
    }
  });

  it('serves an HTTP API and outputs the relay URL', () => {
    expect(field('Type', 'Events:')).toBe('HttpApi');
    expect(field('Value', 'RelayUrl:')).toBe('!Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}');
  });
});
