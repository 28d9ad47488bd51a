// The bench's stand-ins: a SpyCloud that answers after a fixed latency and counts
// every call, and an XDR JWKS host. Bodies follow test/fixtures (the worked example).
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const fixture = (name) => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));

/** Five catalogs: the two of the worked example plus three of the other kinds SpyCloud publishes. */
function catalogTemplates() {
  return [
    fixture('spycloud-breach-catalog-31337.json').results[0],
    fixture('spycloud-breach-catalog-4242.json').results[0],
    {
      id: 51034, uuid: '', title: 'Combolist 2022-08 (credential stuffing)', description: 'Email and password pairs circulated as a combo list.',
      site: 'n/a', confidence: 2, type: 'PUBLIC', combo_list_flag: 'YES', acquisition_date: '2022-08-20T00:00:00Z',
      spycloud_publish_date: '2022-09-01T00:00:00Z', num_records: 48112004, assets: { email: 48112004, password: 48112004 },
    },
    {
      id: 38117, uuid: '', title: 'ShopNow Breach', description: 'Customer accounts of the ShopNow web shop.',
      site: 'shopnow.example', site_description: 'Online retailer of consumer electronics.', confidence: 1, type: 'PUBLIC',
      acquisition_date: '2020-04-11T00:00:00Z', spycloud_publish_date: '2020-05-02T00:00:00Z', num_records: 1204411,
      assets: { email: 1204411, password: 1190334, full_name: 1102231, phone: 804112 },
    },
    {
      id: 60210, uuid: '', title: 'RedLine Stealer', description: 'Credentials captured from devices infected with the RedLine infostealer.',
      site: 'n/a', site_description: 'Malware log collection', confidence: 3, type: 'PRIVATE', acquisition_date: '2024-01-09T00:00:00Z',
      spycloud_publish_date: '2024-01-15T00:00:00Z', num_records: 3301877,
      assets: { email: 3010442, password: 3301877, infected_machine_id: 3301877, ip_addresses: 2900177, user_browser: 3210004 },
    },
  ];
}

/**
 * One email with 10 breach records over 5 catalogs. `idOffset` makes a second,
 * disjoint set of catalog ids (for a catalog-cold lookup on a warmed relay).
 */
export function breachWorld(email, idOffset = 0) {
  const catalogs = catalogTemplates().map((c) => ({ ...c, id: c.id + idOffset, uuid: randomUUID() }));
  const [domain] = email.split('@').slice(1);
  const templates = fixture('spycloud-breach-data-emails.json').results;
  const records = Array.from({ length: 10 }, (_, i) => ({
    ...templates[i % templates.length],
    email,
    email_domain: domain,
    domain,
    email_username: email.split('@')[0],
    document_id: randomUUID(),
    source_id: catalogs[i % catalogs.length].id,
    spycloud_publish_date: new Date(Date.UTC(2019 + (i % 6), i, 3 + i)).toISOString().replace('.000', ''),
  }));
  return { email, catalogs, records };
}

const listening = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

const closing = (server) =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/**
 * SpyCloud on 127.0.0.1: breach records of the worlds' emails and catalogs by
 * (comma-delimited) ids for `apiKey` (one key or a list; 403 for any other key), each answer sent
 * `latencyMs` after the request arrived.
 * `calls` counts requests by kind; a request carrying `x-bench-direct` (the
 * bench's own direct round trips) is not counted as a relay call.
 */
export async function startSpyCloud(worlds, latencyMs, apiKey) {
  const calls = { records: 0, catalogs: 0, other: 0, direct: 0 };
  const recordBodies = new Map(worlds.map((w) => [
    `/breach/data/emails/${encodeURIComponent(w.email)}`,
    JSON.stringify({ cursor: '', hits: w.records.length, results: w.records }),
  ]));
  const catalogById = new Map(worlds.flatMap((w) => w.catalogs.map((c) => [String(c.id), c])));
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    let body = recordBodies.get(path);
    if (req.headers['x-bench-direct'] !== undefined) calls.direct += 1;
    else if (body !== undefined) calls.records += 1;
    else if (path.startsWith('/breach/catalog/')) calls.catalogs += 1;
    else calls.other += 1;
    if (body === undefined && path.startsWith('/breach/catalog/')) {
      const results = path.slice('/breach/catalog/'.length).split(',').map(decodeURIComponent)
        .flatMap((id) => (catalogById.has(id) ? [catalogById.get(id)] : []));
      body = JSON.stringify({ cursor: '', hits: results.length, results });
    }
    const status = ![apiKey].flat().includes(req.headers['x-api-key']) ? 403 : body === undefined ? 404 : 200;
    const answer = () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? body : `{"message":"${status === 403 ? 'Forbidden' : 'Not found'}"}`);
    };
    // Even a 0 ms timer waits for the next turn of the loop (about 1 ms): answer at once instead.
    if (latencyMs === 0) answer();
    else setTimeout(answer, latencyMs);
  });
  server.keepAliveTimeout = 60_000;
  const port = await listening(server);
  return { url: `http://127.0.0.1:${port}`, calls, close: () => closing(server) };
}

/**
 * The SpyCloud stand-in in a process of its own (bench/spycloud-process.mjs), so
 * that a direct round trip from the bench crosses processes exactly as the
 * relay's own call does, and the load's clients do not share its event loop.
 */
export async function forkSpyCloud(worlds, latencyMs, apiKey) {
  const child = fork(new URL('./spycloud-process.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const reply = () => new Promise((resolve, reject) => {
    child.once('message', resolve);
    void exited.then(() => reject(new Error('the SpyCloud stand-in exited')));
  });
  child.send({ worlds, latencyMs, apiKey });
  const { url } = await reply();
  return {
    url,
    pid: child.pid,
    /** Calls received so far by kind: records, catalogs, other (relay calls) and direct (the bench's own). */
    calls: () => {
      child.send('calls');
      return reply();
    },
    close: async () => {
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An XDR JWKS host (no added latency: it is fetched once per relay) and a signer for its RS256 key. */
export async function startJwksHost() {
  const kid = 'bench-key-1';
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches += 1;
    res.writeHead(req.url === '/.well-known/jwks' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/.well-known/jwks' ? jwks : '{}');
  });
  const port = await listening(server);
  return {
    host: `127.0.0.1:${port}`,
    fetches: () => fetches,
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey),
    close: () => closing(server),
  };
}
