// A complete XDR-hosted set-up for a test: JWKS host, SpyCloud stand-in, relay.
import type { RelayOptions } from '../../src/relay.js';
import { startRelay, type TestRelay } from './relay.js';
import { startExampleSpyCloud } from './spycloud.js';
import { json, startStandIn, type StandIn } from './stand-in.js';
import { xdrSigner, type XdrSigner } from './tokens.js';

export const API_KEY = 'sc-test-key-5b0e7d1c';

export interface XdrWorld {
  relay: TestRelay;
  spycloud: StandIn;
  jwksHost: StandIn;
  signer: XdrSigner;
  /** A valid token for this relay, with claims overridden or removed (undefined). */
  token: (claims?: Record<string, unknown>) => Promise<string>;
  auth: (claims?: Record<string, unknown>) => Promise<{ authorization: string }>;
  close: () => Promise<void>;
}

export async function startXdrWorld(env: Record<string, string> = {}, options: RelayOptions = {}): Promise<XdrWorld> {
  const signer = await xdrSigner();
  const jwksHost = await startStandIn({ '/.well-known/jwks': json(signer.jwks) });
  const spycloud = await startExampleSpyCloud();
  const relay = await startRelay({
    SPYCLOUD_API_URL: spycloud.url,
    JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks',
    JWKS_ALLOWED_HOSTS: jwksHost.host,
    ...env,
  }, options);
  const token = (claims: Record<string, unknown> = {}) => {
    const all: Record<string, unknown> = { key: API_KEY, jwks_host: jwksHost.host, aud: relay.url, ...claims };
    for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
    return signer.sign(all);
  };
  return {
    relay,
    spycloud,
    jwksHost,
    signer,
    token,
    auth: async (claims) => ({ authorization: `Bearer ${await token(claims)}` }),
    close: async () => {
      await relay.close();
      await Promise.all([spycloud.close(), jwksHost.close()]);
    },
  };
}
