// Speed: this build side by side with a baseline commit built from git in the
// same run (BENCH_BASELINE, default DEFAULT_BASELINE below: a fixed earlier build,
// so every run compares against the same one): the machine is noisy, so
// only ratios measured together mean something, and the two builds take turns.
//  1. relay CPU per enrichment, W2: one email with 100 records over 20 catalogs,
//     16 closed-loop clients over 16 API keys, warm;
//  2. import time of dist/lambda.js in fresh `node` processes;
//  3. one investigation of 200 emails at L = 200 ms, warm relay, time to answer.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { processStats, startRelayProcess } from './relay-process.mjs';
import { breachWorld, forkSpyCloud, startJwksHost } from './world.mjs';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_BASELINE = '34e61dd';
const W2 = { records: 100, catalogs: 20, clients: 16, rounds: ['this', 'baseline', 'baseline', 'this', 'this', 'baseline'], roundSeconds: 4 };
const IMPORTS = 15;
const INVESTIGATION = { emails: 200, records: 3, latencyMs: 200, runs: 3 };
const TARGETS = { cpu: 0.65, import: 0.6, investigation: 0.5 };

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

/**
 * The stand-ins measured against: a SpyCloud holding `worlds` for `keys` that
 * answers `latencyMs` after each request, and an XDR JWKS host (bench/world.mjs).
 */
async function startSandbox({ worlds, latencyMs, keys }) {
  const jwks = await startJwksHost();
  const spycloud = await forkSpyCloud(worlds, latencyMs, keys);
  return {
    relayEnv: { SPYCLOUD_API_URL: spycloud.url, JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks', JWKS_ALLOWED_HOSTS: jwks.host, LOG_LEVEL: 'warn' },
    bearer: async (key, aud) => `Bearer ${await jwks.sign({ key, jwks_host: jwks.host, aud })}`,
    close: () => Promise.all([spycloud.close(), jwks.close()]),
  };
}

/** `count` records of `email` spread over `catalogs`, shaped like the worked example's (breachWorld's). */
function emailWorld(email, catalogs, count) {
  const templates = breachWorld(email).records;
  const records = Array.from({ length: count }, (_, i) => ({
    ...templates[i % templates.length],
    document_id: randomUUID(),
    source_id: catalogs[i % catalogs.length].id,
    spycloud_publish_date: new Date(Date.UTC(2018, 0, 1) + i * 86_400_000 * 17).toISOString().replace('.000', ''),
  }));
  return { email, catalogs, records };
}

/** `n` distinct catalogs, five at a time from breachWorld's kinds. */
const catalogsOf = (n) => Array.from({ length: Math.ceil(n / 5) }, (_, i) => breachWorld('catalogs@speed.example', 5_000_000 + i * 100_000).catalogs)
  .flat().slice(0, n);

/**
 * The baseline's own checkout and build (`git archive`, `npm ci`, whose prepare
 * script builds), kept in the OS temp dir per commit for later runs;
 * `{ skipped }` saying why when git, the commit or its build is unavailable.
 */
async function baselineBuild(rev) {
  let sha;
  try {
    sha = (await run('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd: ROOT })).stdout.trim();
  } catch (error) {
    if (error.code === 'ENOENT') return { skipped: 'git is not installed' };
    const shallow = await run('git', ['rev-parse', '--is-shallow-repository'], { cwd: ROOT }).then((r) => r.stdout.trim() === 'true', () => false);
    return { skipped: `git does not know commit ${rev} here${shallow ? ' (a shallow clone: `git fetch --unshallow` gets it)' : ''}` };
  }
  const dir = join(tmpdir(), `spycloud-relay-bench-${sha.slice(0, 12)}`);
  const marker = join(dir, '.bench-built');
  if (existsSync(marker)) return { sha, dir, cached: true };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    await run('git', ['archive', '--output', join(dir, 'source.tar'), sha], { cwd: ROOT });
    await run('tar', ['-xf', 'source.tar'], { cwd: dir });
    rmSync(join(dir, 'source.tar'));
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, maxBuffer: 64 * 2 ** 20 });
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    return { skipped: `building ${rev} in ${dir} failed: ${output || error.message}` };
  }
  writeFileSync(marker, `${sha}\n`);
  return { sha, dir, cached: false };
}

/** Both builds' relays on one sandbox, ready; `entries` maps a build's name to its dist/server.js. */
async function startRelays(entries, sandbox, agent) {
  const ready = async (url) => (await request(`${url}/version`, { method: 'POST', dispatcher: agent }).then((r) => r.body.text())).includes('version');
  const relays = {};
  for (const [name, entry] of Object.entries(entries)) relays[name] = await startRelayProcess(sandbox.relayEnv, ready, entry);
  return relays;
}

async function enrich(agent, url, authorization, observables) {
  const response = await request(`${url}/observe/observables`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(observables),
  });
  return { status: response.statusCode, text: await response.body.text() };
}

