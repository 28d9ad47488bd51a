// The dashboard tiles' figure of `npm run bench`: a full dashboard (the
// five tile-data requests XDR sends at once) for one tenant and period, with 10,000
// watchlist records in the period, on a fresh relay (cold: aggregates not cached)
// and again (warm). Counts upstream calls at the SpyCloud sandbox and times the dashboard.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { startSpyCloudSandbox } from '../dist/sandbox/index.js';
import { processStats, startBenchRelay } from './relay-process.mjs';

const API_KEY = 'bench-tiles-key-0001';
const RECORDS = 10_000;
const PAGE = 1_000;
const SOURCES = 40;
const IDENTITIES = 600;
const TILE_IDS = ['spycloud-exposure', 'spycloud-severity', 'spycloud-timeline', 'spycloud-top-breaches', 'spycloud-top-identities'];
const PERIOD = 'last_7_days';
const DAY = 86_400_000;

/** 10,000 records of bench.example published over the last 6.9 days, and the catalogs of their 40 sources. */
function watchlistWorld(now) {
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    email: `user${(i * 7919) % IDENTITIES}@bench.example`,
    email_domain: 'bench.example',
    document_id: `doc-${i}`,
    source_id: 90_000 + ((i * 31) % SOURCES),
    severity: [2, 5, 20, 25, 30][i % 5],
    ...(i % 3 === 0 ? { infected_machine_id: `machine-${i % 250}` } : {}),
    password_type: i % 4 === 0 ? 'plaintext' : 'bcrypt',
    spycloud_publish_date: `${new Date(now - 60_000 - Math.floor(((i * 104_729) % RECORDS) / RECORDS * 6.9 * DAY)).toISOString().slice(0, 19)}Z`,
  }));
  const catalogs = Array.from({ length: SOURCES }, (_, n) => ({ id: 90_000 + n, uuid: `uuid-${90_000 + n}`, title: `Breach ${90_000 + n}` }));
  return { records, catalogs, watchlist: [{ identifier_type: 'domain', identifier_name: 'bench.example' }] };
}

/**
 * SpyCloud's watchlist and catalogs on 127.0.0.1, served by the project's sandbox
 * (dist/sandbox) in pages of PAGE records, each answer `latencyMs` late; counts calls by kind.
 */
async function startWatchlist(latencyMs) {
  const sandbox = await startSpyCloudSandbox({ dataset: watchlistWorld(Date.now()), apiKeys: [API_KEY], pageSize: PAGE, latencyMs });
  const calls = { watchlist: 0, catalogs: 0, other: 0 };
  const count = () => {
    for (const { path, headers } of sandbox.seen) {
      if (headers['x-bench-direct'] !== undefined) continue;
      if (path === '/breach/data/watchlist') calls.watchlist += 1;
      else if (path.startsWith('/breach/catalog/')) calls.catalogs += 1;
      else calls.other += 1;
    }
    sandbox.seen.length = 0;
    return calls;
  };
  return {
    url: sandbox.url,
    total: () => {
      const { watchlist, catalogs, other } = count();
      return watchlist + catalogs + other;
    },
    calls: () => ({ ...count() }),
    /** Reads every page once, uncounted, so the sandbox's own first-run costs stay out of the cold figure. */
    warmUp: async (agent) => {
      let cursor = '';
      do {
        const response = await request(`${sandbox.url}/breach/data/watchlist${cursor === '' ? '' : `?cursor=${encodeURIComponent(cursor)}`}`, {
          dispatcher: agent,
          headers: { 'x-api-key': API_KEY, 'x-bench-direct': '1' },
        });
        ({ cursor } = await response.body.json());
      } while (cursor !== '');
    },
    close: sandbox.close,
  };
}

