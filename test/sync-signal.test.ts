// `spycloud-relay sync --every` as a long-running process, started as an operator
// would (`node dist/cli.js`): SIGTERM between runs ends it at once with exit 0.
import { execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acmeDataset, SANDBOX_API_KEY } from '../src/sandbox/dataset.js';
import { startSpyCloudSandbox } from '../src/sandbox/spycloud.js';
import type { StandIn } from '../src/sandbox/stand-in.js';
import { startXdrSandbox, type XdrSandbox } from '../src/sandbox/xdr.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = join(ROOT, 'dist', 'cli.js');
const SOURCES = ['cli.ts', 'cli/sync.ts', 'sync/run.ts', 'sync/mapping.ts', 'sync/xdr-client.ts', 'spycloud/client.ts'].map((f) => join(ROOT, 'src', f));

/** dist/ is built by `npm ci`; rebuild when the sync's sources are newer. */
function ensureBuilt() {
  const built = (() => {
    try {
      return statSync(ENTRY).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (built < Math.max(...SOURCES.map((f) => statSync(f).mtimeMs))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
}

let spycloud: StandIn;
let xdr: XdrSandbox;
beforeAll(async () => {
  ensureBuilt();
  spycloud = await startSpyCloudSandbox({ dataset: acmeDataset({ now: Date.now() }), apiKeys: [SANDBOX_API_KEY] });
  xdr = await startXdrSandbox();
}, 120_000);
afterAll(() => Promise.all([spycloud.close(), xdr.close()]));

describe('sync --every', () => {
  it('runs, waits, and ends with exit 0 on SIGTERM between runs', async () => {
    const child = spawn(process.execPath, [ENTRY, 'sync', '--every', '1h'], {
      env: { PATH: process.env.PATH, ...xdr.syncEnv(spycloud.url, SANDBOX_API_KEY) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const firstRun = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (stdout.includes('"msg":"sync run"')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await firstRun;
    const signalled = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // It did not wait out the hour, nor run again.
    expect(Date.now() - signalled).toBeLessThan(5_000);
    expect(stdout.split('\n').filter((line) => line.includes('"msg":"sync run"'))).toHaveLength(1);
    expect(JSON.parse(stdout.split('\n')[0] as string).incidents.created).toBeGreaterThan(0);
  }, 30_000);
});
