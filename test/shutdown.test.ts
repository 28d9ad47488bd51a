// Graceful shutdown of the production build, started the way the Dockerfile's
// CMD starts it (`node dist/server.js`): SIGTERM while an enrichment waits on
// SpyCloud → no new connections, the enrichment still gets its full answer,
// then the process exits 0.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

function startRelayProcess(env: Record<string, string>, port: number): RelayProcess {
  // Only what the relay needs: no proxy variables of the test's environment.
  const child = spawn(process.execPath, [ENTRY], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const relay = await start();
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

  it('refuses to start on a bad setting, naming the variable, exit code 1', async () => {
    const relay = startRelayProcess({ PORT: 'http', SECRET_KEY: SECRET }, 0);
    expect(await relay.exited).toEqual({ code: 1, signal: null });
    expect(relay.stderr()).toBe('Invalid configuration: PORT must be a whole number from 0 to 65535, got "http"\n');
    const short = startRelayProcess({ SECRET_KEY: 'too-short' }, 0);
    expect(await short.exited).toEqual({ code: 1, signal: null });
    expect(short.stderr()).toBe('Invalid configuration: SECRET_KEY must be at least 32 characters long\n');
  });

  it('exits 1 with a log line saying why when it cannot listen', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const relay = startRelayProcess({ PORT: String(port), HOST: '127.0.0.1', SECRET_KEY: SECRET }, port);
      expect(await relay.exited).toEqual({ code: 1, signal: null });
      expect(relay.logs.at(-1)).toMatchObject({ msg: 'relay could not start', error: expect.stringContaining('EADDRINUSE') });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