/** Why a dashboard's five answers are not the full, right figures; undefined when they are. */
function defect(answers) {
  for (const [i, { status, body }] of answers.entries()) {
    if (status !== 200 || body.errors !== undefined) return `${TILE_IDS[i]}: HTTP ${status} ${JSON.stringify(body.errors ?? '').slice(0, 200)}`;
  }
  const [exposure, severity, timeline, breaches, identities] = answers.map((a) => a.body.data);
  const sum = (bars) => bars.reduce((total, bar) => total + bar.value, 0);
  if (exposure.data[0].value !== RECORDS) return `Exposed records ${exposure.data[0].value}, not ${RECORDS}`;
  if (sum(severity.data) !== RECORDS || sum(timeline.data) !== RECORDS) return 'severity or timeline bars do not add up';
  if (breaches.data.length !== 12 || identities.data.length !== 12) return 'tables of other than 10 rows';
  return undefined;
}

/**
 * Runs the figure and prints its lines: `latencyMs` is the bench's L, `jwks` its
 * JWKS host (startJwksHost), `agent` its keep-alive client.
 */
export async function tilesBench({ latencyMs: L, jwks, agent }) {
  const spycloud = await startWatchlist(L);
  let relay;
  try {
    relay = await startBenchRelay({ spycloudUrl: spycloud.url, jwks, agent });
    const authorization = `Bearer ${await jwks.sign({ key: API_KEY, jwks_host: jwks.host, aud: relay.url })}`;
    const post = async (path, body) => {
      const response = await request(`${relay.url}${path}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.statusCode, body: await response.body.json() };
    };
    const dashboard = async () => {
      const before = spycloud.total();
      const t0 = performance.now();
      const answers = await Promise.all(TILE_IDS.map((id) => post('/tiles/tile-data', { tile_id: id, period: PERIOD })));
      const ms = performance.now() - t0;
      const why = defect(answers);
      if (why !== undefined) throw new Error(`the relay's tiles are wrong (${why}); relay output: ${relay.output.join(' | ')}`);
      return { ms, calls: spycloud.total() - before };
    };

    // The tile list first: the JWKS fetch and the connection are not part of the figure.
    await post('/tiles', {});
    await spycloud.warmUp(agent);
    const cold = await dashboard();
    const coldCalls = spycloud.calls();
    const rss = processStats(relay.pid).rssMB();
    const warm = await dashboard();
    const warmTimes = [];
    for (let i = 0; i < 20; i++) warmTimes.push((await dashboard()).ms);
    warmTimes.sort((a, b) => a - b);

    const pages = Math.ceil(RECORDS / PAGE);
    const row = (label, measured, floor, note = '') => console.log(`  ${label.padEnd(46)}${String(measured).padStart(12)}   ${String(floor).padStart(14)}${note === '' ? '' : `   ${note}`}`);
    const ms = (value) => `${value.toFixed(1)} ms`;
    console.log(`\n  dashboard tiles: 5 tile-data requests at once, ${PERIOD}, ${RECORDS.toLocaleString('en-US')} watchlist records in ${pages} pages, one API key`);
    // The period's sources' catalogs (§6's combolist rule) come 10 ids to a call, alongside the pages.
    const catalogCalls = Math.ceil(SOURCES / 10);
    const floor = pages + catalogCalls;
    row('cold (aggregates not cached): upstream calls', cold.calls, floor, `${coldCalls.watchlist} watchlist pages + ${coldCalls.catalogs} catalog calls`);
    row('cold: time for the dashboard', ms(cold.ms), `${(pages + 1) * L} ms`, 'pages one after another; the catalogs of new sources (10 ids a call) alongside them');
    row('warm: upstream calls', warm.calls, 0);
    row('warm: time for the dashboard (median of 20)', ms(warmTimes[10]), '0 ms', `first warm ${ms(warm.ms)}`);
    row('relay RSS after the cold dashboard', rss === undefined ? 'n/a' : `${rss.toFixed(1)} MB`, '');
    const verdict = (pass, text) => console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
    verdict(cold.calls === floor && warm.calls === 0,
      `tiles: one read of the period for 5 tiles, cold = ${floor} calls (${cold.calls}), warm = 0 (${warm.calls})`);
  } finally {
    await relay?.stop();
    await spycloud.close();
  }
}
