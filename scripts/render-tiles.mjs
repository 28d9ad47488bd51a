#!/usr/bin/env node
// Draws docs/tiles.svg: what XDR's dashboard shows from this relay's tiles. Runs
// the built relay (dist/) against the SpyCloud sandbox serving a watchlist of a fictional
// company, asks for the five tiles' data of the last 7 days exactly as XDR does,
// and draws the answers. Deterministic: fixed clock, seeded data.
// Usage: npm run build && node scripts/render-tiles.mjs [output.svg]
import { writeFileSync } from 'node:fs';
import process from 'node:process';
import { TextEncoder } from 'node:util';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { loadConfig } from '../dist/config.js';
import { createLogger } from '../dist/log.js';
import { startSpyCloudSandbox } from '../dist/sandbox/index.js';
import { startServer } from '../dist/server.js';

const NOW = Date.UTC(2026, 2, 16, 9, 0); // a Monday morning, 09:00 UTC
const DAY = 86_400_000;
const SECRET = 'render-tiles-secret-0123456789-abcdef';
const PAGE = 100;
const TILE_IDS = ['spycloud-exposure', 'spycloud-severity', 'spycloud-timeline', 'spycloud-top-breaches', 'spycloud-top-identities'];

/** mulberry32: a small seeded generator, so the picture only changes when the code does. */
function random(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Infostealer logs arrive all week; a breach's records are published at once, `daysAgo`. */
const SOURCES = [
  { id: 60210, title: 'RedLine Stealer', severity: [25, 25, 25, 30], weight: 9, stealer: true },
  { id: 60377, title: 'LummaC2 Stealer', severity: [25, 25, 30], weight: 6, stealer: true },
  { id: 51034, title: 'Combolist 2026-02 (credential stuffing)', severity: [5], weight: 6, daysAgo: 5.6 },
  { id: 38117, title: 'ShopNow Breach', severity: [20], weight: 5, plaintext: true, daysAgo: 2.3 },
  { id: 41290, title: 'TravelMate Forum', severity: [2, 5], weight: 4, daysAgo: 1.2 },
  { id: 43002, title: 'FitTrack App', severity: [2], weight: 3, daysAgo: 6.4 },
  { id: 44871, title: 'QuickPDF Converter', severity: [20], weight: 2, plaintext: true, daysAgo: 3.1 },
  { id: 45530, title: 'Gamer Hub 2025', severity: [5], weight: 2, daysAgo: 4.7 },
  { id: 46018, title: 'Recipe Box', severity: [2], weight: 2, daysAgo: 8.2 }, // before the window: not counted
  { id: 47711, title: 'CityBike Rentals', severity: [2], weight: 1, daysAgo: 0.4 },
  { id: 48250, title: 'PetCare Portal', severity: [5], weight: 1, daysAgo: 5.1 },
];
const PEOPLE = ['j.doe', 'a.smith', 'm.garcia', 'l.chen', 'k.patel', 'r.okafor', 's.nilsson', 't.mueller', 'h.tanaka', 'p.rossi',
  'e.martin', 'd.kowalski', 'n.ivanova', 'b.oconnor', 'f.haddad', 'g.silva', 'c.dubois', 'v.novak', 'o.berg', 'i.kim'];

function dataset() {
  const next = random(20260316);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const weighted = SOURCES.flatMap((s) => Array(s.weight).fill(s));
  const records = [];
  for (let i = 0; i < 420; i++) {
    const source = pick(weighted);
    // Skewed towards a few people: the ones to reset first.
    const person = PEOPLE[Math.floor(next() ** 2.2 * PEOPLE.length)];
    // Stealer logs over the week and a bit before it (SpyCloud's `since` is a whole day).
    const at = NOW - Math.floor((source.daysAgo ?? next() * 7.6) * DAY);
    const severity = pick(source.severity);
    const record = {
      email: `${person}@northwind.example`,
      email_domain: 'northwind.example',
      document_id: `doc-${i}`,
      source_id: source.id,
      severity,
      password_type: source.plaintext || (source.stealer && next() < 0.7) ? 'plaintext' : 'bcrypt',
      spycloud_publish_date: `${new Date(at).toISOString().slice(0, 19)}Z`,
    };
    if (source.stealer) record.infected_machine_id = `machine-${Math.floor(next() * 14)}`;
    records.push(record);
  }
  return records;
}

/** SpyCloud's watchlist in pages of PAGE records, and catalogs by comma-delimited ids: the project's sandbox. */
function startSpyCloud(records) {
  const catalogs = SOURCES.map((s) => ({ id: s.id, uuid: `00000000-0000-4000-8000-${String(s.id).padStart(12, '0')}`, title: s.title }));
  const watchlist = [{ identifier_type: 'domain', identifier_name: 'northwind.example' }];
  return startSpyCloudSandbox({ dataset: { records, catalogs, watchlist }, pageSize: PAGE });
}

// ---- drawing -------------------------------------------------------------

const COLORS = { critical: '#b3261e', high: '#e8710a', medium: '#f2b400', low: '#1e8e3e', unknown: '#9aa0a6' };
const color = (level) => COLORS[level.toLowerCase()] ?? '#607d8b';
const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const esc = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const text = (x, y, content, attrs = '') => `<text x="${x}" y="${y}" ${FONT} ${attrs}>${esc(content)}</text>`;

function panel(x, y, width, height, title, body) {
  return `<g transform="translate(${x},${y})"><rect width="${width}" height="${height}" rx="8" fill="#fff" stroke="#d0d4d9"/>`
    + `${text(16, 28, title, 'font-size="15" font-weight="bold" fill="#1f2933"')}${body}</g>`;
}

function metrics(tile, width) {
  const cell = (width - 32) / tile.data.length;
  return tile.data.map((m, i) => `<g transform="translate(${16 + i * cell},44)">`
    + `${text(0, 38, m.value.toLocaleString('en-US'), 'font-size="34" font-weight="bold" fill="#0d47a1"')}`
    + `${text(0, 62, m.label, 'font-size="13" fill="#52606d"')}</g>`).join('');
}

function severityBars(tile, width) {
  const max = Math.max(1, ...tile.data.map((bar) => bar.value));
  const room = width - 150;
  return tile.data.map((bar, i) => {
    const y = 50 + i * 34;
    const w = Math.max(2, (bar.value / max) * room);
    return `${text(16, y + 16, bar.label, 'font-size="13" fill="#1f2933"')}`
      + `<rect x="90" y="${y}" width="${w}" height="22" fill="${color(bar.key)}"><title>${esc(bar.values[0].tooltip)}</title></rect>`
      + `${text(96 + w, y + 16, bar.value, 'font-size="12" fill="#52606d"')}`;
  }).join('');
}

function timeline(tile, width, height) {
  const max = Math.max(1, ...tile.data.map((bar) => bar.value));
  const left = 44;
  const top = 48;
  const plot = height - top - 40;
  const step = (width - left - 16) / tile.data.length;
  const bars = tile.data.map((bar, i) => {
    let y = top + plot;
    const stack = bar.values.map((v) => {
      const h = (v.value / max) * plot;
      y -= h;
      return `<rect x="${left + i * step + 6}" y="${y}" width="${step - 12}" height="${h}" fill="${color(v.key)}"><title>${esc(`${bar.label} ${v.tooltip}`)}</title></rect>`;
    }).join('');
    return `${stack}${text(left + i * step + step / 2, top + plot + 16, bar.label.slice(5), 'font-size="11" fill="#52606d" text-anchor="middle"')}`
      + `${text(left + i * step + step / 2, top + plot - (bar.value / max) * plot - 4, bar.value, 'font-size="11" fill="#52606d" text-anchor="middle"')}`;
  }).join('');
  const legend = tile.keys.map((k, i) => `<rect x="${width - 330 + i * 80}" y="16" width="10" height="10" fill="${color(k.key)}"/>`
    + text(width - 316 + i * 80, 25, k.label, 'font-size="11" fill="#52606d"')).join('');
  return `<line x1="${left}" y1="${top + plot}" x2="${width - 16}" y2="${top + plot}" stroke="#9aa0a6"/>${bars}${legend}`;
}

/** A markdown table of the tile → rows of plain cells (links keep their text, drawn blue). */
function markdownRows(lines) {
  return lines.filter((line, i) => i !== 1).map((line) => line.replace(/^\| | \|$/g, '').split(/(?<!\\)\|/).map((cell) => {
    const plain = cell.trim();
    const link = /^\[(.*)\]\((.*)\)$/.exec(plain);
    return { text: (link ? link[1] : plain).replace(/\\(.)/g, '$1'), link: link !== null };
  }));
}

function table(tile, width, columns) {
  const rows = markdownRows(tile.data);
  return rows.map((row, r) => row.map((cell, c) => {
    const x = 16 + columns[c] * (width - 32);
    const attrs = r === 0 ? 'font-size="12" font-weight="bold" fill="#52606d"' : `font-size="12" fill="${cell.link ? '#0b57d0' : '#1f2933'}"`;
    return text(x, 56 + r * 21, cell.text.length > 42 ? `${cell.text.slice(0, 41)}…` : cell.text, attrs);
  }).join('')).join('') + `<line x1="16" y1="62" x2="${width - 16}" y2="62" stroke="#d0d4d9"/>`;
}

function draw(answers, tiles) {
  const data = Object.fromEntries(TILE_IDS.map((id, i) => [id, answers[i].data]));
  const title = (id) => tiles.find((t) => t.id === id).title;
  const { start_time: from, end_time: to } = data['spycloud-exposure'].observed_time;
  const W = 1200;
  const parts = [
    `<rect width="${W}" height="760" fill="#f3f5f7"/>`,
    text(20, 34, 'SpyCloud tiles in the XDR dashboard — last 7 days', 'font-size="20" font-weight="bold" fill="#1f2933"'),
    text(20, 56, `tile-data answers of the relay for a stand-in watchlist; window ${from.slice(0, 16).replace('T', ' ')} – ${to.slice(0, 16).replace('T', ' ')} UTC`, 'font-size="12" fill="#52606d"'),
    panel(20, 72, W - 40, 120, title('spycloud-exposure'), metrics(data['spycloud-exposure'], W - 40)),
    panel(20, 204, 400, 230, title('spycloud-severity'), severityBars(data['spycloud-severity'], 400)),
    panel(432, 204, W - 452, 230, title('spycloud-timeline'), timeline(data['spycloud-timeline'], W - 452, 230)),
    panel(20, 446, 640, 294, title('spycloud-top-breaches'), table(data['spycloud-top-breaches'], 640, [0, 0.72, 0.84])),
    panel(672, 446, W - 692, 294, title('spycloud-top-identities'), table(data['spycloud-top-identities'], W - 692, [0, 0.42, 0.56, 0.78])),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="760" viewBox="0 0 ${W} 760">\n${parts.join('\n')}\n</svg>\n`;
}

async function main() {
  const output = process.argv[2] ?? new URL('../docs/tiles.svg', import.meta.url);
  const spycloud = await startSpyCloud(dataset());
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', METRICS_ENABLED: 'false', SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET, LOG_LEVEL: 'silent' });
  const relay = await startServer(config, { now: () => NOW, logger: createLogger('silent') });
  try {
    const token = await new SignJWT({ key: 'render-tiles-key' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
    const post = async (path, body) => {
      const response = await request(relay.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
      const answer = await response.body.json();
      if (answer.errors !== undefined) throw new Error(`${path}: ${JSON.stringify(answer.errors)}`);
      return answer.data;
    };
    const tiles = await post('/tiles');
    // The five tiles of a dashboard load at once, as XDR asks for them.
    const answers = await Promise.all(TILE_IDS.map(async (id) => ({ data: await post('/tiles/tile-data', { tile_id: id, period: 'last_7_days' }) })));
    writeFileSync(output, draw(answers, tiles));
    console.log(`wrote ${output instanceof URL ? output.pathname : output}`);
  } finally {
    await relay.close();
    await spycloud.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
