// The bench's stand-ins, served by the project's own sandbox (dist/sandbox): a
// SpyCloud that answers after a fixed latency and counts every call, and an XDR
// JWKS host. Bodies follow test/fixtures (the worked example).
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { json, startSpyCloudSandbox, startStandIn } from '../dist/sandbox/index.js';

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

/**
 * The SpyCloud sandbox (src/sandbox, built into dist/) on 127.0.0.1 serving the
 * worlds: breach records of their emails and catalogs by (comma-delimited) ids,
 * for `apiKey` only (one key or a list), each answer sent `latencyMs` after the
 * request arrived.
 * `calls()` counts requests by kind; a request carrying `x-bench-direct` (the
 * bench's own direct round trips) is not counted as a relay call.
 */
export async function startSpyCloud(worlds, latencyMs, apiKey) {
  const sandbox = await startSpyCloudSandbox({
    dataset: { records: worlds.flatMap((w) => w.records), catalogs: worlds.flatMap((w) => w.catalogs), watchlist: [] },
    apiKeys: [apiKey].flat(),
    latencyMs,
  });
  const calls = { records: 0, catalogs: 0, other: 0, direct: 0 };
  return {
    url: sandbox.url,
    calls: () => {
      // Fold the sandbox's log into the counts and drop it, so a long load does not hoard it.
      for (const seen of sandbox.seen) {
        if (seen.headers['x-bench-direct'] !== undefined) calls.direct += 1;
        else if (seen.path.startsWith('/breach/data/emails/')) calls.records += 1;
        else if (seen.path.startsWith('/breach/catalog/')) calls.catalogs += 1;
        else calls.other += 1;
      }
      sandbox.seen.length = 0;
      return calls;
    },
    close: sandbox.close,
  };
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
  const host = await startStandIn({ '/.well-known/jwks': json({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] }) });
  return {
    host: host.host,
    fetches: () => host.seen.length,
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey),
    close: host.close,
  };
}
