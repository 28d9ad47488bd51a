// Corporate egress (RELAY.md §7): with HTTP_PROXY/HTTPS_PROXY set, every upstream
// call (SpyCloud records, catalogs, health, JWKS) goes through the proxy: http://
// upstreams in absolute form, https:// ones through a CONNECT tunnel; NO_PROXY
// hosts are reached directly. The proxy is a real one on loopback.
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { startProxy, VIA, type TestProxy } from './support/proxy.js';
import { startRelay, type TestRelay } from './support/relay.js';
import { EXAMPLE_EMAIL, startExampleSpyCloud } from './support/spycloud.js';
import { json, startStandIn, type StandIn } from './support/stand-in.js';
import { selfSignedCertificate } from './support/tls.js';
import { hs256, xdrSigner, type XdrSigner } from './support/tokens.js';
import { API_KEY } from './support/xdr.js';

const SECRET = 'proxy-test-secret-0123456789-abcdef';
const ONE_EMAIL = [{ type: 'email', value: EXAMPLE_EMAIL }];

let proxy: TestProxy;
beforeAll(async () => {
  proxy = await startProxy();
});
afterAll(() => proxy.close());
afterEach(() => {
  proxy.forwarded.length = 0;
});

describe('HTTP_PROXY, XDR-hosted mode', () => {
  let signer: XdrSigner;
  let jwksHost: StandIn;
  let spycloud: StandIn;
  beforeAll(async () => {
    signer = await xdrSigner();
    jwksHost = await startStandIn({ '/.well-known/jwks': json(signer.jwks) });
    spycloud = await startExampleSpyCloud();
  });
  afterAll(() => Promise.all([jwksHost.close(), spycloud.close()]));

  /** A relay of its own per test, so that its JWKS and catalog caches start cold. */
  const relayWith = (egress: Record<string, string>) => startRelay({
    SPYCLOUD_API_URL: spycloud.url,
    JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks',
    JWKS_ALLOWED_HOSTS: jwksHost.host,
    ...egress,
  });
  const authFor = async (relay: TestRelay) =>
    ({ authorization: `Bearer ${await signer.sign({ key: API_KEY, jwks_host: jwksHost.host, aud: relay.url })}` });

  it('sends every upstream call through the proxy: JWKS, records, catalogs, health', async () => {
    jwksHost.seen.length = 0;
    spycloud.seen.length = 0;
    const relay = await relayWith({ HTTP_PROXY: proxy.url });
    try {
      const auth = await authFor(relay);
      expect((await relay.post('/observe/observables', fixture('request-observe.json'), auth)).body.data.sightings.count).toBe(4);
      expect((await relay.post('/health', undefined, auth)).body).toEqual({ data: { status: 'ok' } });
      expect(proxy.forwarded).toEqual([
        `GET http://${jwksHost.host}/.well-known/jwks`,
        `GET http://${spycloud.host}/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`,
        `GET http://${spycloud.host}/breach/catalog/31337,4242,777`,
        `GET http://${spycloud.host}/watchlist/example.org`,
      ]);
      // And nothing reached an upstream any other way.
      expect(jwksHost.seen).toHaveLength(1);
      expect(spycloud.seen).toHaveLength(3);
      for (const seen of [...jwksHost.seen, ...spycloud.seen]) expect(seen.headers[VIA]).toBe('yes');
    } finally {
      await relay.close();
    }
  });

  it('reaches NO_PROXY hosts directly and everything else through the proxy', async () => {
    jwksHost.seen.length = 0;
    spycloud.seen.length = 0;
    const relay = await relayWith({ HTTP_PROXY: proxy.url, NO_PROXY: `example.invalid, ${jwksHost.host}` });
    try {
      expect((await relay.post('/observe/observables', ONE_EMAIL, await authFor(relay))).body.data.sightings.count).toBe(4);
      expect(jwksHost.seen).toHaveLength(1);
      expect(jwksHost.seen[0]?.headers[VIA]).toBeUndefined();
      expect(proxy.forwarded.some((line) => line.includes(jwksHost.host))).toBe(false);
      expect(spycloud.seen.length).toBeGreaterThan(0);
      for (const seen of spycloud.seen) expect(seen.headers[VIA]).toBe('yes');
    } finally {
      await relay.close();
    }
  });
});

describe('https:// upstreams go through a CONNECT tunnel', () => {
  let spycloud: { url: string; host: string; close: () => Promise<void> };
  beforeAll(async () => {
    // SpyCloud over TLS with a certificate the relay does not trust: reaching the
    // certificate check proves the TLS handshake ran end to end through the tunnel.
    const certificate = selfSignedCertificate();
    const server = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ cursor: '', hits: 0, results: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    spycloud = {
      url: `https://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    };
  });
  afterAll(() => spycloud.close());

  const lookUp = async (egress: Record<string, string>) => {
    const relay = await startRelay({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET, SPYCLOUD_RETRY_BASE_MS: '0', ...egress });
    try {
      return (await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` })).body;
    } finally {
      await relay.close();
    }
  };
  const UNTRUSTED = { errors: [{ type: 'fatal', code: 'unknown', message: expect.stringMatching(/^Unable to verify SSL certificate: .*self[- ]signed/) }] };

  it('HTTPS_PROXY: the relay asks the proxy to CONNECT to SpyCloud and does TLS with SpyCloud itself', async () => {
    expect(await lookUp({ HTTPS_PROXY: proxy.url })).toEqual(UNTRUSTED);
    expect(proxy.forwarded).toEqual([`CONNECT ${spycloud.host}`]);
  });

  it('HTTP_PROXY alone also carries https:// calls (HTTPS_PROXY unset), as undici does', async () => {
    expect(await lookUp({ HTTP_PROXY: proxy.url })).toEqual(UNTRUSTED);
    expect(proxy.forwarded).toEqual([`CONNECT ${spycloud.host}`]);
  });

  it('NO_PROXY=* turns the proxy off', async () => {
    expect(await lookUp({ HTTPS_PROXY: proxy.url, NO_PROXY: '*' })).toEqual(UNTRUSTED);
    expect(proxy.forwarded).toEqual([]);
  });
});

describe('the Config is the only source of egress settings', () => {
  it('ignores proxy variables in process.env that the relay was not configured with', async () => {
    const spycloud: StandIn = await startExampleSpyCloud();
    const names = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy'] as const;
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    try {
      for (const name of names) delete process.env[name];
      process.env.HTTP_PROXY = proxy.url;
      process.env.HTTPS_PROXY = proxy.url;
      const relay = await startRelay({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET });
      try {
        const { body } = await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` });
        expect(body.data.sightings.count).toBe(4);
        expect(proxy.forwarded).toEqual([]);
        for (const seen of spycloud.seen) expect(seen.headers[VIA]).toBeUndefined();
      } finally {
        await relay.close();
      }
    } finally {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await spycloud.close();
    }
  });
});
