// `spycloud-relay doctor`: reads the configuration as the relay would, then checks
// from where it runs each thing the relay depends on, through the relay's own egress
// (proxy included): XDR's key hosts, SpyCloud, whether SpyCloud accepts a key, and
// the sync's XDR API client when one is configured.
import { parseArgs } from 'node:util';
import type { Dispatcher } from 'undici';
import { JwksCache } from '../auth/jwks.js';
import { tenantFromClaims } from '../auth/tenant.js';
import type { CliResult } from '../cli.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { RelayError, toRelayError } from '../errors.js';
import { createSpyCloud, egressDispatcher, userAgent } from '../relay.js';
import { redactUrlCredentials } from '../redact.js';
import { tlsCredentials } from '../tls.js';
import { EXIT } from './usage.js';
import { budgetSpent, IP_NOT_ALLOWED, timedOut, transportError } from '../spycloud/upstream-errors.js';
import { xdrAccess, type XdrAccess } from '../sync/config.js';
import { XdrClient } from '../sync/xdr-client.js';

type Env = Record<string, string | undefined>;

export const DOCTOR_HELP = `Usage: spycloud-relay doctor [--key K]

  Reads the relay's configuration from the environment as the relay would
  (TLS_CERT_FILE and TLS_KEY_FILE included), then checks from this machine,
  through the relay's egress proxy if any: each JWKS host of
  JWKS_ALLOWED_HOSTS (XDR-hosted mode), that SpyCloud answers, and, with a
  key, that SpyCloud accepts it. One line per check:
  ok, warn or FAIL, with what to do. Each check waits SPYCLOUD_TIMEOUT_MS.
  With XDR_CLIENT_ID set, also the sync's XDR API client: that XDR gives it
  a token, and that the private intelligence host answers.

  --key <key>        A SpyCloud API key to check. Defaults to the
                     SPYCLOUD_API_KEY environment variable, which is safer.

  -h, --help         Show this help.

  Exit code 0: no check failed; 1: some did; 2: a mistake on the command line
  or a configuration error (the relay would not start). See
  "spycloud-relay --help".
`;

type Status = 'ok' | 'warn' | 'FAIL' | 'skip';

interface Check {
  status: Status;
  name: string;
  /** What was found. */
  detail: string;
  /** What to do about it (warn and FAIL). */
  fix?: string;
}

// Details quote configured URLs, and a URL may carry a login.
const line = ({ status, name, detail, fix }: Check) =>
  redactUrlCredentials(`${status.padEnd(5)} ${name}: ${detail}${fix === undefined ? '' : ` → ${fix}`}`);

/** The proxy as the operator wrote it, minus any login: a proxy URL may carry credentials. */
function shownProxy(proxy: string): string {
  const url = new URL(proxy);
  return `${url.protocol}//${url.host}`;
}

/**
 * The egress proxy egressDispatcher sends a call to `target` through, or undefined
 * when it goes direct: undici's EnvHttpProxyAgent rules (protocol, then NO_PROXY
 * entries `host`, `.domain`, `*.domain`, `host:port`, or `*` alone).
 */
export function egressProxy(config: Config, target: string): string | undefined {
  const url = new URL(target);
  const proxy = url.protocol === 'https:' ? config.httpsProxy ?? config.httpProxy : config.httpProxy;
  if (proxy === undefined) return undefined;
  const noProxy = config.noProxy ?? '';
  if (noProxy === '*') return undefined;
  const host = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const bypassed = noProxy.split(/[,\s]/).filter((entry) => entry !== '').some((entry) => {
    const [, name = entry, entryPort] = /^(.+):(\d+)$/.exec(entry) ?? [];
    const hostname = name.replace(/^\*?\./, '').toLowerCase();
    return (entryPort === undefined || Number(entryPort) === port) && (host === hostname || host.endsWith(`.${hostname}`));
  });
  return bypassed ? undefined : proxy;
}

const via = (config: Config, target: string) => {
  const proxy = egressProxy(config, target);
  return proxy === undefined ? '(direct, no egress proxy)' : `(through egress proxy ${shownProxy(proxy)})`;
};

/** The usual mistake: SPYCLOUD_API_URL without the API's path. */
const WRONG_PATH_FIX = 'SpyCloud has no such path: SPYCLOUD_API_URL must be the API\'s base URL with its path, https://api.spycloud.io/enterprise-v2';

const REACH_FIX = 'check that this machine may reach it (firewall, DNS, HTTPS_PROXY, NO_PROXY)';

function configuration(env: Env): { config?: Config; check: Check } {
  const name = 'configuration';
  try {
    const config = loadConfig(env);
    // The server checks these at start too, and stops when they do not do.
    if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) tlsCredentials(config.tlsCertFile, config.tlsKeyFile);
    const mode = config.secretKey === undefined
      ? `XDR-hosted mode (RS256 tokens; JWKS hosts ${config.jwksAllowedHosts.join(', ')})`
      : 'self-hosted mode (HS256 tokens signed with SECRET_KEY)';
    return { config, check: { status: 'ok', name, detail: `${mode}; SpyCloud at ${config.spycloudApiUrl}` } };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { check: { status: 'FAIL', name, detail: error.message, fix: 'fix that variable (README: Configuration); the relay would not start' } };
  }
}

