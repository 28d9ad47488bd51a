#!/usr/bin/env node
// A local SpyCloud stand-in for trying the relay without a SpyCloud key: serves the
// worked example of test/fixtures (one email, its breach records, their catalogs)
// the way SpyCloud's API does, including comma-delimited catalog ids.
// Usage: node scripts/spycloud-stand-in.mjs [port]   (default 8088, 127.0.0.1 only)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const fixture = (name) => JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));
const records = fixture('spycloud-breach-data-emails.json');
const catalogs = new Map(
  ['31337', '4242'].map((id) => [id, fixture(`spycloud-breach-catalog-${id}.json`).results[0]]),
);
const email = records.results[0].email;

const answer = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const server = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (path === `/breach/data/emails/${encodeURIComponent(email)}`) return answer(res, 200, records);
  // Every other email, domain, IP address or username: exposed nowhere.
  if (path.startsWith('/breach/data/')) return answer(res, 200, { cursor: '', hits: 0, results: [] });
  if (path.startsWith('/breach/catalog/')) {
    const found = path.slice('/breach/catalog/'.length).split(',').map(decodeURIComponent)
      .flatMap((id) => (catalogs.has(id) ? [catalogs.get(id)] : []));
    return answer(res, 200, { cursor: '', hits: found.length, results: found });
  }
  if (path.startsWith('/watchlist/')) return answer(res, 200, fixture('spycloud-watchlist.json'));
  return answer(res, 404, { message: 'Not found' });
});

const port = Number(process.argv[2] ?? 8088);
server.listen(port, '127.0.0.1', () => {
  console.log(`SpyCloud stand-in on http://127.0.0.1:${port} (knows ${email})`);
});
