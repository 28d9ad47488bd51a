// What stops the relay at start, besides a bad variable (RELAY.md §7): TLS files
// OpenSSL refuses, a HOST that does not resolve or is not this machine's, a port
// taken. Each is a ConfigError naming the variable (and the file), not OpenSSL's
// or getaddrinfo's text alone; a failed start leaves no port open behind it.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { selfSignedCertificate, type SelfSigned } from './support/tls.js';

const SECRET = 'start-up-test-secret-0123456789-abcdef';

async function listening(port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;
const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** The start's error message, after checking it is a ConfigError. */
async function refusal(env: Record<string, string>): Promise<string> {
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1', SECRET_KEY: SECRET, ...env });
  const error = await startServer(config, { logger: createLogger('silent') }).then(
    async (running) => {
      await running.close();
      throw new Error('the relay started');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as Error).message;
}

describe('TLS files OpenSSL refuses', () => {
  let own: SelfSigned;
  let other: SelfSigned;
  let dir: string;
  beforeAll(() => {
    own = selfSignedCertificate();
    other = selfSignedCertificate();
    dir = mkdtempSync(join(tmpdir(), 'relay-bad-tls-'));
    writeFileSync(join(dir, 'garbage.pem'), 'this is not PEM\n');
    copyFileSync(own.certFile, join(dir, 'cert-copy.pem'));
  });

  it('a certificate file without a certificate (the key given twice): names TLS_CERT_FILE and the file', async () => {
    const message = await refusal({ TLS_CERT_FILE: own.keyFile, TLS_KEY_FILE: own.keyFile });
    expect(message).toBe(`Invalid configuration: TLS_CERT_FILE holds no PEM certificate (error:0480006C:PEM routines::no start line): ${own.keyFile}`);
  });

  it('a key file without a key (the certificate given twice): names TLS_KEY_FILE and the file', async () => {
    const message = await refusal({ TLS_CERT_FILE: own.certFile, TLS_KEY_FILE: join(dir, 'cert-copy.pem') });
    expect(message).toMatch(/^Invalid configuration: TLS_KEY_FILE holds no PEM private key, or one locked with a passphrase \(.+\): /);
    expect(message.endsWith(join(dir, 'cert-copy.pem'))).toBe(true);
  });

  it('a file of something else: names the variable', async () => {
    expect(await refusal({ TLS_CERT_FILE: join(dir, 'garbage.pem'), TLS_KEY_FILE: own.keyFile }))
      .toMatch(/^Invalid configuration: TLS_CERT_FILE holds no PEM certificate \(.*no start line\): .*garbage\.pem$/);
    expect(await refusal({ TLS_CERT_FILE: own.certFile, TLS_KEY_FILE: join(dir, 'garbage.pem') }))
      .toMatch(/^Invalid configuration: TLS_KEY_FILE holds no PEM private key/);
  });

  it('the key of another certificate: key values mismatch, naming TLS_KEY_FILE', async () => {
    expect(await refusal({ TLS_CERT_FILE: own.certFile, TLS_KEY_FILE: other.keyFile }))
      .toBe(`Invalid configuration: TLS_KEY_FILE is not the key of the certificate in TLS_CERT_FILE (key values mismatch): ${other.keyFile}`);
  });
});

describe('HOST and ports that cannot be listened on', () => {
  let taken: Server;
  beforeAll(async () => {
    taken = await listening();
  });
  afterAll(() => closed(taken));

  // The system resolver says ENOTFOUND when it can ask DNS, EAI_AGAIN offline (as CI may be).
  it('a HOST that does not resolve (ENOTFOUND, or EAI_AGAIN without DNS)', async () => {
    expect(await refusal({ HOST: 'no-such-host.invalid' }))
      .toMatch(/^Invalid configuration: HOST "no-such-host\.invalid" does not resolve \((ENOTFOUND|EAI_AGAIN)\): use an address of this machine, such as 0\.0\.0\.0 or 127\.0\.0\.1$/);
  });

  it('a HOST that is not an address of this machine (EADDRNOTAVAIL)', async () => {
    expect(await refusal({ HOST: '192.0.2.1' }))
      .toBe('Invalid configuration: HOST 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL): use 0.0.0.0 (every interface) or one of its own addresses');
  });

  it('a PORT in use (EADDRINUSE)', async () => {
    const port = portOf(taken);
    expect(await refusal({ PORT: String(port) }))
      .toBe(`Invalid configuration: PORT ${port} is already in use on HOST 127.0.0.1 (EADDRINUSE): stop the process that listens there, or choose another PORT`);
  });

  it('a METRICS_PORT in use: names METRICS_PORT, and the relay\'s port is let go again', async () => {
    const free = await listening();
    const relayPort = portOf(free);
    await closed(free);
    const port = portOf(taken);
    expect(await refusal({ PORT: String(relayPort), METRICS_PORT: String(port) }))
      .toBe(`Invalid configuration: METRICS_PORT ${port} is already in use on HOST 127.0.0.1 (EADDRINUSE): stop the process that listens there, or choose another METRICS_PORT`);
    await closed(await listening(relayPort));
  });

  it('a METRICS_PORT in use does not matter with METRICS_ENABLED=false', async () => {
    const config = loadConfig({ PORT: '0', METRICS_PORT: String(portOf(taken)), METRICS_ENABLED: 'false', HOST: '127.0.0.1', SECRET_KEY: SECRET });
    const running = await startServer(config, { logger: createLogger('silent') });
    expect(running.metricsUrl).toBeUndefined();
    await running.close();
  });
});
