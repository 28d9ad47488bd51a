// Verified claims → the tenant a request acts for (RELAY.md §3, steps 8–10 and
// the entities limit). Shared by both authentication modes.
import { createHash } from 'node:crypto';
import { authError } from '../errors.js';
import { DEFAULT_PASSWORD_DISPLAY, passwordDisplayOf, type PasswordDisplay } from '../password-display.js';

export interface TenantContext {
  /** The SpyCloud API key, trimmed; never logged. */
  apiKey: string;
  /** Entities kept per observable for this request. */
  entitiesLimit: number;
  /** How this request shows breach record passwords. */
  passwordDisplay: PasswordDisplay;
  /** First 12 hex characters of SHA-256(apiKey): lets operators follow a tenant in logs. */
  tenant: string;
}

const CLOCK_LEEWAY_S = 60;
/** Entities per observable at most, whatever a token asks (RELAY.md §3): bounds one answer's work. */
export const MAX_ENTITIES_LIMIT = 1000;
// Visible ASCII only: anything else cannot travel in an HTTP header value.
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export const tenantId = (apiKey: string): string => createHash('sha256').update(apiKey).digest('hex').slice(0, 12);

/** A positive whole number, as a number or in digits; a huge one (past 2^53, or Infinity) is just large: it gets clamped. */
function positiveInteger(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && (Number.isInteger(number) || number === Number.POSITIVE_INFINITY) && number > 0 ? number : undefined;
}

/**
 * An empty claim (an optional XDR field left blank) leaves the relay's setting; a claim
 * naming no known mode asked for something unknown, so it gets the safe default.
 */
function passwordDisplayClaim(claim: unknown, fallback: PasswordDisplay): PasswordDisplay {
  if (claim === undefined || claim === null || (typeof claim === 'string' && claim.trim() === '')) return fallback;
  return passwordDisplayOf(claim) ?? DEFAULT_PASSWORD_DISPLAY;
}

export function tenantFromClaims(
  claims: Record<string, unknown>, defaultLimit: number, nowMs: number, defaultPasswordDisplay: PasswordDisplay,
): TenantContext {
  const { key } = claims;
  if (typeof key !== 'string' || key.trim() === '') throw authError('Wrong JWT payload structure');
  const apiKey = key.trim();
  if (!HEADER_SAFE.test(apiKey)) throw authError('Unauthorized');
  const { exp, nbf } = claims;
  if (exp !== undefined && (typeof exp !== 'number' || exp + CLOCK_LEEWAY_S < nowMs / 1000)) {
    throw authError('Token has expired');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf - CLOCK_LEEWAY_S > nowMs / 1000)) {
    throw authError('Token is not yet valid');
  }
  return {
    apiKey,
    entitiesLimit: Math.min(positiveInteger(claims.CTR_ENTITIES_LIMIT) ?? defaultLimit, MAX_ENTITIES_LIMIT),
    passwordDisplay: passwordDisplayClaim(claims.PASSWORD_DISPLAY, defaultPasswordDisplay),
    tenant: tenantId(apiKey),
  };
}
