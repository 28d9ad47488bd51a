// Environment → typed Config, read once at start (RELAY.md §7). A bad value
// stops the process with a message that names the variable.
import { MAX_ENTITIES_LIMIT } from './auth/tenant.js';
import { DEFAULT_PASSWORD_DISPLAY, PASSWORD_DISPLAYS, passwordDisplayOf, type PasswordDisplay } from './password-display.js';
import { redactLogin, redactUrlCredentials } from './redact.js';

export const DEFAULT_JWKS_HOSTS = [
  'visibility.amp.cisco.com',
  'visibility.eu.amp.cisco.com',
  'visibility.apjc.amp.cisco.com',
] as const;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Config {
  port: number;
  host: string;
  spycloudApiUrl: string;
  jwksUrlTemplate: string;
  jwksAllowedHosts: readonly string[];
  /** Expected token audience when set; otherwise derived from each request. */
  relayPublicUrl: string | undefined;
  trustProxy: boolean;
  /** Set ⇒ self-hosted HS256 mode. */
  secretKey: string | undefined;
  entitiesLimit: number;
  /** How breach record passwords are shown unless a token says otherwise. */
  passwordDisplay: PasswordDisplay;
  spycloudTimeoutMs: number;
  spycloudRetryBaseMs: number;
  spycloudMaxPages: number;
  spycloudMaxConcurrency: number;
  requestBudgetMs: number;
  catalogCacheTtlS: number;
  /** Sightings in one /observe/observables answer at most (RELAY.md §5). */
  maxSightingsPerAnswer: number;
  /** SpyCloud answer bytes the whole process holds at once, over every request. */
  spycloudMaxBufferedBytes: number;
  /** Open upstream connections per origin (SpyCloud, each JWKS host), relay-wide. */
  spycloudMaxConnections: number;
  /** Lifetime of a tenant's tile aggregates per period (0: never cached, concurrent reads still shared). */
  tilesCacheTtlS: number;
  /** Watchlist pages read for one period's tiles. */
  tilesMaxPages: number;
  /** Serve GET /metrics (server mode). */
  metricsEnabled: boolean;
  /** The port that serves GET /metrics, on HOST; the relay's own port never does. */
  metricsPort: number;
  logLevel: LogLevel;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** Egress proxy for http:// upstreams (and https:// ones when httpsProxy is unset). */
  httpProxy: string | undefined;
  /** Egress proxy for https:// upstreams (SpyCloud, JWKS hosts). */
  httpsProxy: string | undefined;
  /** Hosts (`host[:port]`, `.domain`, `*`) reached directly, comma- or space-separated. */
  noProxy: string | undefined;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    // A value echoed back may be a URL with a login in it.
    super(redactUrlCredentials(`Invalid configuration: ${variable} ${problem}`));
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

export function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
    throw new ConfigError(name, `must be a whole number ${range}, got "${raw}"`);
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

export function httpUrl(env: Env, name: string, fallback: string | undefined): string | undefined {
  const raw = text(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw.replace('{host}', 'host.invalid'));
  } catch {
    throw new ConfigError(name, `must be an http(s) URL, got "${redactLogin(raw)}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, `must be an http(s) URL, got "${redactLogin(raw)}"`);
  }
  return raw.replace(/\/+$/, '');
}

/**
 * The lower-case spelling wins, as in curl and undici; errors name the variable
 * that was read but never echo its value, which may hold proxy credentials.
 */
function proxyUrl(env: Env, name: string): string | undefined {
  const used = text(env, name.toLowerCase()) === undefined ? name : name.toLowerCase();
  const raw = text(env, used);
  if (raw === undefined) return undefined;
  if (!URL.canParse(raw) || !['http:', 'https:'].includes(new URL(raw).protocol)) {
    throw new ConfigError(used, 'must be an http(s) URL such as http://proxy.example.com:3128');
  }
  return raw;
}

/** A bare `host[:port]`: a name or IPv4 address, or an IPv6 one in brackets. */
const HOST_PORT = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/** Exact `host[:port]` entries, compared with the token's `jwks_host` as they are, so anything else would never match. */
function jwksAllowedHosts(env: Env): readonly string[] {
  const raw = text(env, 'JWKS_ALLOWED_HOSTS');
  if (raw === undefined) return DEFAULT_JWKS_HOSTS;
  return raw.split(',').map((entry) => {
    const host = entry.trim().toLowerCase();
    if (host === '') throw new ConfigError('JWKS_ALLOWED_HOSTS', `has an empty entry in "${raw}": separate hosts with single commas`);
    if (!HOST_PORT.test(host) || Number(/:(\d+)$/.exec(host)?.[1] ?? 0) > 65535) {
      throw new ConfigError('JWKS_ALLOWED_HOSTS', `entry "${redactLogin(entry.trim())}" is not a bare host[:port] (no scheme, path or spaces), e.g. visibility.amp.cisco.com`);
    }
    return host;
  });
}

/** The metrics port: a port of its own (0 picks a free one), so a scrape never shares the relay's. */
function metricsPort(env: Env, port: number, enabled: boolean): number {
  const metrics = integer(env, 'METRICS_PORT', 9464, 0, 65535);
  if (enabled && metrics !== 0 && metrics === port) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (both ${port}): /metrics is served on a port of its own`);
  }
  return metrics;
}