function publicUrl(config: Config): Check {
  const name = 'RELAY_PUBLIC_URL';
  if (config.relayPublicUrl !== undefined) return { status: 'ok', name, detail: `XDR's tokens must be meant for ${config.relayPublicUrl}` };
  return {
    status: 'warn',
    name,
    detail: "unset: the token audience is taken from each request's Host header",
    fix: 'set it to the URL XDR calls, e.g. https://spycloud-relay.example.com',
  };
}

/** Why a key-set fetch failed, in words, and whether the host answered at all. */
function fetchFailure(error: unknown, timeoutMs: number): { reason: string; answered: boolean } {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return { reason: `no answer within ${timeoutMs} ms`, answered: false };
  }
  // Connection failures carry a system or undici code; the JWKS cache's own reasons (a status, a body without keys) do not.
  const answered = typeof (error as { code?: unknown })?.code !== 'string';
  return { reason: error instanceof Error ? error.message : String(error), answered };
}

async function jwksHost(config: Config, jwks: JwksCache, host: string): Promise<Check> {
  const name = `JWKS host ${host}`;
  const url = config.jwksUrlTemplate.replace('{host}', host);
  try {
    const keys = await jwks.keyCount(host);
    if (keys > 0) return { status: 'ok', name, detail: `${keys} RS256 key${keys === 1 ? '' : 's'} at ${url} ${via(config, url)}` };
    return {
      status: 'FAIL', name, detail: `${url} publishes no RS256 key with a kid`,
      fix: 'check JWKS_URL_TEMPLATE; XDR tokens of this region would be refused',
    };
  } catch (error) {
    const { reason, answered } = fetchFailure(error, config.spycloudTimeoutMs);
    return {
      status: 'FAIL', name, detail: `${url} could not be fetched ${via(config, url)}: ${reason}`,
      fix: answered
        ? 'the host answers, but with no key set: check JWKS_URL_TEMPLATE'
        : `${REACH_FIX}, or drop the host from JWKS_ALLOWED_HOSTS if XDR does not use that region`,
    };
  }
}

/** Any HTTP answer will do: it proves the way to SpyCloud is open. */
async function spycloudReachable(config: Config, dispatcher: Dispatcher): Promise<Check> {
  const name = 'SpyCloud reachable';
  const base = new URL(config.spycloudApiUrl);
  const signal = AbortSignal.timeout(config.spycloudTimeoutMs);
  try {
    const response = await dispatcher.request({
      origin: base.origin,
      path: `${base.pathname.replace(/\/+$/, '')}/watchlist/example.org`,
      method: 'GET',
      signal,
      headers: { accept: 'application/json', 'user-agent': userAgent() },
    });
    await response.body.dump();
    const detail = `${base.origin} answered HTTP ${response.statusCode} ${via(config, base.origin)}`;
    // Any answer proves the way open, but a 404 says the API is not at that path.
    if (response.statusCode === 404) return { status: 'FAIL', name, detail, fix: WRONG_PATH_FIX };
    return { status: 'ok', name, detail };
  } catch (error) {
    const problem = signal.aborted ? timedOut(config.spycloudTimeoutMs) : transportError(error);
    const fix = problem.message.startsWith('Unable to verify SSL certificate')
      ? 'a proxy that inspects TLS? give Node its CA in NODE_EXTRA_CA_CERTS'
      : `${REACH_FIX}, and SPYCLOUD_API_URL`;
    return { status: 'FAIL', name, detail: `${problem.message.replace(/\.$/, '')} ${via(config, base.origin)}`, fix };
  }
}

/** The relay's /health call with this key: 2xx or 400 means SpyCloud accepts it. */
async function keyAccepted(config: Config, dispatcher: Dispatcher, key: string): Promise<Check> {
  const name = 'SpyCloud API key';
  const timeoutMs = config.spycloudTimeoutMs;
  const arrivedAt = Date.now();
  try {
    const { apiKey } = tenantFromClaims({ key }, config.entitiesLimit, arrivedAt, config.passwordDisplay);
    const spycloud = createSpyCloud(config, dispatcher);
    await spycloud.checkHealth({ apiKey, scope: { arrivedAt, deadline: arrivedAt + timeoutMs, budgetMs: timeoutMs, upstreamCalls: 0 } });
    return { status: 'ok', name, detail: 'SpyCloud accepts it' };
  } catch (error) {
    const problem = toRelayError(error);
    // This check's budget is one call's timeout, so running out of it is that timeout.
    const detail = problem.message === budgetSpent(timeoutMs).message ? timedOut(timeoutMs).message : problem.message;
    return { status: 'FAIL', name, detail, fix: keyFix(problem) };
  }
}