/** Why an answer is not the full enrichment of `sightings` sightings; undefined when it is. */
function wrong({ status, text }, sightings) {
  if (status !== 200) return `HTTP ${status}`;
  const body = JSON.parse(text);
  if (body.errors !== undefined) return `errors: ${JSON.stringify(body.errors).slice(0, 120)}`;
  return body.data?.sightings?.count === sightings ? undefined : `${body.data?.sightings?.count} sightings instead of ${sightings}`;
}

/** Figure 1: relay CPU (/proc schedstat) per enrichment under W2, the builds taking turns. */
async function cpuPerEnrichment(entries, latencyMs) {
  const keys = Array.from({ length: W2.clients }, (_, i) => `bench-speed-key-${String(i).padStart(2, '0')}`);
  const world = emailWorld('w2-analyst@speed.example', catalogsOf(W2.catalogs), W2.records);
  const sandbox = await startSandbox({ worlds: [world], latencyMs, keys });
  const agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const relays = {};
  try {
    Object.assign(relays, await startRelays(entries, sandbox, agent));
    const tokens = {};
    for (const [name, relay] of Object.entries(relays)) {
      tokens[name] = await Promise.all(keys.map((key) => sandbox.bearer(key, relay.url)));
      // Warm: JWKS, catalogs, connections, JIT; and the answer is checked once in full.
      const why = wrong(await enrich(agent, relay.url, tokens[name][0], [{ type: 'email', value: world.email }]), W2.records);
      if (why !== undefined) throw new Error(`${name} build's W2 answer is wrong: ${why}`);
    }
    const totals = Object.fromEntries(Object.keys(relays).map((name) => [name, { cpuMs: 0, enrichments: 0, failures: 0 }]));
    const load = async (name, seconds) => {
      const relay = relays[name];
      const end = performance.now() + seconds * 1000;
      let enrichments = 0;
      let failures = 0;
      await Promise.all(tokens[name].map(async (authorization) => {
        while (performance.now() < end) {
          const answer = await enrich(agent, relay.url, authorization, [{ type: 'email', value: world.email }]);
          // A cheap check under load: the full one was made while warming.
          if (answer.status === 200 && !answer.text.includes('"errors":')) enrichments += 1;
          else failures += 1;
        }
      }));
      return { enrichments, failures };
    };
    for (const name of Object.keys(relays)) await load(name, 1);
    for (const name of W2.rounds.filter((n) => relays[n] !== undefined)) {
      const stats = processStats(relays[name].pid);
      const before = stats.cpuMs();
      const { enrichments, failures } = await load(name, W2.roundSeconds);
      const after = stats.cpuMs();
      if (before === undefined || after === undefined) return undefined;
      totals[name].cpuMs += after - before;
      totals[name].enrichments += enrichments;
      totals[name].failures += failures;
    }
    return Object.fromEntries(Object.entries(totals).map(([name, t]) => [name, { ...t, perEnrichment: t.cpuMs / t.enrichments }]));
  } finally {
    await Promise.all(Object.values(relays).map((relay) => relay.stop()));
    await Promise.all([agent.close(), sandbox.close()]);
  }
}

/** Figure 2: ms to import each build's dist/lambda.js in a fresh `node`, the builds alternating; medians. */
async function lambdaImport(dirs) {
  const times = Object.fromEntries(Object.keys(dirs).map((name) => [name, []]));
  for (let i = 0; i < IMPORTS; i++) {
    const order = i % 2 === 0 ? Object.entries(dirs) : Object.entries(dirs).reverse();
    for (const [name, dir] of order) {
      const url = pathToFileURL(join(dir, 'dist', 'lambda.js')).href;
      const script = `const t = process.hrtime.bigint(); await import(${JSON.stringify(url)}); process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
      // Self-hosted, as template.yaml deploys it.
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        env: { PATH: process.env.PATH, SECRET_KEY: 'bench-speed-secret-0123456789-abcdefgh', LOG_LEVEL: 'warn' },
      });
      times[name].push(Number(stdout));
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, t]) => [name, median(t)]));
}

/** Figure 3: one request of 200 emails at L = 200 ms on a warm relay; median time to the whole answer. */
async function investigation(entries) {
  const catalogs = catalogsOf(5);
  const worlds = Array.from({ length: INVESTIGATION.emails }, (_, i) => emailWorld(`investigated${i}@speed.example`, catalogs, INVESTIGATION.records));
  const key = 'bench-speed-investigation-key';
  const sandbox = await startSandbox({ worlds, latencyMs: INVESTIGATION.latencyMs, keys: [key] });
  const agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const observables = worlds.map((w) => ({ type: 'email', value: w.email }));
  const sightings = INVESTIGATION.emails * INVESTIGATION.records;
  const relays = {};
  try {
    Object.assign(relays, await startRelays(entries, sandbox, agent));
    const tokens = {};
    const timed = async (name) => {
      const t0 = performance.now();
      const answer = await enrich(agent, relays[name].url, tokens[name], observables);
      const ms = performance.now() - t0;
      const why = wrong(answer, sightings);
      if (why !== undefined) throw new Error(`${name} build's investigation answer is wrong: ${why}`);
      return ms;
    };
    for (const [name, relay] of Object.entries(relays)) {
      tokens[name] = await sandbox.bearer(key, relay.url);
      await timed(name);
    }
    const times = Object.fromEntries(Object.keys(relays).map((name) => [name, []]));
    for (let i = 0; i < INVESTIGATION.runs; i++) {
      const order = i % 2 === 0 ? Object.keys(relays) : Object.keys(relays).reverse();
      for (const name of order) times[name].push(await timed(name));
    }
    return Object.fromEntries(Object.entries(times).map(([name, t]) => [name, median(t)]));
  } finally {
    await Promise.all(Object.values(relays).map((relay) => relay.stop()));
    await Promise.all([agent.close(), sandbox.close()]);
  }
}

