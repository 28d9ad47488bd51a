// The production build, started the way the Dockerfile's CMD starts it
// (`node dist/server.js`). Graceful shutdown: SIGTERM while an enrichment waits
// on SpyCloud → no new connections, the enrichment still gets its full answer,
// then the process exits 0. Start-up: what it logs, and how it stops when it
// cannot start (exit 1, a message naming the variable).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from './support/tls.js';
import { EXAMPLE_EMAIL, startExampleSpyCloud } from './support/spycloud.js';
import { json, type StandIn } from './support/stand-in.js';
import { fixture } from './support/fixtures.js';
import { hs256 } from './support/tokens.js';
import { API_KEY } from './support/xdr.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = join(ROOT, 'dist', 'server.js');
const SECRET = 'shutdown-test-secret-0123456789-abcdef';
const RECORDS_PATH = `/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`;
const GUARD_MS = 15_000;

const newest = (dir: string): number =>
  Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
  }));

/** `npm test` runs after `npm ci`, whose prepare script builds; rebuild only when src/ is newer than dist/. */
function ensureBuilt() {
  let built = 0;
  try {
    built = statSync(ENTRY).mtimeMs;
  } catch {
    // Not built yet.
  }
  if (built < newest(join(ROOT, 'src'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    // dist/server.js is the bundle of the build's second step.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), 'server', ENTRY], { cwd: ROOT, stdio: 'inherit' });
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Rejects after the guard time, so that a hang fails the test instead of stalling the run. */
const guard = <T>(promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), GUARD_MS).unref())]);

interface RelayProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** Parsed JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Resolves when a log line with this msg has been written. */
  logged: (msg: string) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startRelayProcess(env: Record<string, string>, port: number, uid?: number): RelayProcess {
  // Only what the relay needs: no proxy variables of the test's environment. A free
  // metrics port, unless the test says otherwise: relays run side by side here.
  const child = spawn(process.execPath, [ENTRY], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiting: Array<{ msg: string; resolve: () => void }> = [];
  let pending = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim() !== '')) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      for (const wait of waiting.filter((w) => w.msg === entry.msg)) wait.resolve();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': by then every line the process wrote has been read.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    stderr: () => stderr,
    logged: (msg) => logs.some((entry) => entry.msg === msg)
      ? Promise.resolve()
      : guard(new Promise<void>((resolve) => waiting.push({ msg, resolve })), `log line "${msg}"`),
    exited: guard(exited, 'process exit'),
  };
}

async function untilListening(relay: RelayProcess) {
  await relay.logged('relay listening');
  const response = await fetch(`${relay.url}/version`, { method: 'POST' });
  expect(await response.json()).toEqual({ version: '1.0.0' });
}

/** Resolves with the connection error a brand-new TCP connection gets, or 'connected'. */
const newConnection = (port: number) => new Promise<string>((resolve) => {
  const socket = connect(port, '127.0.0.1');
  socket.once('connect', () => {
    socket.destroy();
    resolve('connected');
  });
  socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
});

let spycloud: StandIn;
let arrived: () => void;
let release: () => void;
const recordsArrived = new Promise<void>((resolve) => {
  arrived = resolve;
});
const upstreamReleased = new Promise<void>((resolve) => {
  release = resolve;
});

beforeAll(async () => {
  ensureBuilt();
  // The records call is held until the test lets it go: it is in flight when SIGTERM arrives.
  spycloud = await startExampleSpyCloud({
    [RECORDS_PATH]: async (req, res, seen) => {
      arrived();
      await upstreamReleased;
      json(fixture('spycloud-breach-data-emails.json'))(req, res, seen);
    },
  });
}, 120_000);
afterAll(() => spycloud.close());

