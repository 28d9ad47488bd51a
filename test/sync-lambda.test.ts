// The alerts sync as an AWS Lambda function (template.yaml SyncFunction): each
// invocation is one run against real HTTP servers on loopback (the SpyCloud and
// XDR sandboxes), from the TypeScript module and from the one-file bundle that
// `sam build` ships alone; and the template that schedules it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { acmeDataset, SANDBOX_API_KEY } from '../src/sandbox/dataset.js';
import { startSpyCloudSandbox } from '../src/sandbox/spycloud.js';
import type { StandIn } from '../src/sandbox/stand-in.js';
import { SANDBOX_XDR_CLIENT_SECRET, startXdrSandbox, type XdrSandbox } from '../src/sandbox/xdr.js';
import { loadSyncConfig } from '../src/sync/index.js';
import { createSyncHandler, SyncRunFailed } from '../src/sync/lambda-handler.js';

const run = promisify(execFile);
const NOW = Date.parse('2026-06-15T12:00:00Z');

interface World {
  spycloud: StandIn;
  xdr: XdrSandbox;
  env: Record<string, string>;
}

const open: World[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).flatMap((w) => [w.spycloud.close(), w.xdr.close()]));
});

async function world(): Promise<World> {
  const spycloud = await startSpyCloudSandbox({ dataset: acmeDataset({ now: NOW }), apiKeys: [SANDBOX_API_KEY], pageSize: 5 });
  const xdr = await startXdrSandbox();
  const env = {
    ...xdr.syncEnv(spycloud.url, SANDBOX_API_KEY),
    SPYCLOUD_RETRY_BASE_MS: '1',
    // The sandbox's watchlist is dated around NOW; the real clock is later: look far enough back.
    SYNC_LOOKBACK_DAYS: String(Math.ceil((Date.now() - NOW) / 86_400_000) + 20),
  };
  const created = { spycloud, xdr, env };
  open.push(created);
  return created;
}

/** A logger whose lines land in `lines`, parsed. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, logger };
}

const storedCount = (xdr: XdrSandbox, type: string) => [...xdr.stored.values()].filter((e) => e.type === type).length;

describe('the sync Lambda handler', () => {
  it('imports the exposures as incidents on one invocation, and a second invocation creates nothing', async () => {
    const { xdr, env } = await world();
    const { lines, logger } = capture();
    const handler = createSyncHandler(loadSyncConfig(env), {}, logger);

    const first = await handler();
    expect(first.incidents.created).toBeGreaterThan(0);
    expect(first.incidents.created).toBe(storedCount(xdr, 'incident'));
    expect(first.sightings.created).toBe(storedCount(xdr, 'sighting'));
    expect(xdr.calls.token).toBe(1);

    const second = await handler();
    expect(second.incidents.created + second.sightings.created + second.relationships.created + second.indicators.created).toBe(0);
    // An incident whose records span pages is offered once per page: `exists` counts each offer.
    expect(second.incidents.exists).toBeGreaterThanOrEqual(first.incidents.created);
    expect(second.sightings.exists).toBe(first.sightings.created);
    expect(storedCount(xdr, 'incident')).toBe(first.incidents.created);

    // One info line per invocation, counts only.
    expect(lines.map((l) => [l.msg, l.level])).toEqual([['sync run', 30], ['sync run', 30]]);
    const logged = JSON.stringify(lines);
    for (const secret of [SANDBOX_API_KEY, SANDBOX_XDR_CLIENT_SECRET, '@acme-corp.example']) expect(logged).not.toContain(secret);
  });

  it('fails the invocation when the run has errors, after its error log line, without a secret in either', async () => {
    const { xdr, env } = await world();
    const { lines, logger } = capture();
    // XDR refuses the client: the run ends before reading SpyCloud.
    const handler = createSyncHandler(loadSyncConfig({ ...env, XDR_CLIENT_SECRET: 'not-the-secret-of-this-client' }), {}, logger);

    const failure = await handler().then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(SyncRunFailed);
    expect((failure as Error).message).toMatch(/^The sync run had errors: XDR failed, the run ended early: XDR refused the API client's credentials/);
    expect(xdr.calls.import).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'sync run', level: 50, failure: { source: 'xdr' } });
    expect(`${JSON.stringify(lines)} ${(failure as Error).message}`).not.toContain('not-the-secret-of-this-client');
  });
});

/** dist/sync-lambda.js built by the package's own script, alone in a fresh directory, as `sam build` ships it. */
let packageDir: string | undefined;
async function syncLambdaPackage(): Promise<string> {
  if (packageDir !== undefined) return packageDir;
  const dir = mkdtempSync(join(tmpdir(), 'sync-lambda-package-'));
  await run(process.execPath, [fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url)), 'sync-lambda', join(dir, 'dist', 'sync-lambda.js')]);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  packageDir = dir;
  return dir;
}
afterAll(() => {
  if (packageDir !== undefined) rmSync(packageDir, { recursive: true, force: true });
});

