// The alerts sync's figure of `npm run bench`: one run of `node dist/cli.js sync`
// (its own process, as cron or a container starts it) over 10,000 watchlist
// records modified in the window (10 pages), SpyCloud and XDR both the project's
// sandboxes answering L ms late; then the same run again, which must create
// nothing. Counts upstream calls at both sandboxes, times the run, and samples
// the process's peak RSS from /proc.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { startSpyCloudSandbox, startXdrSandbox } from '../dist/sandbox/index.js';
import { processStats } from './relay-process.mjs';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const API_KEY = 'bench-sync-key-0001';
const RECORDS = 10_000;
const PAGE = 1_000;
const SOURCES = 20;
const IDENTITIES = 2_500;
const HOUR = 3_600_000;
const RSS_TARGET_MB = 200;

/** 10,000 records of sync.example published (so modified) in the last day, 90 % at or above the default SYNC_MIN_SEVERITY. */
function syncWorld(now) {
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    email: `user${(i * 7919) % IDENTITIES}@sync.example`,
    email_domain: 'sync.example',
    document_id: `sync-doc-${i}`,
    source_id: 70_000 + ((i * 31) % SOURCES),
    severity: [20, 25, 30, 25, 20, 25, 30, 20, 25, 5][i % 10],
    ...(i % 3 === 0 ? { infected_machine_id: `machine-${i % 400}`, user_browser: 'Chrome', target_domain: 'login.sync.example' } : {}),
    password: `secret-${i}`,
    password_type: i % 4 === 0 ? 'plaintext' : 'bcrypt',
    spycloud_publish_date: `${new Date(now - HOUR - (i % 20) * HOUR).toISOString().slice(0, 19)}Z`,
  }));
  const catalogs = Array.from({ length: SOURCES }, (_, n) => ({
    id: 70_000 + n, uuid: `f3a1c2d4-0000-4000-8000-${String(70_000 + n).padStart(12, '0')}`, title: `Sync bench source ${n}`,
    description: 'A breach source of the sync bench.', spycloud_publish_date: '2026-01-10T00:00:00Z', confidence: 3, assets: { email: 1, password: 1 },
  }));
  return { records, catalogs, watchlist: [{ identifier_type: 'domain', identifier_name: 'sync.example' }] };
}

/** Runs the sync once as a process; resolves with its exit code, wall time, peak RSS (MB) and run log line. */
function runSync(env) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'sync'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stats = processStats(child.pid);
  let peak;
  const sample = () => {
    const rss = stats.rssMB();
    if (rss !== undefined && (peak === undefined || rss > peak)) peak = rss;
  };
  const sampler = setInterval(sample, 20);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve) => child.once('exit', (code) => {
    clearInterval(sampler);
    const ms = performance.now() - t0;
    const line = stdout.split('\n').map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((l) => l?.records_read !== undefined);
    resolve({ code, ms, peak, line, stderr });
  }));
}

const sumCreated = (line) => ['incidents', 'sightings', 'relationships', 'indicators'].reduce((n, key) => n + (line?.[key]?.created ?? 0), 0);
const sumExisting = (line) => ['incidents', 'sightings', 'relationships', 'indicators'].reduce((n, key) => n + (line?.[key]?.exists ?? 0), 0);

/** Runs the figure and prints its lines and verdicts; `latencyMs` is the bench's L. */
export async function syncBench({ latencyMs: L }) {
  const spycloud = await startSpyCloudSandbox({ dataset: syncWorld(Date.now()), apiKeys: [API_KEY], pageSize: PAGE, latencyMs: L });
  const xdr = await startXdrSandbox({ latencyMs: L });
  try {
    const env = { ...xdr.syncEnv(spycloud.url, API_KEY), LOG_LEVEL: 'info' };
    const calls = () => {
      const seen = spycloud.seen.splice(0);
      const counted = {
        pages: seen.filter((s) => s.path === '/breach/data/watchlist').length,
        catalogs: seen.filter((s) => s.path.startsWith('/breach/catalog/')).length,
        token: xdr.calls.token,
        imports: xdr.calls.import,
      };
      xdr.calls.token = 0;
      xdr.calls.import = 0;
      return { ...counted, total: counted.pages + counted.catalogs + counted.token + counted.imports };
    };

    const first = await runSync(env);
    const firstCalls = calls();
    const again = await runSync(env);
    const againCalls = calls();
    for (const [name, run] of [['first', first], ['second', again]]) {
      if (run.line === undefined) throw new Error(`the ${name} sync run printed no run line (exit ${run.code}): ${run.stderr.slice(0, 500)}`);
    }

    const kept = first.line.records_kept;
    const row = (label, measured, floor, note = '') => console.log(`  ${label.padEnd(46)}${String(measured).padStart(12)}   ${String(floor).padStart(14)}${note === '' ? '' : `   ${note}`}`);
    const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
    console.log(`\n  alerts sync: node dist/cli.js sync, ${RECORDS.toLocaleString('en-US')} watchlist records modified in the window (${RECORDS / PAGE} pages), ${kept} at severity >= 20, SpyCloud and XDR at L = ${L} ms`);
    const floorCalls = firstCalls.pages + firstCalls.catalogs + first.line.bundles + 1;
    row('first run: upstream calls', firstCalls.total, floorCalls,
      `${firstCalls.pages} pages + ${firstCalls.catalogs} catalog calls + ${firstCalls.imports} bundles + ${firstCalls.token} token`);
    row('first run: entities created', sumCreated(first.line), '',
      `${first.line.incidents.created} incidents, ${first.line.sightings.created} sightings, ${first.line.relationships.created} relationships, ${first.line.indicators.created} indicators; exit ${first.code}`);
    row('first run: wall time (process start to exit)', s(first.ms), s(floorCalls * L), 'floor: every call one after another at L');
    row('first run: peak RSS of the sync process', first.peak === undefined ? 'n/a' : `${first.peak.toFixed(1)} MB`, `target <= ${RSS_TARGET_MB} MB`);
    row('second run: entities created / existing', `${sumCreated(again.line)} / ${sumExisting(again.line)}`, '0 / all', `exit ${again.code}; an incident or indicator met on several pages counts once per page`);
    row('second run: upstream calls, wall time', `${againCalls.total}, ${s(again.ms)}`, '', `peak RSS ${again.peak === undefined ? 'n/a' : `${again.peak.toFixed(1)} MB`}`);
    const verdict = (pass, text) => console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
    verdict(first.code === 0 && firstCalls.token === 1 && firstCalls.imports === first.line.bundles && firstCalls.pages === RECORDS / PAGE,
      `sync: every page read once, one token, one call per bundle, exit 0 (${firstCalls.pages} pages, ${firstCalls.token} token, ${firstCalls.imports} imports for ${first.line.bundles} bundles)`);
    verdict(first.peak !== undefined && first.peak <= RSS_TARGET_MB, `sync: peak RSS <= ${RSS_TARGET_MB} MB (${first.peak?.toFixed(1) ?? 'n/a'} MB)`);
    // An incident or indicator met on several pages is offered again each time: every record's sighting exists exactly once.
    verdict(again.code === 0 && sumCreated(again.line) === 0 && again.line.sightings.exists === first.line.sightings.created,
      `sync: the same run again creates nothing (${sumCreated(again.line)} created; ${again.line.sightings.exists} of ${first.line.sightings.created} sightings exist)`);
  } finally {
    await spycloud.close();
    await xdr.close();
  }
}