describe('node dist/server.js', () => {
  const start = async (extra: Record<string, string> = {}) => {
    const port = await freePort();
    const relay = startRelayProcess({ PORT: String(port), HOST: '127.0.0.1', SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET, ...extra }, port);
    await untilListening(relay);
    return relay;
  };

  it('on SIGTERM refuses new connections, answers the in-flight enrichment in full, then exits 0', async () => {
    const metricsPort = await freePort();
    const relay = await start({ METRICS_PORT: String(metricsPort) });
    expect(await newConnection(metricsPort)).toBe('connected');
    // A keep-alive client, as XDR is: the drain must not wait for its idle socket.
    const client = new Agent({ keepAliveTimeout: 60_000 });
    try {
      const enrichment = fetch(`${relay.url}/observe/observables`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` },
        body: JSON.stringify([{ type: 'email', value: EXAMPLE_EMAIL }]),
        dispatcher: client,
      });
      await guard(recordsArrived, 'the records call reaching SpyCloud');

      relay.child.kill('SIGTERM');
      await relay.logged('draining in-flight requests');
      expect(await newConnection(relay.port)).toBe('ECONNREFUSED');
      expect(await newConnection(metricsPort)).toBe('ECONNREFUSED');

      release();
      const response = await guard(enrichment, 'the in-flight answer');
      expect(response.status).toBe(200);
      // The client is told to drop its keep-alive connection, so the drain ends with the answer.
      expect(response.headers.get('connection')).toBe('close');
      const body = (await response.json()) as any;
      expect(body.data.sightings.count).toBe(4);
      expect(body.data.indicators.count).toBe(2);
      expect(body.data.relationships.count).toBe(3);

      expect(await relay.exited).toEqual({ code: 0, signal: null });
      const messages = relay.logs.map((entry) => entry.msg);
      const observed = relay.logs.findIndex((entry) => entry.path === '/observe/observables');
      expect(relay.logs[observed]).toMatchObject({ msg: 'request', status: 200 });
      expect(observed).toBeGreaterThan(messages.indexOf('draining in-flight requests'));
      expect(messages.at(-1)).toBe('relay stopped');
      expect(relay.stderr()).toBe('');
    } finally {
      relay.child.kill('SIGKILL');
      await client.close();
    }
  });

  it('exits 0 at once on SIGTERM or SIGINT when nothing is in flight', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const relay = await start();
      relay.child.kill(signal);
      expect(await relay.exited).toEqual({ code: 0, signal: null });
      expect(relay.logs.at(-1)?.msg).toBe('relay stopped');
    }
  });

  it('warns at start when the token audience would follow the Host header (XDR-hosted, no RELAY_PUBLIC_URL)', async () => {
    const warning = (relay: RelayProcess) =>
      relay.logs.find((entry) => entry.level === 40 && String(entry.msg).includes('RELAY_PUBLIC_URL is unset'));
    const hostDerived = await start({ SECRET_KEY: '' });
    const published = await start({ SECRET_KEY: '', RELAY_PUBLIC_URL: 'https://relay.example.com' });
    const selfHosted = await start();
    try {
      expect(warning(hostDerived)).toBeDefined();
      expect(warning(published)).toBeUndefined();
      expect(warning(selfHosted)).toBeUndefined();
    } finally {
      for (const relay of [hostDerived, published, selfHosted]) relay.child.kill('SIGKILL');
    }
  });

  it('says at start which mode it runs in, and that it never reads a SPYCLOUD_API_KEY of its environment', async () => {
    const said = (relay: RelayProcess, level: number, start: string) =>
      relay.logs.filter((entry) => entry.level === level && String(entry.msg).startsWith(start)).length;
    const xdrHosted = await start({ SECRET_KEY: '', RELAY_PUBLIC_URL: 'https://relay.example.com', SPYCLOUD_API_KEY: 'sc-key-in-the-environment' });
    const selfHosted = await start({ SPYCLOUD_API_KEY: 'sc-key-in-the-environment' });
    const plain = await start();
    try {
      expect(xdrHosted.logs.find((entry) => entry.msg === 'relay listening')).toMatchObject({ mode: 'xdr-hosted' });
      expect(said(xdrHosted, 30, 'XDR-hosted mode: XDR signs each token (RS256)')).toBe(1);
      expect(said(xdrHosted, 30, 'self-hosted mode')).toBe(0);
      expect(said(selfHosted, 30, 'self-hosted mode: tokens are signed with SECRET_KEY (HS256)')).toBe(1);
      expect(said(selfHosted, 30, 'XDR-hosted mode')).toBe(0);
      for (const relay of [xdrHosted, selfHosted]) {
        expect(said(relay, 40, 'SPYCLOUD_API_KEY is set, but the relay never reads it')).toBe(1);
        expect(JSON.stringify(relay.logs)).not.toContain('sc-key-in-the-environment');
      }
      expect(said(plain, 40, 'SPYCLOUD_API_KEY')).toBe(0);
    } finally {
      for (const relay of [xdrHosted, selfHosted, plain]) relay.child.kill('SIGKILL');
    }
  });

  it('logs the address it listens on as bound (0.0.0.0, not 127.0.0.1) and the metrics port, which alone serves /metrics', async () => {
    const metricsPort = await freePort();
    const relay = await start({ HOST: '0.0.0.0', METRICS_PORT: String(metricsPort) });
    try {
      expect(relay.logs.find((entry) => entry.msg === 'relay listening')).toMatchObject({
        url: `http://0.0.0.0:${relay.port}`,
        metrics_url: `http://0.0.0.0:${metricsPort}/metrics`,
      });
      const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('relay_requests_total');
      expect((await fetch(`${relay.url}/metrics`)).status).toBe(404);
    } finally {
      relay.child.kill('SIGKILL');
    }
  });

  it('with METRICS_ENABLED=false opens no metrics port and logs none', async () => {
    const metricsPort = await freePort();
    const relay = await start({ METRICS_ENABLED: 'false', METRICS_PORT: String(metricsPort) });
    try {
      expect(relay.logs.find((entry) => entry.msg === 'relay listening')?.metrics_url).toBeUndefined();
      expect(await newConnection(metricsPort)).toBe('ECONNREFUSED');
    } finally {
      relay.child.kill('SIGKILL');
    }
  });

  it('refuses to start on a bad setting, naming the variable, exit code 1', async () => {
    const relay = startRelayProcess({ PORT: 'http', SECRET_KEY: SECRET }, 0);
    expect(await relay.exited).toEqual({ code: 1, signal: null });
    expect(relay.stderr()).toBe('Invalid configuration: PORT must be a whole number from 0 to 65535, got "http"\n');
    const short = startRelayProcess({ SECRET_KEY: 'too-short' }, 0);
    expect(await short.exited).toEqual({ code: 1, signal: null });
    expect(short.stderr()).toBe('Invalid configuration: SECRET_KEY must be at least 32 characters long\n');
  });

  /** Starts a relay that should not start: its exit, and the `error` of its `relay could not start` line. */
  const failedStart = async (env: Record<string, string>, uid?: number) => {
    const relay = startRelayProcess({ HOST: '127.0.0.1', SECRET_KEY: SECRET, ...env }, 0, uid);
    const exit = await relay.exited;
    const fatal = relay.logs.at(-1);
    expect(fatal).toMatchObject({ level: 60, msg: 'relay could not start' });
    return { exit, error: String(fatal?.error) };
  };

  it('exits 1 with a log line naming PORT when the port is taken (EADDRINUSE)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      expect(await failedStart({ PORT: String(port) })).toEqual({
        exit: { code: 1, signal: null },
        error: `Invalid configuration: PORT ${port} is already in use on HOST 127.0.0.1 (EADDRINUSE): stop the process that listens there, or choose another PORT`,
      });
      const metrics = await failedStart({ PORT: String(await freePort()), METRICS_PORT: String(port) });
      expect(metrics.exit).toEqual({ code: 1, signal: null });
      expect(metrics.error).toMatch(/^Invalid configuration: METRICS_PORT \d+ is already in use on HOST 127\.0\.0\.1 \(EADDRINUSE\)/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('exits 1 naming HOST when it does not resolve (ENOTFOUND)', async () => {
    expect(await failedStart({ PORT: '0', HOST: 'no-such-host.invalid' })).toEqual({
      exit: { code: 1, signal: null },
      error: 'Invalid configuration: HOST "no-such-host.invalid" does not resolve (ENOTFOUND): use an address of this machine, such as 0.0.0.0 or 127.0.0.1',
    });
  });

  it('exits 1 naming TLS_KEY_FILE and the file when key and certificate do not match', async () => {
    const [one, other] = [selfSignedCertificate(), selfSignedCertificate()];
    expect(await failedStart({ PORT: '0', TLS_CERT_FILE: one.certFile, TLS_KEY_FILE: other.keyFile })).toEqual({
      exit: { code: 1, signal: null },
      error: `Invalid configuration: TLS_KEY_FILE is not the key of the certificate in TLS_CERT_FILE (key values mismatch): ${other.keyFile}`,
    });
  });

  // A port below 1024 needs privileges: as root, run the relay as nobody to be refused.
  const uid = process.getuid?.() === 0 ? 65534 : undefined;
  it('exits 1 naming PORT when the port needs privileges (EACCES)', async () => {
    const { exit, error } = await failedStart({ PORT: '1' }, uid);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(error).toBe('Invalid configuration: PORT 1 on HOST 127.0.0.1 needs privileges this user lacks (EACCES): use a port of 1024 or more');
  });
});