export async function speedBench({ latencyMs }) {
  const rev = process.env.BENCH_BASELINE ?? DEFAULT_BASELINE;
  const started = performance.now();
  const baseline = await baselineBuild(rev);
  const dirs = { this: ROOT, ...(baseline.skipped === undefined ? { baseline: baseline.dir } : {}) };
  const entries = Object.fromEntries(Object.entries(dirs).map(([name, dir]) => [name, join(dir, 'dist', 'server.js')]));

  const cpu = await cpuPerEnrichment(entries, latencyMs);
  const imports = await lambdaImport(dirs);
  const big = await investigation(entries);

  const row = (label, now, then, ratio, target) => console.log(`  ${label.padEnd(50)}${now.padStart(11)}${then.padStart(11)}${ratio.padStart(8)}${target.padStart(9)}`);
  const ms = (value, digits = 1) => (value === undefined ? 'n/a' : `${value.toFixed(digits)} ms`);
  const ratioOf = (figures) => (figures?.baseline === undefined || figures?.this === undefined ? undefined : figures.this / figures.baseline);
  const shown = (ratio) => (ratio === undefined ? 'n/a' : `${ratio.toFixed(2)}×`);
  const figures = [
    [`CPU per enrichment, W2 (L = ${latencyMs} ms)`, cpu && { this: cpu.this.perEnrichment, baseline: cpu.baseline?.perEnrichment }, TARGETS.cpu, ms],
    [`Lambda: import dist/lambda.js, median of ${IMPORTS}`, imports, TARGETS.import, ms],
    [`${INVESTIGATION.emails}-email investigation, L = ${INVESTIGATION.latencyMs} ms, median of ${INVESTIGATION.runs}`, big, TARGETS.investigation, (v) => (v === undefined ? 'n/a' : `${(v / 1000).toFixed(2)} s`)],
  ];

  if (baseline.skipped === undefined) {
    console.log(`\n  speed: this build against ${rev} (${baseline.sha.slice(0, 10)}), both measured in this run, taking turns`);
    console.log(`  baseline built from git in ${baseline.dir}${baseline.cached ? ' (kept from an earlier run)' : ''}`);
  } else {
    console.log(`\n  speed: NO COMPARISON with ${rev}: ${baseline.skipped}; this build's figures only`);
  }
  const rounds = W2.rounds.filter((name) => dirs[name] !== undefined);
  console.log(`  W2: one email, ${W2.records} records over ${W2.catalogs} catalogs; ${W2.clients} closed-loop clients, one API key each; `
    + `${rounds.length} rounds of ${W2.roundSeconds} s (${rounds.join(', ')}) after 1 s of warm-up each; relay CPU from /proc schedstat`);
  if (process.env.SPYCLOUD_MAX_CONCURRENCY !== undefined) console.log(`  SPYCLOUD_MAX_CONCURRENCY=${process.env.SPYCLOUD_MAX_CONCURRENCY} from the environment, for both builds`);
  row('', 'this build', 'baseline', 'ratio', 'target');
  for (const [label, values, target, unit] of figures) row(label, unit(values?.this), unit(values?.baseline), shown(ratioOf(values)), `≤ ${target}×`);
  if (cpu !== undefined) {
    for (const [name, t] of Object.entries(cpu)) {
      console.log(`    W2, ${name === 'this' ? 'this build' : 'baseline'}: ${t.enrichments} enrichments, ${t.failures} failed, ${(t.cpuMs / 1000).toFixed(1)} s of relay CPU`);
    }
  }
  console.log(`  speed figures took ${((performance.now() - started) / 1000).toFixed(1)} s`);

  console.log('\ntargets (speed against the baseline):');
  for (const [label, values, target] of figures) {
    const ratio = ratioOf(values);
    const failed = label.startsWith('CPU') && Object.values(cpu ?? {}).some((t) => t.failures > 0);
    const verdict = ratio === undefined ? 'N/A ' : ratio <= target && !failed ? 'PASS' : 'FAIL';
    console.log(`${verdict}  ${label}: ${shown(ratio)} of the baseline, target ≤ ${target}×${failed ? ' (some answers failed)' : ''}`);
  }
}
