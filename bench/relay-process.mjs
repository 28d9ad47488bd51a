// The relay under test as its own process, started the way operators start it
// (`node dist/server.js`), so that its memory and CPU are its own and not the
// bench's. Memory and CPU time are read from /proc (Linux).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const ENTRY = fileURLToPath(new URL('../dist/server.js', import.meta.url));
/** Relay settings a user may pass through to try other values (e.g. SPYCLOUD_MAX_CONCURRENCY=16 npm run bench). */
const PASS_THROUGH = ['SPYCLOUD_MAX_CONCURRENCY'];

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function procField(pid, file, pattern) {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8').match(pattern)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Starts the relay with `env` (and nothing else of the bench's environment but
 * PATH and PASS_THROUGH, so that no proxy variable reroutes loopback traffic) and
 * waits until it answers `POST /version`, using `ready(url)`. `entry` may name
 * another build's dist/server.js (the speed comparison, bench/speed.mjs).
 */
export async function startRelayProcess(env, ready, entry = ENTRY) {
  const port = await freePort();
  const passed = Object.fromEntries(PASS_THROUGH.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]]));
  // Node flags for the relay alone, e.g. BENCH_RELAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it.
  const nodeArgs = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    // METRICS_PORT 0: two relays at once (bench/speed.mjs) must not both want 9464.
    env: { PATH: process.env.PATH, ...passed, ...env, HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The relay logs at warn: anything it prints is a failure worth showing; keep the first lines only.
  const output = [];
  const keep = (chunk) => {
    for (const line of String(chunk).split('\n')) if (line !== '' && output.length < 20) output.push(line);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone;
  void exited.then((how) => (gone = how));

  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (gone !== undefined) throw new Error(`relay exited at start (${JSON.stringify(gone)}): ${output.join('\n')}`);
    if (await ready(url).catch(() => false)) break;
    if (attempt >= 200) {
      child.kill('SIGKILL');
      throw new Error('relay did not answer within 10 s');
    }
    await sleep(50);
  }

  return {
    url,
    pid: child.pid,
    output,
    /** SIGTERM (the relay drains in-flight requests and exits 0), SIGKILL after 10 s. */
    stop: async () => {
      if (gone !== undefined) return gone;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}

const kbToMB = (kb) => (kb === undefined ? undefined : (Number(kb) * 1024) / 1e6);

/** Memory and CPU of a process from /proc (Linux); each figure is undefined where /proc is missing. */
export const processStats = (pid) => ({
  /** Resident set size now, in MB (10^6 bytes, the unit of the bench's RSS target). */
  rssMB: () => kbToMB(procField(pid, 'status', /VmRSS:\s+(\d+) kB/)),
  /** CPU time used so far, in ms (schedstat counts nanoseconds on the CPU). */
  cpuMs: () => {
    const ns = procField(pid, 'schedstat', /^(\d+)/);
    return ns === undefined ? undefined : Number(ns) / 1e6;
  },
});

/**
 * The relay in XDR-hosted mode against a SpyCloud at `spycloudUrl`, trusting the
 * bench's JWKS host, logging warnings only; ready once it answers POST /version.
 */
export function startBenchRelay({ spycloudUrl, jwks, agent, env = {} }) {
  return startRelayProcess({
    SPYCLOUD_API_URL: spycloudUrl,
    JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks',
    JWKS_ALLOWED_HOSTS: jwks.host,
    LOG_LEVEL: 'warn',
    ...env,
  }, async (url) => (await request(`${url}/version`, { method: 'POST', dispatcher: agent }).then((r) => r.body.text())).includes('version'));
}
