// `spycloud-relay demo` in-process: its summary checked against the sandbox's
// dataset and against the answers file it writes; `--serve` used like a user would.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HELP, runCli } from '../src/cli.js';
import { DEMO_HELP, runDemo } from '../src/cli/demo.js';
import { acmeDataset, MISSING_CATALOG_ID, SANDBOX_API_KEY } from '../src/sandbox/dataset.js';
import { canonicalIp, recordKeys, type RecordKind } from '../src/sandbox/spycloud.js';

const ENTITIES_LIMIT = 100;
const KINDS: Record<string, RecordKind> = { email: 'emails', domain: 'domains', ip: 'ips', ipv6: 'ips', user: 'usernames' };

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

/** The summary's block (heading to blank line) for one observable. */
const blockOf = (output: string, type: string, value: string) =>
  output.split('\n\n').find((block) => block.startsWith(`${type} ${value} — `) || block.includes(`\n${type} ${value} — `));

/** RELAY.md §6's severity of a record, written out independently of the relay's code. */
function expectedSeverity(record: Record<string, unknown>, catalog: Record<string, unknown> | undefined): string {
  if (catalog?.combo_list_flag) return 'Medium';
  const n = record.severity as number;
  return n <= 2 ? 'Low' : n <= 5 ? 'Medium' : n <= 25 ? 'High' : 'Critical';
}

const freePort = () => new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});

