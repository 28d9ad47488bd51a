// Built-in TLS (TLS_CERT_FILE/TLS_KEY_FILE): the relay serves HTTPS with a freshly
// generated self-signed certificate, which the client trusts explicitly (no
// verification switched off), and the token audience is the https:// URL root.
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { rawPost } from './support/raw-http.js';
import { selfSignedCertificate, type SelfSigned } from './support/tls.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

let certificate: SelfSigned;
let world: XdrWorld;
let trusting: Agent;

beforeAll(async () => {
  certificate = selfSignedCertificate();
  world = await startXdrWorld({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile });
  trusting = new Agent({ connect: { ca: certificate.cert } });
});
afterAll(async () => {
  await trusting.close();
  await world.close();
});

async function post(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(world.relay.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: trusting,
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe('built-in TLS', () => {
  it('listens on an https:// URL', () => {
    expect(world.relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers /version over HTTPS to a client that trusts the certificate', async () => {
    expect(await post('/version')).toEqual({ status: 200, body: { version: '1.0.0' } });
  });

  it('really is TLS with that certificate: a client that does not trust it is refused', async () => {
    const untrusting = new Agent();
    try {
      const error = await fetch(`${world.relay.url}/version`, { method: 'POST', dispatcher: untrusting }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect(String((error as Error & { cause?: { code?: string } }).cause?.code)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
    } finally {
      await untrusting.close();
    }
  });

  it('does not also speak plain HTTP on the port', async () => {
    const plain = await fetch(world.relay.url.replace('https:', 'http:') + '/version', { method: 'POST' }).then(
      (response) => response.status,
      (error: Error) => error,
    );
    expect(plain).toBeInstanceOf(Error);
  });

  it('enriches over HTTPS with a token whose audience is https://127.0.0.1:<port>', async () => {
    const { status, body } = await post('/observe/observables', fixture('request-observe.json'), await world.auth({ aud: world.relay.url }));
    expect(status).toBe(200);
    expect(body.data.sightings.count).toBe(4);
    expect(body.data.indicators.count).toBe(2);
  });

  it('refuses the same token minted for the http:// URL: the scheme is part of the audience', async () => {
    const { body } = await post('/health', undefined, await world.auth({ aud: world.relay.url.replace('https:', 'http:') }));
    expect(body).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Wrong configuration-token-audience' }] });
  });

  it('an http:// request-target in absolute form does not make the audience http:// on a TLS connection', async () => {
    const { host } = new URL(world.relay.url);
    const health = async (aud: string) => JSON.parse((await rawPost(world.relay.url, `http://${host}/health`, {
      Host: host, Authorization: (await world.auth({ aud })).authorization,
    }, certificate.cert)).body);
    expect(await health(`https://${host}`)).toEqual({ data: { status: 'ok' } });
    expect((await health(`http://${host}`)).errors[0].message).toBe('Authorization failed: Wrong configuration-token-audience');
  });

  it('answers a health check over HTTPS', async () => {
    expect((await post('/health', undefined, await world.auth())).body).toEqual({ data: { status: 'ok' } });
  });
});

describe('TLS files that cannot be read', () => {
  it.each([
    ['TLS_CERT_FILE', { TLS_CERT_FILE: '/nonexistent/cert.pem' }],
    ['TLS_KEY_FILE', { TLS_KEY_FILE: '/nonexistent/key.pem' }],
  ])('stop the start with a message naming %s', async (variable, missing) => {
    const env = { PORT: '0', HOST: '127.0.0.1', TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile, ...missing };
    const start = startServer(loadConfig(env));
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(new RegExp(`^Invalid configuration: ${variable} cannot be read \\(ENOENT\\)`));
  });
});
