// `npm run bench`: the relay (its own process, `node dist/server.js`) against a
// local SpyCloud stand-in that adds L ms to every answer. Measures upstream calls
// cold and warm, cold latency, the relay's warm overhead (median of paired
// differences against a direct round trip to the stand-in) and a 16-client
// closed-loop load with one API key. Reports PASS/FAIL per target (calls, warm
// overhead, throughput and p99, RSS); it never gates (exit 0 unless the bench itself breaks).
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { processStats, startBenchRelay } from './relay-process.mjs';
import { fairness } from './fairness.mjs';
import { fairShare } from './fair-share.mjs';
import { tilesBench } from './tiles.mjs';
import { speedBench } from './speed.mjs';
import { syncBench } from './sync.mjs';
import { breachWorld, forkSpyCloud, startJwksHost } from './world.mjs';

const API_KEY = 'bench-spycloud-key-0001';
const WARMUP_PAIRS = 30;
const PAIRS = 200;
const CLIENTS = 16;
const LOAD_SECONDS = 10;
const DEFAULT_CONCURRENCY = 32;

function latencyMs() {
  const { values } = parseArgs({ options: { latency: { type: 'string' } } });
  const raw = values.latency ?? process.env.BENCH_LATENCY_MS ?? '30';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 1000) throw new Error(`--latency must be an integer 0..1000 ms, got "${raw}"`);
  return value;
}

const median = (values) => percentile(values, 50);
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}
const ms = (value, digits = 1) => (value === undefined ? 'n/a' : `${value.toFixed(digits)} ms`);
const mb = (value) => (value === undefined ? 'n/a (no /proc)' : `${value.toFixed(1)} MB`);

/** Why `text` is not the complete, correct enrichment of `world`; undefined when it is. */
function defect(status, text, world) {
  if (status !== 200) return `HTTP ${status}`;
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return 'body is not JSON';
  }
  if (body.errors !== undefined) return `errors: ${JSON.stringify(body.errors).slice(0, 200)}`;
  const { sightings, indicators, relationships } = body.data ?? {};
  const counts = [sightings, indicators, relationships].map((e) => (e?.count === e?.docs?.length ? e?.count : -1));
  if (counts.join() !== '10,5,10') return `counts (sightings, indicators, relationships) ${counts.join()} instead of 10,5,10`;
  const documents = new Set(world.records.map((r) => r.document_id));
  const catalogs = new Map(world.catalogs.map((c) => [String(c.id), c.uuid]));
  const indicatorUuid = new Map(indicators.docs.map((i) => [i.id, i.external_ids?.[1]]));
  if (!indicators.docs.every((i) => catalogs.get(i.external_ids?.[0]) === i.external_ids?.[1]) || indicatorUuid.size !== 5) return 'indicators';
  const sightingUuid = new Map(sightings.docs.map((s) => [s.id, s.source_uri?.split('/').at(-1)]));
  const sightingsOk = sightingUuid.size === 10 && sightings.docs.every((s) =>
    s.observables?.[0]?.value === world.email && documents.delete(s.external_ids?.[0]));
  if (!sightingsOk || documents.size !== 0) return 'sightings';
  const sources = new Set(relationships.docs.map((r) => r.source_ref));
  const relationshipsOk = sources.size === 10 && relationships.docs.every((r) =>
    sightingUuid.has(r.source_ref) && indicatorUuid.get(r.target_ref) === sightingUuid.get(r.source_ref));
  return relationshipsOk ? undefined : 'relationships';
}