/** Imports the bundle in a plain `node` (no node_modules, only PATH and `env`) and invokes its handler once. */
async function invokeBundle(env: Record<string, string>): Promise<Record<string, unknown>> {
  const dir = await syncLambdaPackage();
  const script = `
    let outcome;
    try {
      const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'dist', 'sync-lambda.js')).href)});
      outcome = { result: await handler() };
    } catch (error) {
      outcome = { error: error.message };
    }
    process.stdout.write('\\n' + JSON.stringify(outcome));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env } });
  return JSON.parse(stdout.split('\n').at(-1) as string) as Record<string, unknown>;
}

describe('the sync Lambda bundle, alone in a directory', () => {
  it('runs a sync against the sandboxes', async () => {
    const { xdr, env } = await world();
    const outcome = await invokeBundle(env);
    expect(outcome.error).toBeUndefined();
    expect((outcome.result as { incidents: { created: number } }).incidents.created).toBe(storedCount(xdr, 'incident'));
    expect(storedCount(xdr, 'incident')).toBeGreaterThan(0);
  }, 30_000);

  it('fails its init on a bad configuration, naming the variable', async () => {
    const outcome = await invokeBundle({ XDR_CLIENT_ID: 'id', XDR_CLIENT_SECRET: 'secret' });
    expect(outcome.error).toMatch(/^Invalid configuration: SPYCLOUD_API_KEY must be set/);
  }, 30_000);
});

describe('template.yaml: the sync function', () => {
  const template = readFileSync(new URL('../template.yaml', import.meta.url), 'utf8');
  const sync = template.slice(template.indexOf('  SyncFunction:'), template.indexOf('  SyncLogs:'));
  const field = (text: string, key: string): string | undefined => new RegExp(`^\\s*${key}:[ \\t]*(.+)$`, 'm').exec(text)?.[1]?.trim();

  it('runs dist/sync-lambda.handler every 15 minutes, one run at a time, only when an XDR client is given', () => {
    expect(field(sync, 'Handler')).toBe('dist/sync-lambda.handler');
    expect(field(sync, 'Condition')).toBe('SyncEnabled');
    expect(field(template, 'SyncEnabled')).toBe("!Not [!Equals [!Ref XdrClientId, '']]");
    expect(field(sync, 'Type')).toBe('AWS::Serverless::Function');
    expect(field(sync.slice(sync.indexOf('Events:')), 'Type')).toBe('Schedule');
    expect(field(sync, 'Schedule')).toBe('rate(15 minutes)');
    expect(field(sync, 'ReservedConcurrentExecutions')).toBe('1');
    expect(field(sync, 'MaximumRetryAttempts')).toBe('0');
  });

  it('gives a run its whole budget before Lambda stops it, and maps the parameters, secrets hidden', () => {
    const budgetS = Number(field(sync, 'SYNC_BUDGET_S')?.replace(/'/g, ''));
    expect(Number(field(sync, 'Timeout'))).toBeGreaterThan(budgetS);
    expect(Number(field(sync, 'Timeout'))).toBeLessThanOrEqual(900);
    expect(loadSyncConfig({ SPYCLOUD_API_KEY: 'k', XDR_CLIENT_ID: 'i', XDR_CLIENT_SECRET: 's', SYNC_BUDGET_S: String(budgetS) }).budgetMs).toBe(budgetS * 1000);
    expect(field(sync, 'XDR_CLIENT_SECRET')).toBe('!Ref XdrClientSecret');
    expect(field(sync, 'SPYCLOUD_API_KEY')).toBe('!Ref SpyCloudApiKey');
    expect(field(sync, 'XDR_REGION')).toBe('!Ref XdrRegion');
    expect(field(sync, 'SYNC_PASSWORD_DISPLAY')).toBe('!Ref SyncPasswordDisplay');
    for (const secret of ['XdrClientSecret:', 'SpyCloudApiKey:']) expect(field(template.slice(template.indexOf(secret)), 'NoEcho')).toBe('true');
    expect(field(template.slice(template.indexOf('SyncPasswordDisplay:')), 'Default')).toBe('hidden');
  });

  it('ships its one-file bundle alone (Makefile)', () => {
    const makefile = readFileSync(new URL('../Makefile', import.meta.url), 'utf8');
    const after = makefile.slice(makefile.indexOf('build-SyncFunction:')).split('\n').slice(1);
    // The recipe: the tab-indented lines right after the target, up to the next blank line.
    const recipe = after.slice(0, after.findIndex((line) => !line.startsWith('\t')));
    expect(recipe.filter((line) => line.includes('$(ARTIFACTS_DIR)') && !line.includes('mkdir'))).toEqual([
      '\tcp dist/sync-lambda.js "$(ARTIFACTS_DIR)/dist/"',
      '\tprintf \'{ "type": "module" }\\n\' > "$(ARTIFACTS_DIR)/package.json"',
    ]);
  });
});
