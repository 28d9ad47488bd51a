// Fair shares of the relay-wide SpyCloud resources: how long a light
// tenant's single-email enrichment takes while (1) another tenant's slow 60 MiB
// answers press the answer-byte cap (SPYCLOUD_MAX_BUFFERED_MB, 256 MiB), and
// (2) 24 busy tenants fill the connection pool (SPYCLOUD_MAX_CONNECTIONS, 256)
// with SpyCloud answering in 1 s. Each on relay processes and stand-ins of its own.
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { startBenchRelay } from './relay-process.mjs';
import { breachWorld, forkSpyCloud } from './world.mjs';

const LIGHT_KEY = 'bench-light-tenant-key';
const HEAVY_KEY = 'bench-heavy-tenant-key';
const ANSWER_MIB = 60;
// 5 MiB/s: slower than the relay's 10 s call timeout allows for 60 MiB, so the heavy
// tenant's calls end at their timeout. Fifteen of them fill the 256 MiB cap in under 4 s.
const ANSWER_SECONDS = 12;
const HEAVY_LOOPS = 3;
const POOL_L = 1000;
const BUSY_KEYS = 24;
const BUSY_EMAILS = 48;
const LIGHT_LOOPS = 4;

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
};
const ms = (v) => (v === undefined ? 'n/a' : `${v.toFixed(1)} ms`);
const row = (label, measured, floor, note = '') => console.log(`  ${label.padEnd(46)}${String(measured).padStart(12)}   ${String(floor).padStart(14)}${note === '' ? '' : `   ${note}`}`);

