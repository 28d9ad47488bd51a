// The sync's configuration (RELAY.md §10): its own variables, read once at start,
// plus the relay's SpyCloud settings (timeouts, retries, proxy) from src/config.ts.
import { ConfigError, httpUrl, integer, loadConfig, text, type Config, type Env } from '../config.js';
import { passwordDisplayOf, PASSWORD_DISPLAYS, type PasswordDisplay } from '../password-display.js';

const XDR_REGIONS = {
  us: { token: 'https://visibility.amp.cisco.com/iroh/oauth2/token', intel: 'https://private.intel.amp.cisco.com' },
  eu: { token: 'https://visibility.eu.amp.cisco.com/iroh/oauth2/token', intel: 'https://private.intel.eu.amp.cisco.com' },
  apjc: { token: 'https://visibility.apjc.amp.cisco.com/iroh/oauth2/token', intel: 'https://private.intel.apjc.amp.cisco.com' },
} as const;
type XdrRegion = keyof typeof XDR_REGIONS;

export interface XdrAccess {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  /** CTIA's base: the bundle import is `${intelUrl}/ctia/bundle/import`. */
  intelUrl: string;
}

export interface SyncConfig {
  /** The relay's settings: SpyCloud URL, timeouts, retries, proxy, log level. */
  relay: Config;
  spycloudApiKey: string;
  /** Undefined only when the caller allowed it (a dry run without XDR credentials). */
  xdr: XdrAccess | undefined;
  lookbackDays: number;
  minSeverity: number;
  passwordDisplay: PasswordDisplay;
  budgetMs: number;
}

function region(env: Env): XdrRegion {
  const raw = (text(env, 'XDR_REGION') ?? 'us').toLowerCase();
  if (!Object.hasOwn(XDR_REGIONS, raw)) throw new ConfigError('XDR_REGION', `must be one of ${Object.keys(XDR_REGIONS).join(', ')}, got "${raw}"`);
  return raw as XdrRegion;
}

/** XDR's hosts and the API client of `env`; undefined without credentials when not `required`. */
export function xdrAccess(env: Env, required: true): XdrAccess;
export function xdrAccess(env: Env, required: boolean): XdrAccess | undefined;
export function xdrAccess(env: Env, required: boolean): XdrAccess | undefined {
  const hosts = XDR_REGIONS[region(env)];
  const tokenUrl = httpUrl(env, 'XDR_TOKEN_URL', hosts.token) as string;
  const intelUrl = httpUrl(env, 'XDR_INTEL_URL', hosts.intel) as string;
  const clientId = text(env, 'XDR_CLIENT_ID');
  const clientSecret = text(env, 'XDR_CLIENT_SECRET');
  if (clientId === undefined && clientSecret === undefined && !required) return undefined;
  // Never echo a secret's value: only say what is missing.
  if (clientId === undefined) throw new ConfigError('XDR_CLIENT_ID', 'must be set to the client id of an XDR API client (Administration → API Clients)');
  if (clientSecret === undefined) throw new ConfigError('XDR_CLIENT_SECRET', 'must be set to the client password of the XDR API client XDR_CLIENT_ID names');
  return { clientId, clientSecret, tokenUrl, intelUrl };
}

function syncPasswordDisplay(env: Env): PasswordDisplay {
  const raw = text(env, 'SYNC_PASSWORD_DISPLAY');
  if (raw === undefined) return 'hidden';
  const mode = passwordDisplayOf(raw);
  if (mode === undefined) throw new ConfigError('SYNC_PASSWORD_DISPLAY', `must be one of ${PASSWORD_DISPLAYS.join(', ')}, got "${raw}"`);
  return mode;
}

/** `xdrRequired: false` lets a dry run go without XDR credentials (it calls nothing in XDR). */
export function loadSyncConfig(env: Env = process.env, { xdrRequired = true } = {}): SyncConfig {
  const relay = loadConfig(env);
  const spycloudApiKey = text(env, 'SPYCLOUD_API_KEY');
  if (spycloudApiKey === undefined) throw new ConfigError('SPYCLOUD_API_KEY', 'must be set to the SpyCloud Employee ATO Prevention API key whose watchlist is synced');
  return {
    relay,
    spycloudApiKey,
    xdr: xdrAccess(env, xdrRequired),
    lookbackDays: integer(env, 'SYNC_LOOKBACK_DAYS', 2, 0, 3650),
    minSeverity: integer(env, 'SYNC_MIN_SEVERITY', 20, 0),
    passwordDisplay: syncPasswordDisplay(env),
    budgetMs: integer(env, 'SYNC_BUDGET_S', 600, 1, 86_400) * 1000,
  };
}
