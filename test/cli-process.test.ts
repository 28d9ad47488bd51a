// The built command line as a shell runs it (`node dist/cli.js …`): a reader that
// closes the pipe early, and what the demo leaves in the temp folder.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');

const newest = (dir: string): number =>
  Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
  }));

/**
 * `npm test` runs after `npm ci`, whose prepare script builds; build again (as
 * `npm run build` does, bundles included, so dist/ stays whole for the other
 * tests) only when src/ is newer than dist/cli.js.
 */
function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    // Not built yet.
  }
  if (built < newest(join(ROOT, 'src'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT, stdio: 'inherit' });
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with its temp folder at `tmp`. With `closeAfterFirstChunk`, the
 * reader of stdout goes away after the first chunk, as `| head -3` does.
 */
function run(args: string[], tmp: string, closeAfterFirstChunk = false, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', TMPDIR: tmp, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
      if (closeAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'cli-process-test-'));
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('node dist/cli.js', () => {
  it('demo | head -3: a reader that stops early ends the demo quietly, exit 0, no EPIPE trace', async () => {
    const result = await run(['demo'], tmp, true);
    expect(result.stdout.startsWith('SpyCloud relay demo\n')).toBe(true);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('demo, twice: one answers file in the temp folder, overwritten, and no folder left behind', async () => {
    const before = new Set(readdirSync(tmp));
    for (let n = 0; n < 2; n++) {
      const result = await run(['demo'], tmp);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`: ${join(tmp, 'spycloud-relay-demo.json')}\n`);
    }
    const added = readdirSync(tmp).filter((name) => !before.has(name));
    expect(added.filter((name) => name !== 'spycloud-relay-demo.json')).toEqual([]);
    expect(statSync(join(tmp, 'spycloud-relay-demo.json')).isFile()).toBe(true);
    expect(JSON.parse(readFileSync(join(tmp, 'spycloud-relay-demo.json'), 'utf8')).observables.length).toBeGreaterThan(0);
    expect(readdirSync(tmp).filter((name) => statSync(join(tmp, name)).isDirectory())).toEqual([]);
  });

  it('sets the process exit code to the command\'s: 2 for a malformed value, with its message once', async () => {
    const result = await run(['lookup', 'not-an-email@'], tmp);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.match(/is not a valid email/g)).toHaveLength(1);
  });

  it('sets 1, a failed check, when SpyCloud cannot be reached: the lookup was no mistake', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await run(['lookup', 'jdoe@example.com'], tmp, false, {
      SPYCLOUD_API_URL: `http://127.0.0.1:${port}`, SPYCLOUD_API_KEY: 'test-key', SPYCLOUD_RETRY_BASE_MS: '0',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^jdoe@example\.com \(email\): failed\n {2}error: SpyCloud could not be reached: /);
  });

  it('--version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(await run(['--version'], tmp)).toEqual({ code: 0, stdout: `spycloud-relay ${pkg.version}\n`, stderr: '' });
  });
});