/** The byte-cap stand-in (pressure-spycloud-process.mjs) in a process of its own. */
async function forkPressureSpyCloud(options) {
  const child = fork(new URL('./pressure-spycloud-process.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const reply = () => new Promise((resolve, reject) => {
    child.once('message', resolve);
    void exited.then(() => reject(new Error('the SpyCloud stand-in exited')));
  });
  child.send(options);
  const { url } = await reply();
  return {
    url,
    slowAnswers: async () => {
      child.send('count');
      return (await reply()).slowAnswers;
    },
    close: async () => {
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function client(relay, agent) {
  return async (authorization, emails) => {
    const t0 = performance.now();
    const response = await request(`${relay.url}/observe/observables`, {
      method: 'POST', dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify(emails.map((value) => ({ type: 'email', value }))),
    });
    const text = await response.body.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { ms: performance.now() - t0, status: response.statusCode, body };
  };
}

/** Single-email enrichments of the light tenant, `loops` at a time, until `endAt`; each answer checked (10 sightings, no error). */
async function lightLoad(enrich, authorization, email, endAt, loops = 1, pauseMs = 10) {
  const result = { ms: [], wrong: 0 };
  await Promise.all(Array.from({ length: loops }, async () => {
    while (performance.now() < endAt) {
      const answer = await enrich(authorization, [email]);
      result.ms.push(answer.ms);
      if (answer.body?.data?.sightings?.count !== 10 || answer.body.errors !== undefined) result.wrong += 1;
      await sleep(pauseMs);
    }
  }));
  return result;
}

/** Figure 1: the light tenant while the heavy tenant's slow 60 MiB answers press the byte cap. */
async function byteCap({ latencyMs: L, jwks, agent }) {
  const light = breachWorld('analyst@light-tenant.example', 4_000_000);
  const spycloud = await forkPressureSpyCloud({
    worlds: [light], latencyMs: L, lightKey: LIGHT_KEY, heavyKey: HEAVY_KEY, answerMiB: ANSWER_MIB, answerSeconds: ANSWER_SECONDS,
  });
  let relay;
  try {
    relay = await startBenchRelay({ spycloudUrl: spycloud.url, jwks, agent });
    const enrich = client(relay, agent);
    const lightAuth = `Bearer ${await jwks.sign({ key: LIGHT_KEY, jwks_host: jwks.host, aud: relay.url })}`;
    const heavyAuth = `Bearer ${await jwks.sign({ key: HEAVY_KEY, jwks_host: jwks.host, aud: relay.url })}`;
    await enrich(lightAuth, [light.email]);
    const alone = await lightLoad(enrich, lightAuth, light.email, performance.now() + 3_000);

    // Loops of 5 slow answers each: 900 MiB wanted against the 256 MiB cap, all the time.
    const heavy = { answered: 0, capErrors: 0, timeouts: 0, other: 0 };
    const heavyEnd = performance.now() + 16_000;
    const heavyLoop = async (loop) => {
      while (performance.now() < heavyEnd) {
        const emails = Array.from({ length: 5 }, (_, i) => `big${loop}-${i}@heavy-tenant.example`);
        const answer = await enrich(heavyAuth, emails);
        heavy.answered += 1;
        const messages = (answer.body?.errors ?? []).map((e) => e.message);
        if (messages.some((m) => m.includes("would pass the relay's limit"))) heavy.capErrors += 1;
        else if (messages.some((m) => m.includes('did not answer within'))) heavy.timeouts += 1;
        else heavy.other += 1;
      }
    };
    const heavyDone = Promise.all(Array.from({ length: HEAVY_LOOPS }, (_, loop) => heavyLoop(loop)));
    // Measure once the cap is full (75 MiB/s arrive).
    await sleep(4_000);
    const pressed = await lightLoad(enrich, lightAuth, light.email, heavyEnd);
    await heavyDone;
    const slowAnswers = await spycloud.slowAnswers();

    const base = percentile(alone.ms, 50);
    const worst = Math.max(...pressed.ms);
    console.log(`\n  fair share of the answer-byte cap: another tenant enriches 5 emails whose SpyCloud answers are ${ANSWER_MIB} MiB each,`);
    console.log(`  trickled at ${(ANSWER_MIB / ANSWER_SECONDS).toFixed(0)} MiB/s (length declared), ${HEAVY_LOOPS} such requests at a time (${HEAVY_LOOPS * 5 * ANSWER_MIB} MiB wanted against the 256 MiB cap);`);
    console.log('  the light tenant meanwhile enriches one email every 10 ms');
    row('light tenant alone: median / max', `${ms(base)} / ${ms(Math.max(...alone.ms))}`, `${L} ms`, `${alone.ms.length} enrichments`);
    row('light tenant, cap pressed: p99 / max', `${ms(percentile(pressed.ms, 99))} / ${ms(worst)}`, `${L} ms`, `${pressed.ms.length} enrichments, ${pressed.wrong + alone.wrong} wrong`);
    row('light tenant, cap pressed: max − alone median', ms(worst - base), '0 ms');
    row('heavy tenant: requests answered', heavy.answered, '',
      `${slowAnswers} slow answers started; requests ended by the byte limit ${heavy.capErrors}, by the call timeout ${heavy.timeouts}, otherwise ${heavy.other}`);
    return [[worst - base <= 500 && pressed.wrong + alone.wrong === 0 && pressed.ms.length > 0,
      `byte cap pressed by another tenant: light tenant max <= 500 ms over its own round trip (${ms(worst - base)}), every answer right`]];
  } finally {
    await relay?.stop();
    await spycloud.close();
  }
}

/** Figure 2: the light tenant while 24 busy tenants fill the connection pool, SpyCloud answering in 1 s. */
async function connectionPool({ jwks, agent }) {
  const light = breachWorld('analyst@light-tenant.example', 5_000_000);
  const busyKeys = Array.from({ length: BUSY_KEYS }, (_, i) => `bench-busy-tenant-key-${String(i).padStart(2, '0')}`);
  const spycloud = await forkSpyCloud([light], POOL_L, [LIGHT_KEY, ...busyKeys]);
  let relay;
  try {
    relay = await startBenchRelay({ spycloudUrl: spycloud.url, jwks, agent });
    const enrich = client(relay, agent);
    const bearer = async (key) => `Bearer ${await jwks.sign({ key, jwks_host: jwks.host, aud: relay.url })}`;
    const lightAuth = await bearer(LIGHT_KEY);
    const busyAuth = await Promise.all(busyKeys.map(bearer));
    await enrich(lightAuth, [light.email]);
    const alone = await lightLoad(enrich, lightAuth, light.email, performance.now() + 5_000, LIGHT_LOOPS);

    // Each busy tenant enriches 48 unknown emails at a time, again and again: up to 32 calls each, 768 wanted against 256.
    const busyEnd = performance.now() + 12_000;
    const busy = { answered: 0, wrong: 0 };
    const busyDone = Promise.all(busyAuth.map(async (authorization, k) => {
      for (let round = 0; performance.now() < busyEnd; round++) {
        const answer = await enrich(authorization, Array.from({ length: BUSY_EMAILS }, (_, i) => `u${k}-${round}-${i}@busy-tenant.example`));
        busy.answered += 1;
        if (answer.status !== 200 || JSON.stringify(answer.body) !== '{"data":{}}') busy.wrong += 1;
      }
    }));
    // Measure once the busy keys have grown to their ceiling (one more call per answer from 8).
    await sleep(2_000);
    const callsBefore = (await spycloud.calls()).records;
    const measuredFrom = performance.now();
    const pressed = await lightLoad(enrich, lightAuth, light.email, busyEnd, LIGHT_LOOPS);
    const callsPerSecond = ((await spycloud.calls()).records - callsBefore) / ((performance.now() - measuredFrom) / 1000);
    await busyDone;

    const aloneP99 = percentile(alone.ms, 99);
    const pressedP99 = percentile(pressed.ms, 99);
    console.log(`\n  fair share of the connection pool: ${BUSY_KEYS} busy tenants each enrich ${BUSY_EMAILS} emails at a time, SpyCloud answering in ${POOL_L} ms;`);
    console.log(`  the light tenant enriches one email, ${LIGHT_LOOPS} at a time`);
    row('light tenant alone: p50 / p99', `${ms(percentile(alone.ms, 50))} / ${ms(aloneP99)}`, `${POOL_L} ms`, `${alone.ms.length} enrichments`);
    row('light tenant, pool full: p50 / p99', `${ms(percentile(pressed.ms, 50))} / ${ms(pressedP99)}`, `${POOL_L} ms`, `${pressed.ms.length} enrichments, ${pressed.wrong + alone.wrong} wrong`);
    row('SpyCloud calls/s while measured', callsPerSecond.toFixed(0), '256', `= SPYCLOUD_MAX_CONNECTIONS / L when the pool is full; ${busy.answered} busy requests, ${busy.wrong} wrong`);
    return [[pressedP99 <= 1.5 * aloneP99 && pressed.wrong + alone.wrong === 0 && busy.wrong === 0,
      `connection pool filled by ${BUSY_KEYS} busy tenants at L = ${POOL_L} ms: light tenant p99 <= 1.5 × alone (${ms(pressedP99)} vs ${ms(aloneP99)}), every answer right`]];
  } finally {
    await relay?.stop();
    await spycloud.close();
  }
}

export async function fairShare({ latencyMs, jwks }) {
  // A client of its own: the heavy tenant's requests may take longer than the main bench's 10 s guards.
  const agent = new Agent({ keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  try {
    return [...await byteCap({ latencyMs, jwks, agent }), ...await connectionPool({ jwks, agent })];
  } finally {
    await agent.close();
  }
}
