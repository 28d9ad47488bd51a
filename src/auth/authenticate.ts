// Authorization header → TenantContext, in RELAY.md §3's precedence order.
// XDR-hosted mode (RS256 + JWKS) by default; self-hosted (HS256) when SECRET_KEY is set.
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { Config } from '../config.js';
import { authError } from '../errors.js';
import { bearerToken } from './bearer.js';
import type { JwksCache } from './jwks.js';
import { tenantFromClaims, type TenantContext } from './tenant.js';

/** `urlRoot` is asked for only when the audience is checked. */
export type Authenticate = (authorization: string | undefined, urlRoot: () => string) => Promise<TenantContext>;

const MSG = {
  structure: 'Wrong JWT structure',
  jwksHostMissing: 'jwks_host is missing in JWT payload. Make sure custom_jwks_host field is present in module_type',
  jwksHostWrong: 'Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure',
  kid: 'kid from JWT header not found in API response',
  signature: 'Failed to decode JWT with provided key',
  signatureRegionHint: ' Make sure domain in custom_jwks_host corresponds to your SecureX instance region.',
  audience: 'Wrong configuration-token-audience',
} as const;

/** One spelling per URL root: lower-case host, no default port, no trailing slash. */
function sameUrlForm(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}

function decode(token: string): { header: ProtectedHeaderParameters; claims: JWTPayload } {
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    throw authError(MSG.structure);
  }
}

async function verifySignature(token: string, key: Parameters<typeof compactVerify>[1], alg: string, message: string) {
  try {
    await compactVerify(token, key, { algorithms: [alg] });
  } catch {
    throw authError(message);
  }
}

/** Tokens whose RS256 signature a key already verified (LRU): XDR sends the same token on every call. */
class VerifiedTokens {
  private readonly seen = new Map<string, object>();

  constructor(private readonly capacity: number) {}

  /** True only for this exact token verified with this very key object: a JWKS refetch makes new keys. */
  has(token: string, key: object): boolean {
    const verifiedWith = this.seen.get(token);
    if (verifiedWith !== key) return false;
    this.seen.delete(token);
    this.seen.set(token, key);
    return true;
  }

  add(token: string, key: object): void {
    this.seen.set(token, key);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value as string);
  }
}

export function xdrAuthenticator(config: Config, jwks: JwksCache, now: () => number): Authenticate {
  const allowed = new Set(config.jwksAllowedHosts);
  const verified = new VerifiedTokens(1000);
  return async (authorization, urlRoot) => {
    const token = bearerToken(authorization);
    const { header, claims } = decode(token);
    const host = claims.jwks_host;
    if (typeof host !== 'string' || host === '') throw authError(MSG.jwksHostMissing);
    if (!allowed.has(host.toLowerCase())) throw authError(MSG.jwksHostWrong);
    let key;
    try {
      key = await jwks.key(host.toLowerCase(), header.kid);
    } catch {
      throw authError(MSG.jwksHostWrong);
    }
    if (key === undefined) throw authError(MSG.kid);
    if (!verified.has(token, key)) {
      await verifySignature(token, key, 'RS256', MSG.signature + '.' + MSG.signatureRegionHint);
      verified.add(token, key);
    }
    const audience = claims.aud;
    const root = sameUrlForm(urlRoot());
    const audiences = typeof audience === 'string' ? [audience] : Array.isArray(audience) ? audience : [];
    if (!audiences.some((aud) => typeof aud === 'string' && sameUrlForm(aud) === root)) {
      throw authError(MSG.audience);
    }
    return tenantFromClaims(claims, config.entitiesLimit, now(), config.passwordDisplay);
  };
}

export function selfHostedAuthenticator(config: Config, secretKey: string, now: () => number): Authenticate {
  const secret = new TextEncoder().encode(secretKey);
  return async (authorization) => {
    const token = bearerToken(authorization);
    const { claims } = decode(token);
    await verifySignature(token, secret, 'HS256', MSG.signature);
    return tenantFromClaims(claims, config.entitiesLimit, now(), config.passwordDisplay);
  };
}
