// Fairness between tenants: while one tenant enriches an investigation of 1000 emails
// × 100 records again and again, how long does another tenant wait for
// `/version` and for a single-email enrichment, and how large does the relay grow?
// Its own relay process and SpyCloud stand-in, so nothing of the main bench carries over.
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { processStats, startBenchRelay } from './relay-process.mjs';
import { breachWorld, forkSpyCloud, startJwksHost } from './world.mjs';

const HEAVY_KEY = 'bench-heavy-tenant-key';
const LIGHT_KEY = 'bench-light-tenant-key';
const EMAILS = 1000;
const RECORDS = 100;
const SECONDS = 10;

/** One email of the heavy tenant's investigation: 100 records over the 5 catalogs of `catalogs`. */
function heavyWorld(i, catalogs) {
  const email = `recipient${i}@victim-corp.example`;
  const records = Array.from({ length: RECORDS }, (_, r) => ({
    email, email_domain: 'victim-corp.example', document_id: randomUUID(), source_id: catalogs[r % catalogs.length].id,
    severity: 20, password: 'not-a-real-password', password_type: 'plaintext', target_url: 'https://login.example/',
    spycloud_publish_date: new Date(Date.UTC(2024, 0, 1) - r * 3_600_000).toISOString().replace('.000', ''),
  }));
  return { email, catalogs, records };
}

const HEAVY_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, authorization, investigation, until } = workerData;
(async () => {
  const ms = [];
  let wrong = 0;
  while (Date.now() < until) {
    const t0 = performance.now();
    const response = await fetch(url + '/observe/observables', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify(investigation),
    });
    const body = await response.json().catch(() => undefined);
    ms.push(performance.now() - t0);
    if (body?.data?.sightings?.count !== 5000 || body.errors?.at(-1)?.code !== 'too many results') wrong += 1;
  }
  parentPort.postMessage({ ms, wrong });
})();
`;

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
};

export async function fairness({ latencyMs: L }) {
  const light = breachWorld('analyst-lookup@light-tenant.example', 2_000_000);
  const catalogs = breachWorld('catalogs@victim-corp.example', 3_000_000).catalogs;
  const worlds = [light, ...Array.from({ length: EMAILS }, (_, i) => heavyWorld(i, catalogs))];
  const agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const jwks = await startJwksHost();
  const spycloud = await forkSpyCloud(worlds, L, [HEAVY_KEY, LIGHT_KEY]);
  let relay;
  try {
    relay = await startBenchRelay({ spycloudUrl: spycloud.url, jwks, agent });
    const bearer = async (key) => `Bearer ${await jwks.sign({ key, jwks_host: jwks.host, aud: relay.url })}`;
    const heavyAuth = await bearer(HEAVY_KEY);
    const lightAuth = await bearer(LIGHT_KEY);
    const post = async (path, authorization, body) => {
      const t0 = performance.now();
      const response = await request(`${relay.url}${path}`, {
        method: 'POST', dispatcher: agent,
        headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.body.text();
      return { ms: performance.now() - t0, status: response.statusCode, text };
    };
    const investigation = worlds.slice(1).map((w) => ({ type: 'email', value: w.email }));
    const lightBody = [{ type: 'email', value: light.email }];
    // Warm both tenants (JWKS, catalogs, connections) before measuring.
    await post('/observe/observables', lightAuth, lightBody);

    const stats = processStats(relay.pid);
    let peakRss = stats.rssMB();
    const sampler = setInterval(() => {
      const now = stats.rssMB();
      if (now !== undefined && now > peakRss) peakRss = now;
    }, 50);
    const end = performance.now() + SECONDS * 1000;
    const heavy = { ms: [], wrong: 0 };
    const version = [];
    const single = { ms: [], wrong: 0 };
    // The heavy tenant's client runs on a thread of its own: reading its 8 MB answers
    // must not delay the other tenant's measurements in this event loop.
    const heavyLoop = () => new Promise((resolve, reject) => {
      const worker = new Worker(HEAVY_CLIENT, { eval: true, workerData: { url: relay.url, authorization: heavyAuth, investigation, until: Date.now() + SECONDS * 1000 } });
      worker.once('message', (result) => {
        heavy.ms = result.ms;
        heavy.wrong = result.wrong;
        resolve();
      });
      worker.once('error', reject);
    });
    const versionLoop = async () => {
      while (performance.now() < end) {
        version.push((await post('/version')).ms);
        await sleep(10);
      }
    };
    const singleLoop = async () => {
      while (performance.now() < end) {
        const answer = await post('/observe/observables', lightAuth, lightBody);
        single.ms.push(answer.ms);
        if (JSON.parse(answer.text)?.data?.sightings?.count !== 10) single.wrong += 1;
        await sleep(10);
      }
    };
    await Promise.all([heavyLoop(), versionLoop(), singleLoop()]);
    clearInterval(sampler);

    const ms = (v) => `${v.toFixed(1)} ms`;
    const row = (label, measured, floor, note = '') => console.log(`  ${label.padEnd(46)}${String(measured).padStart(12)}   ${String(floor).padStart(14)}${note === '' ? '' : `   ${note}`}`);
    const versionMax = Math.max(...version);
    // A warm single-email enrichment costs one SpyCloud round trip (L): the rest is waiting on the relay.
    const singleStall = Math.max(...single.ms) - L;
    console.log(`\n  fairness: one tenant sends ${EMAILS} emails × ${RECORDS} records in one request, again and again for ${SECONDS} s;`);
    console.log(`  another tenant meanwhile calls /version and enriches one email (10 records), each every 10 ms`);
    row('heavy investigations answered', heavy.ms.length, '', `median ${ms(percentile(heavy.ms, 50))}; each ${heavy.wrong === 0 ? 'right' : `WRONG ×${heavy.wrong}`}: 5000 sightings + "too many results"`);
    row('other tenant /version: p99', ms(percentile(version, 99)), '0 ms', `${version.length} calls`);
    row('other tenant /version: max (the longest stall)', ms(versionMax), '0 ms');
    row('other tenant single email: p99', ms(percentile(single.ms, 99)), `${L} ms`, `${single.ms.length} enrichments, ${single.wrong} wrong`);
    row('other tenant single email: max', ms(Math.max(...single.ms)), `${L} ms`, `max − L = ${ms(singleStall)}`);
    row('relay RSS, peak', peakRss === undefined ? 'n/a' : `${peakRss.toFixed(1)} MB`, '', 'sampled every 50 ms');
    return [
      [versionMax <= 100 && singleStall <= 100 && heavy.wrong === 0 && single.wrong === 0,
        `fairness: max stall of the other tenant <= 100 ms (/version ${ms(versionMax)}, single email ${ms(singleStall)} over L), every answer right`],
      [peakRss !== undefined && peakRss <= 400, `fairness: relay peak RSS <= 400 MB (${peakRss === undefined ? 'n/a' : `${peakRss.toFixed(1)} MB`})`],
    ];
  } finally {
    await relay?.stop();
    await Promise.all([agent.close(), spycloud.close(), jwks.close()]);
  }
}
