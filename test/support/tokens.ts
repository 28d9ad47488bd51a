// Real JWTs for tests: an RS256 key pair published as a JWKS (XDR-hosted mode)
// and HS256 tokens (self-hosted mode).
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

export interface XdrSigner {
  kid: string;
  jwks: { keys: object[] };
  sign: (claims: JWTPayload, header?: { kid?: string; alg?: string }) => Promise<string>;
}

export async function xdrSigner(kid = 'test-key-1'): Promise<XdrSigner> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    jwks: { keys: [jwk] },
    sign: (claims, header = {}) => {
      const protectedHeader: Record<string, string> = { alg: 'RS256', typ: 'JWT' };
      const chosenKid = 'kid' in header ? header.kid : kid;
      if (chosenKid !== undefined) protectedHeader.kid = chosenKid;
      return new SignJWT(claims).setProtectedHeader(protectedHeader as { alg: string }).sign(privateKey);
    },
  };
}

export const hs256 = (claims: JWTPayload, secret: string): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));

/** An unsigned token (`alg: none`), hand-built since no honest library makes one. */
export const unsigned = (claims: JWTPayload): string => {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
};
