// The demo's sync block against the SpyCloud and XDR sandboxes: what it prints
// is checked against what the sandbox XDR stored.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { demoSync } from '../src/cli/demo-sync.js';
import { acmeDataset, SANDBOX_API_KEY } from '../src/sandbox/dataset.js';
import { startSpyCloudSandbox } from '../src/sandbox/spycloud.js';
import type { StandIn } from '../src/sandbox/stand-in.js';
import { startXdrSandbox, type XdrSandbox } from '../src/sandbox/xdr.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const closing: Array<StandIn | XdrSandbox> = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((s) => s.close()));
});

function capture() {
  let text = '';
  return { stream: new Writable({ write(chunk, _e, done) { text += String(chunk); done(); } }), text: () => text };
}

describe('the demo\'s sync block', () => {
  it('says how many incidents it created, shows one as stored, and that a second run created nothing', async () => {
    const spycloud = await startSpyCloudSandbox({ dataset: acmeDataset({ now: NOW }), apiKeys: [SANDBOX_API_KEY] });
    const xdr = await startXdrSandbox();
    closing.push(spycloud, xdr);
    const out = capture();
    expect(await demoSync(spycloud.url, out.stream, { now: NOW, xdr })).toBe(0);
    const text = out.text();
    const incidents = [...xdr.stored.values()].filter((e) => e.type === 'incident').map((e) => e.entity);
    expect(incidents.length).toBeGreaterThan(0);
    expect(text).toMatch(new RegExp(`first run {3}${incidents.length} incidents created`));
    const shown = incidents[0] as Record<string, unknown>;
    expect(text).toContain(`    ${String(shown.title)}\n    severity ${String(shown.severity)}, status New, TLP amber\n    ${String(shown.short_description)}\n`);
    expect(text).toMatch(/second run {2}0 created, [1-9]\d* already in XDR/);
    // The same number of incidents after the second run: it created none.
    expect([...xdr.stored.values()].filter((e) => e.type === 'incident')).toHaveLength(incidents.length);
  });

  it('fails (exit 1) when the sync cannot import', async () => {
    const spycloud = await startSpyCloudSandbox({ dataset: acmeDataset({ now: NOW }), apiKeys: ['another key'] });
    const xdr = await startXdrSandbox();
    closing.push(spycloud, xdr);
    expect(await demoSync(spycloud.url, capture().stream, { now: NOW, xdr })).toBe(1);
  });
});