function keyFix(problem: RelayError): string {
  if (problem.message === IP_NOT_ALLOWED) {
    return "SpyCloud allow-lists the IP addresses a key may be used from: give SpyCloud this relay's public egress IP (the proxy's, behind one)";
  }
  if (problem.message === 'Authorization failed: Unauthorized') return 'the key holds spaces or characters an HTTP header cannot carry: copy it again';
  if (problem.code === 'authorization error') return 'check the key: an Employee ATO Prevention API key from the SpyCloud portal, copied whole';
  if (problem.code === 'too many requests') return 'wait and run doctor again';
  if (problem.code === 'not found') return WRONG_PATH_FIX;
  return 'see the SpyCloud check above; try again later';
}

const XDR_SCOPE_FIX = 'give the API client the Private Intelligence scope (read and write) in XDR (Administration → API Clients), for the region of XDR_REGION';

/** With XDR_CLIENT_ID set: the sync's XDR API client gets a token, and the intel host answers (RELAY.md §10). */
async function xdrChecks(config: Config, env: Env, dispatcher: Dispatcher): Promise<Check[]> {
  let access: XdrAccess;
  try {
    access = xdrAccess(env, true);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [{ status: 'FAIL', name: 'XDR API client', detail: error.message, fix: 'fix that variable (docs/alerts.md); the sync would not start' }];
  }
  const now = Date.now();
  const client = new XdrClient({
    access, dispatcher, userAgent: userAgent(), timeoutMs: config.spycloudTimeoutMs,
    retryBaseMs: 0, deadline: now + config.spycloudTimeoutMs * 2, budgetMs: config.spycloudTimeoutMs * 2, now: Date.now, random: Math.random,
  });
  const tokenCheck = 'XDR API client';
  try {
    await client.accessToken();
  } catch (error) {
    const problem = toRelayError(error);
    const fix = problem.code === 'authorization error'
      ? 'copy the client id and password again from XDR (Administration → API Clients), for the region of XDR_REGION'
      : `${REACH_FIX}, and XDR_REGION or XDR_TOKEN_URL`;
    return [{ status: 'FAIL', name: tokenCheck, detail: problem.message, fix }];
  }
  const checks: Check[] = [{ status: 'ok', name: tokenCheck, detail: `XDR gave a token at ${access.tokenUrl} ${via(config, access.tokenUrl)}` }];
  const intel = 'XDR private intelligence';
  try {
    const status = await client.intelStatus();
    const answered = `${access.intelUrl} answered HTTP ${status} ${via(config, access.intelUrl)}`;
    if (status >= 200 && status < 300) checks.push({ status: 'ok', name: intel, detail: answered });
    // A token without the Private Intelligence scope gets its token, then 401 or 403 here: the sync's imports would fail alike.
    else if (status === 401 || status === 403) {
      checks.push({ status: 'FAIL', name: intel, detail: `${answered}: XDR refused the API client's token`, fix: XDR_SCOPE_FIX });
    } else checks.push({ status: 'FAIL', name: intel, detail: answered, fix: `check XDR_REGION or XDR_INTEL_URL: it must be CTIA's base URL (${REACH_FIX})` });
  } catch (error) {
    checks.push({ status: 'FAIL', name: intel, detail: toRelayError(error).message, fix: `${REACH_FIX}, and XDR_REGION or XDR_INTEL_URL` });
  }
  return checks;
}

export async function doctor(args: string[], env: Env): Promise<CliResult> {
  const { values } = parseArgs({
    args,
    options: { key: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) return { code: EXIT.ok, stdout: DOCTOR_HELP, stderr: '' };
  const key = (values.key ?? env.SPYCLOUD_API_KEY ?? '').trim();

  const { config, check } = configuration(env);
  const checks: Check[] = [check];
  if (config !== undefined) {
    const dispatcher = egressDispatcher(config);
    const xdrHosted = config.secretKey === undefined;
    const jwks = new JwksCache({ urlTemplate: config.jwksUrlTemplate, dispatcher, timeoutMs: config.spycloudTimeoutMs, now: Date.now });
    try {
      // Independent checks run at once: the slowest one, not their sum, bounds the wait.
      checks.push(...(xdrHosted ? [publicUrl(config)] : []), ...await Promise.all([
        ...(xdrHosted ? config.jwksAllowedHosts.map((host) => jwksHost(config, jwks, host)) : []),
        spycloudReachable(config, dispatcher),
        key === ''
          ? { status: 'skip' as const, name: 'SpyCloud API key', detail: 'not checked; pass --key or set SPYCLOUD_API_KEY to check one' }
          : keyAccepted(config, dispatcher, key),
      ]));
      if ((env.XDR_CLIENT_ID ?? '').trim() !== '') checks.push(...await xdrChecks(config, env, dispatcher));
    } finally {
      await dispatcher.close();
    }
  }
  const failures = checks.filter((c) => c.status === 'FAIL').length;
  const verdict = failures === 0
    ? 'No check failed.'
    : `${failures} check${failures === 1 ? '' : 's'} failed${config === undefined ? '; the others need a valid configuration' : ''}.`;
  const code = config === undefined ? EXIT.usage : failures === 0 ? EXIT.ok : EXIT.notFound;
  return { code, stdout: `${[...checks.map(line), verdict].join('\n')}\n`, stderr: '' };
}