describe('spycloud-relay demo', () => {
  it('enriches every sample, reads the tiles, and its summary matches the dataset and the answers file', async () => {
    const out = capture();
    const err = capture();
    const dir = mkdtempSync(join(tmpdir(), 'demo-test-'));
    const code = await runDemo({ stdout: out.stream, stderr: err.stream, dir, env: {} });
    const output = out.text();
    expect(code, output + err.text()).toBe(0);

    const file = join(dir, 'spycloud-relay-demo.json');
    expect(output).toContain(`Full answers (every sighting, indicator and tile, as XDR gets them): ${file}\n`);
    const answers = JSON.parse(readFileSync(file, 'utf8'));
    rmSync(dir, { recursive: true });
    // Where to go next: the lookup command.
    expect(output).toContain('npx spycloud-relay lookup --help');
    expect(answers.health.body).toEqual({ data: { status: 'ok' } });
    expect(output).toMatch(/health\s+ok/);
    // The token and the secret stay inside the demo.
    expect(output).not.toMatch(/eyJ[\w-]+\.eyJ/);

    const dataset = acmeDataset({ now: Date.parse(answers.dataset_now) });
    const catalogs = new Map(dataset.catalogs.map((c) => [c.id, c]));
    expect(answers.observables.map((o: any) => o.observable)).toEqual(dataset.samples.map(({ type, value }) => ({ type, value })));

    // The email sample, against the dataset: newest records first, cut at the entities limit.
    const email = dataset.samples.find((s) => s.type === 'email')!;
    const records = dataset.records
      .filter((r) => typeof r.email === 'string' && r.email.toLowerCase() === email.value.toLowerCase())
      .sort((a, b) => Date.parse(b.spycloud_publish_date as string) - Date.parse(a.spycloud_publish_date as string))
      .slice(0, ENTITIES_LIMIT);
    const severities = new Map<string, number>();
    for (const r of records) {
      const level = expectedSeverity(r, catalogs.get(r.source_id));
      severities.set(level, (severities.get(level) ?? 0) + 1);
    }
    const counted = ['Critical', 'High', 'Medium', 'Low'].filter((s) => severities.has(s)).map((s) => `${s} ${severities.get(s)}`).join(', ');
    const emailBlock = blockOf(output, 'email', email.value);
    expect(emailBlock).toContain(`sightings    ${records.length} (${counted})`);
    for (const id of new Set(records.map((r) => r.source_id))) {
      const title = catalogs.get(id)?.title as string | undefined;
      expect(emailBlock).toContain(title === undefined ? 'a source without catalog' : `${title} ×`);
    }
    const newest = records[0] as Record<string, unknown>;
    expect(emailBlock).toContain(`newest       ${(newest.spycloud_publish_date as string).slice(0, 16).replace('T', ' ')} UTC`);
    expect(emailBlock).toContain(`warning      SpyCloud did not return results for ${MISSING_CATALOG_ID}`);

    // One sighting of the email as XDR draws it, right after the email's counts: the first that shows a password.
    const blocks = output.split('\n\n');
    const shown = blocks[blocks.findIndex((b) => b.includes(`email ${email.value} — `)) + 1] as string;
    expect(shown.split('\n')[0]).toBe('One of these sightings, as an analyst sees it in XDR (passwords masked, the default):');
    const showsPassword = (s: any) => s.data.columns.some((c: any, i: number) => c.name.startsWith('password') && c.name !== 'password_type' && s.data.rows[0][i]);
    const sighting = answers.observables[0].body.data.sightings.docs.find(showsPassword);
    expect(shown).toContain(`\n  title        ${sighting.title}\n  description  ${sighting.description}\n  severity     ${sighting.severity}, confidence ${sighting.confidence}\n`);
    expect(shown).toContain(`\n  observed     ${sighting.observed_time.start_time.slice(0, 16).replace('T', ' ')} UTC\n  source       ${sighting.source_uri}\n`);
    const width = Math.max(...sighting.data.columns.map((c: any) => c.name.length));
    sighting.data.columns.forEach((c: any, i: number) => {
      const cell = sighting.data.rows[0][i];
      expect(shown).toContain(`${i === 0 ? 'data' : '    '}         ${c.name.padEnd(width)}  ${Array.isArray(cell) ? cell.join(', ') : cell}`);
    });
    // Masked: first and last character; the stolen passwords of the dataset never show.
    const masked = sighting.data.rows[0][sighting.data.columns.findIndex((c: any) => c.name === 'password')];
    expect(masked).toMatch(/^.\*+.$/);
    for (const r of dataset.records) if (typeof r.password_plaintext === 'string' && r.password_plaintext.length > 2) expect(output).not.toContain(r.password_plaintext);

    // Every other sample: what the relay answered, as the dataset holds it; only gmail.com (too broad for SpyCloud) has none.
    for (const [n, sample] of dataset.samples.entries()) {
      const block = blockOf(output, sample.type, sample.value);
      expect(block, `${sample.type} ${sample.value}`).toBeDefined();
      const answer = answers.observables[n];
      expect(answer.status).toBe(200);
      const count = answer.body.data?.sightings?.count;
      if (sample.value === 'gmail.com') {
        expect(count).toBeUndefined();
        expect(block).toContain('no results');
        expect(answer.body.errors.map((e: any) => e.code)).toEqual(['invalid argument']);
      } else {
        expect(count).toBeGreaterThan(0);
        const kind = KINDS[sample.type] as RecordKind;
        const key = kind === 'ips' ? canonicalIp(sample.value) : sample.value.toLowerCase();
        const held = dataset.records.filter((r) => recordKeys(r, kind).includes(key)).length;
        expect(count).toBe(Math.min(held, ENTITIES_LIMIT));
        expect(block).toContain(`sightings    ${count} (`);
      }
      for (const warning of answer.body.errors ?? []) expect(block).toContain(warning.message);
    }

    // Tiles: all five, described one by one.
    expect(answers.tiles.list.status).toBe(200);
    expect(answers.tiles.list.body.data).toHaveLength(5);
    for (const tile of answers.tiles.list.body.data) {
      expect(output).toContain(`${tile.title} (${tile.id}, `);
      expect(answers.tiles.data[tile.id].status).toBe(200);
    }
  });

  it('--serve keeps the relay and the sandbox up on $PORT, with curl commands that work, until stopped', async () => {
    const out = capture();
    const port = await freePort();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const running = runDemo({ stdout: out.stream, stderr: capture().stream, env: { PORT: String(port) }, serve: true, stopped });
    for (let waited = 0; !out.text().includes('Running until Ctrl-C') && waited < 200; waited++) await new Promise((r) => setTimeout(r, 25));
    const output = out.text();
    const relayUrl = `http://127.0.0.1:${port}`;
    expect(output).toContain(`curl -s -X POST ${relayUrl}/health -H "Authorization: Bearer $TOKEN"`);
    const token = /^TOKEN='([^']+)'$/m.exec(output)?.[1] as string;
    const observe = /curl -s -X POST \S+\/observe\/observables .* -d '([^']+)'/.exec(output)?.[1] as string;
    const answer = await fetch(`${relayUrl}/observe/observables`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: observe,
    });
    const body = await answer.json() as any;
    expect(answer.status).toBe(200);
    expect(body.data.sightings.count).toBeGreaterThan(0);
    // The sandbox's own curl line, with its key.
    const direct = /curl -s -H 'X-API-Key: ([^']+)' (\S+)$/m.exec(output);
    expect(direct?.[1]).toBe(SANDBOX_API_KEY);
    expect((await fetch(direct?.[2] as string, { headers: { 'x-api-key': direct?.[1] as string } })).status).toBe(200);

    stop();
    expect(await running).toBe(0);
    expect(out.text()).toContain('Stopped.');
    await expect(fetch(`${relayUrl}/version`, { method: 'POST' })).rejects.toThrow();
  });

  it('says why and exits 2 when $PORT keeps the relay from starting (a configuration error)', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const busy = (blocker.address() as { port: number }).port;
      for (const [PORT, reason] of [[String(busy), /Invalid configuration: PORT \d+ is already in use on HOST 127\.0\.0\.1 \(EADDRINUSE\)/], ['http', /Invalid configuration: PORT/]] as const) {
        const err = capture();
        expect(await runDemo({ stdout: capture().stream, stderr: err.stream, env: { PORT } })).toBe(2);
        expect(err.text()).toMatch(reason);
      }
    } finally {
      blocker.close();
    }
  });

  it('says which answers file it could not write, and exits 2 (the temp folder is the caller\'s)', async () => {
    const err = capture();
    const out = capture();
    const dir = join(tmpdir(), 'demo-test-no-such-folder', 'inner');
    expect(await runDemo({ stdout: out.stream, stderr: err.stream, dir, env: {} })).toBe(2);
    expect(err.text()).toMatch(new RegExp(`^spycloud-relay demo: the answers file ${join(dir, 'spycloud-relay-demo.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} could not be written: .*ENOENT`));
    expect(out.text()).not.toContain('Full answers');
  });

  it('is a command of the command line, with its own help', async () => {
    expect(HELP).toMatch(/^ {2}demo {5}/m);
    expect(await runCli(['demo', '--help'], {})).toEqual({ code: 0, stdout: DEMO_HELP, stderr: '' });
    const wrong = await runCli(['demo', '--serv'], {});
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Unknown option '--serv'/);
  });
});