async function main() {
  const L = latencyMs();
  const started = performance.now();
  const cpus = os.cpus();
  const loadAtStart = os.loadavg();
  const worlds = [breachWorld('jdoe@acme-corp.example'), breachWorld('asmith@acme-corp.example', 1_000_000)];
  const [world, coldWorld] = worlds;

  // One keep-alive client for every measurement, relay and direct alike; timeouts only guard against hangs.
  const agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: 10_000, bodyTimeout: 10_000 });
  let jwks;
  let spycloud;
  let relay;
  try {
    jwks = await startJwksHost();
    spycloud = await forkSpyCloud(worlds, L, API_KEY);
    relay = await startBenchRelay({ spycloudUrl: spycloud.url, jwks, agent });
    const authorization = `Bearer ${await jwks.sign({ key: API_KEY, jwks_host: jwks.host, aud: relay.url })}`;

    const enrichment = async (email) => {
      const t0 = performance.now();
      const response = await request(`${relay.url}/observe/observables`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify([{ type: 'email', value: email }]),
      });
      const text = await response.body.text();
      return { ms: performance.now() - t0, status: response.statusCode, text };
    };
    const direct = async (email) => {
      const t0 = performance.now();
      const response = await request(`${spycloud.url}/breach/data/emails/${encodeURIComponent(email)}`, {
        dispatcher: agent,
        headers: { 'x-api-key': API_KEY, accept: 'application/json', 'x-bench-direct': '1' },
      });
      await response.body.text();
      return performance.now() - t0;
    };
    const upstreamCalls = async () => {
      const { records, catalogs, other } = await spycloud.calls();
      return records + catalogs + other;
    };
    const counted = async (task) => {
      const before = await upstreamCalls();
      const result = await task();
      return { ...result, calls: (await upstreamCalls()) - before };
    };
    const relayStats = processStats(relay.pid);
    const standInStats = processStats(spycloud.pid);
    const checked = (answer, w) => {
      const why = defect(answer.status, answer.text, w);
      if (why !== undefined) throw new Error(`the relay's answer is wrong (${why}); relay output: ${relay.output.join(' | ')}`);
      return answer;
    };

    // 1. Cold: a fresh relay process (no JWKS, no connections, no catalogs, no JIT), then the same lookup warm.
    const cold = checked(await counted(() => enrichment(world.email)), world);
    const jwksFetches = jwks.fetches();
    const warm = checked(await counted(() => enrichment(world.email)), world);

    // 2. Warm overhead: relay and direct round trips alternated (order flipped every pair) so drift hits both alike.
    const relayMs = [];
    const directMs = [];
    const diffs = [];
    let pairDefects = 0;
    let pairsCpu;
    for (let i = 0; i < WARMUP_PAIRS + PAIRS; i++) {
      let viaRelay;
      let straight;
      if (i % 2 === 0) {
        viaRelay = await enrichment(world.email);
        straight = await direct(world.email);
      } else {
        straight = await direct(world.email);
        viaRelay = await enrichment(world.email);
      }
      if (defect(viaRelay.status, viaRelay.text, world) !== undefined) pairDefects += 1;
      if (i === WARMUP_PAIRS - 1) pairsCpu = relayStats.cpuMs();
      if (i < WARMUP_PAIRS) continue;
      relayMs.push(viaRelay.ms);
      directMs.push(straight);
      diffs.push(viaRelay.ms - straight);
    }

    if (pairsCpu !== undefined) pairsCpu = (relayStats.cpuMs() - pairsCpu) / PAIRS;

    // 3. Cold catalogs on a warmed relay: another email whose 5 catalogs the relay has never seen.
    const coldCatalogs = checked(await counted(() => enrichment(coldWorld.email)), coldWorld);

    // 4. Closed loop: each client sends its next enrichment as soon as the last one is answered.
    const cpuBefore = relayStats.cpuMs();
    const standInCpuBefore = standInStats.cpuMs();
    const benchCpuBefore = process.cpuUsage();
    const callsBefore = await upstreamCalls();
    let peakRss = relayStats.rssMB();
    const sampler = setInterval(() => {
      const now = relayStats.rssMB();
      if (now !== undefined && now > peakRss) peakRss = now;
    }, 100);
    const latencies = [];
    const failures = new Map();
    let ok = 0;
    const loadStart = performance.now();
    const loadEnd = loadStart + LOAD_SECONDS * 1000;
    const client = async () => {
      while (performance.now() < loadEnd) {
        const t0 = performance.now();
        let why;
        try {
          const answer = await enrichment(world.email);
          latencies.push(answer.ms);
          why = defect(answer.status, answer.text, world);
        } catch (error) {
          latencies.push(performance.now() - t0);
          why = error.code ?? error.message;
        }
        if (why === undefined) ok += 1;
        else failures.set(why, (failures.get(why) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const loadSeconds = (performance.now() - loadStart) / 1000;
    clearInterval(sampler);
    const loadCalls = (await upstreamCalls()) - callsBefore;
    const relayCpu = cpuBefore === undefined ? undefined : relayStats.cpuMs() - cpuBefore;
    const standInCpu = standInCpuBefore === undefined ? undefined : standInStats.cpuMs() - standInCpuBefore;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const relayOutput = [...relay.output];
    const exit = await relay.stop();
    relay = undefined;

    // Report.
    const cap = Number(process.env.SPYCLOUD_MAX_CONCURRENCY ?? DEFAULT_CONCURRENCY);
    const throughputCeiling = L === 0 ? 'none' : (Math.min(cap, CLIENTS) / (L / 1000)).toFixed(0);
    const loadLatencyFloor = (CLIENTS / Math.min(cap, CLIENTS)) * L;
    const failed = [...failures.values()].reduce((a, b) => a + b, 0);
    const throughput = ok / loadSeconds;
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const overhead = median(diffs);
    const row = (label, measured, floor, note = '') => console.log(`  ${label.padEnd(46)}${String(measured).padStart(12)}   ${String(floor).padStart(14)}${note === '' ? '' : `   ${note}`}`);

    console.log(`\nSpyCloud relay benchmark: L = ${L} ms added to every SpyCloud answer; one email, 10 breach records over 5 catalogs`);
    console.log(`machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`);
    console.log(`load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes make the figures noisy)`);
    console.log(`relay: node dist/server.js, own process, LOG_LEVEL=warn (request lines are info: logging is not measured), `
      + `SPYCLOUD_MAX_CONCURRENCY=${cap}${process.env.SPYCLOUD_MAX_CONCURRENCY === undefined ? ' (default)' : ' (from the environment)'}`
      + `${process.env.BENCH_RELAY_NODE_ARGS === undefined ? '' : `, node flags: ${process.env.BENCH_RELAY_NODE_ARGS}`}\n`);
    console.log(`  ${''.padEnd(46)}${'measured'.padStart(12)}   ${'floor'.padStart(14)}`);
    row('cold, fresh relay: upstream calls', cold.calls, 2, `+ ${jwksFetches} JWKS fetch (JWKS host has no added latency)`);
    row('cold, fresh relay: latency', ms(cold.ms), `${2 * L} ms`, 'includes the JWKS fetch, new connections, unwarmed JIT');
    row('cold catalogs, warmed relay: upstream calls', coldCatalogs.calls, 2, 'another email, 5 catalogs never seen');
    row('cold catalogs, warmed relay: latency', ms(coldCatalogs.ms), `${2 * L} ms`);
    row('warm: upstream calls', warm.calls, 1);
    row(`warm via relay: median of ${PAIRS}`, ms(median(relayMs)), `${L} ms`);
    row(`direct to stand-in: median of ${PAIRS}`, ms(median(directMs)), `${L} ms`);
    row(`warm overhead: median of ${PAIRS} paired diffs`, ms(overhead, 2), '0 ms', `p10 ${ms(percentile(diffs, 10))}, p90 ${ms(percentile(diffs, 90))}`);
    if (pairsCpu !== undefined) row('relay CPU per warm enrichment, one at a time', ms(pairsCpu), '', 'user + kernel, socket I/O included');
    if (pairDefects > 0) row('  wrong answers among the paired enrichments', pairDefects, 0);
    console.log(`\n  load: ${CLIENTS} clients, closed loop, ${LOAD_SECONDS} s, one API key (${latencies.length} enrichments, every answer checked)`);
    row('enrichments/s', throughput.toFixed(1), `ceiling ${throughputCeiling}`, `= min(cap ${cap}, ${CLIENTS} clients) / L`);
    row('p50', ms(p50), `${loadLatencyFloor.toFixed(0)} ms`, `= ${CLIENTS} clients / min(cap, clients) × L`);
    row('p99', ms(p99), `${loadLatencyFloor.toFixed(0)} ms`);
    row('failures (wrong, incomplete or no answer)', failed, 0, [...failures].map(([why, n]) => `${n}× ${why}`).join('; '));
    row('upstream calls per enrichment', (loadCalls / latencies.length).toFixed(2), 1);
    row('relay RSS, peak during the load', mb(peakRss), '', 'sampled every 100 ms');
    const share = (cpuMs) => (cpuMs === undefined ? 'n/a' : `${((cpuMs / (loadSeconds * 1000)) * 100).toFixed(0)}% core`);
    row('relay CPU', share(relayCpu), '', relayCpu === undefined ? '' : `${ms(relayCpu / latencies.length)} per enrichment`);
    row('CPU of the bench clients', share((benchCpu.user + benchCpu.system) / 1000), '', `same ${cpus.length} cores as the relay`);
    row('CPU of the SpyCloud stand-in', share(standInCpu), '', 'its own process');
    console.log(`  relay stopped with ${exit.signal ?? `exit code ${exit.code}`} after SIGTERM; bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (relayOutput.length > 0) console.log(`  relay printed (first lines):\n    ${relayOutput.join('\n    ')}`);

    const verdict = (pass, text) => console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
    console.log('\ntargets (enrichment):');
    verdict(cold.calls === 2 && coldCatalogs.calls === 2 && warm.calls === 1,
      `upstream calls: cold = 2 (fresh ${cold.calls}, warmed ${coldCatalogs.calls}), warm = 1 (${warm.calls})`);
    verdict(overhead <= 3 && pairDefects === 0, `warm overhead <= 3 ms over a direct round trip (${ms(overhead, 2)}), every answer right (${pairDefects} wrong)`);
    verdict(throughput >= 175 && p99 <= 4 * L && failed === 0,
      `load >= 175 enrichments/s (${throughput.toFixed(1)}), p99 <= 4 × L = ${4 * L} ms (${ms(p99)}), 0 failures (${failed})`);
    verdict(peakRss !== undefined && peakRss <= 150, `relay RSS <= 150 MB (${mb(peakRss)})`);

    const fair = await fairness({ latencyMs: L });
    console.log('\ntargets (fairness):');
    for (const [pass, text] of fair) verdict(pass, text);
    // Fair shares of the byte cap and the connection pool, on relay processes of their own.
    const shares = await fairShare({ latencyMs: L, jwks });
    console.log('\ntargets (fair shares under pressure):');
    for (const [pass, text] of shares) verdict(pass, text);
    // Dashboard tiles, cold and warm, on a relay process of their own.
    await tilesBench({ latencyMs: L, jwks, agent });
    // The alerts sync, as its own process against the SpyCloud and XDR sandboxes.
    await syncBench({ latencyMs: L });
    // Speed against a baseline commit built from git, on relays and stand-ins of its own.
    await speedBench({ latencyMs: L });
  } finally {
    await relay?.stop();
    await Promise.all([agent.close(), spycloud?.close(), jwks?.close()]);
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
