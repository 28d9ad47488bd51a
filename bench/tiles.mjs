// The dashboard tiles' figure of `npm run bench` (issue 9): a full dashboard (the
// five tile-data requests XDR sends at once) for one tenant and period, with 10,000
// watchlist records in the period, on a fresh relay (cold: aggregates not cached)
// and again (warm). Counts upstream calls at the stand-in and times the dashboard.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { processStats, startRelayProcess } from './relay-process.mjs';

const API_KEY = 'bench-tiles-key-0001';
const RECORDS = 10_000;
const PAGE = 1_000;
const SOURCES = 40;
const IDENTITIES = 600;
const TILE_IDS = ['spycloud-exposure', 'spycloud-severity', 'spycloud-timeline', 'spycloud-top-breaches', 'spycloud-top-identities'];
const PERIOD = 'last_7_days';
const DAY = 86_400_000;

/** 10,000 records published over the last 6.9 days, in pages of 1,000, serialised once. */
function watchlistPages(now) {
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    email: `user${(i * 7919) % IDENTITIES}@bench.example`,
    email_domain: 'bench.example',
    document_id: `doc-${i}`,
    source_id: 90_000 + ((i * 31) % SOURCES),
    severity: [2, 5, 20, 25, 30][i % 5],
    infected_machine_id: i % 3 === 0 ? `machine-${i % 250}` : undefined,
    password_type: i % 4 === 0 ? 'plaintext' : 'bcrypt',
    spycloud_publish_date: `${new Date(now - 60_000 - Math.floor(((i * 104_729) % RECORDS) / RECORDS * 6.9 * DAY)).toISOString().slice(0, 19)}Z`,
  }));
  const pages = [];
  for (let p = 0; p * PAGE < RECORDS; p++) {
    const results = records.slice(p * PAGE, (p + 1) * PAGE);
    pages.push(JSON.stringify({ cursor: (p + 1) * PAGE < RECORDS ? `page-${p + 1}` : '', hits: results.length, results }));
  }
  return pages;
}

/** SpyCloud's watchlist and catalogs on 127.0.0.1, each answer `latencyMs` late; counts calls by kind. */
async function startWatchlist(latencyMs) {
  const pages = watchlistPages(Date.now());
  const calls = { watchlist: 0, catalogs: 0, other: 0 };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    let body;
    if (url.pathname === '/breach/data/watchlist') {
      calls.watchlist += 1;
      const cursor = url.searchParams.get('cursor');
      body = pages[cursor === null ? 0 : Number(cursor.slice('page-'.length))];
    } else if (url.pathname.startsWith('/breach/catalog/')) {
      calls.catalogs += 1;
      const results = url.pathname.slice('/breach/catalog/'.length).split(',').map((id) => ({ id: Number(id), uuid: `uuid-${id}`, title: `Breach ${id}` }));
      body = JSON.stringify({ cursor: '', hits: results.length, results });
    } else calls.other += 1;
    const status = req.headers['x-api-key'] !== API_KEY ? 403 : body === undefined ? 404 : 200;
    const answer = () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? body : '{"message":"no"}');
    };
    if (latencyMs === 0) answer();
    else setTimeout(answer, latencyMs);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    total: () => calls.watchlist + calls.catalogs + calls.other,
    calls,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
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
    relay = await startRelayProcess({
      SPYCLOUD_API_URL: spycloud.url,
      JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks',
      JWKS_ALLOWED_HOSTS: jwks.host,
      LOG_LEVEL: 'warn',
    }, async (url) => (await request(`${url}/version`, { method: 'POST', dispatcher: agent }).then((r) => r.body.text())).includes('version'));
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
    const cold = await dashboard();
    const coldCalls = { ...spycloud.calls };
    const rss = processStats(relay.pid).rssMB();
    const warm = await dashboard();
    const warmTimes = [];
    for (let i = 0; i < 20; i++) warmTimes.push((await dashboard()).ms);
    warmTimes.sort((a, b) => a - b);

    const pages = Math.ceil(RECORDS / PAGE);
    const row = (label, measured, floor, note = '') => console.log(`  ${label.padEnd(46)}${String(measured).padStart(12)}   ${String(floor).padStart(14)}${note === '' ? '' : `   ${note}`}`);
    const ms = (value) => `${value.toFixed(1)} ms`;
    console.log(`\n  dashboard tiles: 5 tile-data requests at once, ${PERIOD}, ${RECORDS.toLocaleString('en-US')} watchlist records in ${pages} pages, one API key`);
    row('cold (aggregates not cached): upstream calls', cold.calls, pages + 1, `${coldCalls.watchlist} watchlist pages + ${coldCalls.catalogs} catalog call`);
    row('cold: time for the dashboard', ms(cold.ms), `${(pages + 1) * L} ms`, 'pages one after another, then the top 10 catalogs');
    row('warm: upstream calls', warm.calls, 0);
    row('warm: time for the dashboard (median of 20)', ms(warmTimes[10]), '0 ms', `first warm ${ms(warm.ms)}`);
    row('relay RSS after the cold dashboard', rss === undefined ? 'n/a' : `${rss.toFixed(1)} MB`, '');
    const verdict = (pass, text) => console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
    verdict(cold.calls === pages + 1 && warm.calls === 0,
      `tiles: one read of the period for 5 tiles, cold = ${pages + 1} calls (${cold.calls}), warm = 0 (${warm.calls})`);
  } finally {
    await relay?.stop();
    await spycloud.close();
  }
}