function passwordDisplay(env: Env): PasswordDisplay {
  const raw = text(env, 'PASSWORD_DISPLAY');
  if (raw === undefined) return DEFAULT_PASSWORD_DISPLAY;
  const mode = passwordDisplayOf(raw);
  if (mode === undefined) throw new ConfigError('PASSWORD_DISPLAY', `must be one of ${PASSWORD_DISPLAYS.join(', ')}, got "${raw}"`);
  return mode;
}

export function loadConfig(env: Env = process.env): Config {
  const secretKey = env.SECRET_KEY;
  if (secretKey !== undefined && secretKey !== '' && secretKey.length < 32) {
    throw new ConfigError('SECRET_KEY', 'must be at least 32 characters long');
  }
  const jwksUrlTemplate = httpUrl(env, 'JWKS_URL_TEMPLATE', 'https://{host}/.well-known/jwks') as string;
  if (!jwksUrlTemplate.includes('{host}')) throw new ConfigError('JWKS_URL_TEMPLATE', 'must contain {host}');
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const tlsCertFile = text(env, 'TLS_CERT_FILE');
  const tlsKeyFile = text(env, 'TLS_KEY_FILE');
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    throw new ConfigError(tlsCertFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE', 'must be set together with its pair');
  }
  const port = integer(env, 'PORT', 9090, 0, 65535);
  const metricsEnabled = boolean(env, 'METRICS_ENABLED', true);
  return {
    port,
    host: text(env, 'HOST') ?? '0.0.0.0',
    spycloudApiUrl: httpUrl(env, 'SPYCLOUD_API_URL', 'https://api.spycloud.io/enterprise-v2') as string,
    jwksUrlTemplate,
    jwksAllowedHosts: jwksAllowedHosts(env),
    relayPublicUrl: httpUrl(env, 'RELAY_PUBLIC_URL', undefined),
    trustProxy: boolean(env, 'TRUST_PROXY', false),
    secretKey: secretKey === '' ? undefined : secretKey,
    // A larger default is clamped, as a token's claim is (RELAY.md §3).
    entitiesLimit: Math.min(integer(env, 'CTR_ENTITIES_LIMIT', 100, 1), MAX_ENTITIES_LIMIT),
    passwordDisplay: passwordDisplay(env),
    spycloudTimeoutMs: integer(env, 'SPYCLOUD_TIMEOUT_MS', 10_000, 1),
    spycloudRetryBaseMs: integer(env, 'SPYCLOUD_RETRY_BASE_MS', 3_000, 0),
    spycloudMaxPages: integer(env, 'SPYCLOUD_MAX_PAGES', 10, 1),
    spycloudMaxConcurrency: integer(env, 'SPYCLOUD_MAX_CONCURRENCY', 32, 1),
    requestBudgetMs: integer(env, 'REQUEST_BUDGET_MS', 25_000, 1),
    catalogCacheTtlS: integer(env, 'CATALOG_CACHE_TTL_S', 3_600, 0),
    maxSightingsPerAnswer: integer(env, 'MAX_SIGHTINGS_PER_ANSWER', 5_000, 1),
    spycloudMaxBufferedBytes: integer(env, 'SPYCLOUD_MAX_BUFFERED_MB', 256, 1, 1 << 20) * (1 << 20),
    spycloudMaxConnections: integer(env, 'SPYCLOUD_MAX_CONNECTIONS', 256, 1),
    tilesCacheTtlS: integer(env, 'TILES_CACHE_TTL_S', 300, 0),
    tilesMaxPages: integer(env, 'TILES_MAX_PAGES', 20, 1),
    metricsEnabled,
    metricsPort: metricsPort(env, port, metricsEnabled),
    logLevel: logLevel as LogLevel,
    tlsCertFile,
    tlsKeyFile,
    httpProxy: proxyUrl(env, 'HTTP_PROXY'),
    httpsProxy: proxyUrl(env, 'HTTPS_PROXY'),
    noProxy: text(env, 'no_proxy') ?? text(env, 'NO_PROXY'),
  };
}
