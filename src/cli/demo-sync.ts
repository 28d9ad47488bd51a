// The demo's sync block: Acme's new watchlist exposures imported into a sandbox
// XDR as incidents (RELAY.md §10), one incident shown as an analyst sees it, and a
// second run that creates nothing.
import type { Writable } from 'node:stream';
import { SANDBOX_API_KEY } from '../sandbox/dataset.js';
import { startXdrSandbox, type XdrSandbox } from '../sandbox/xdr.js';
import { loadSyncConfig, runSync, succeeded, type SyncReport } from '../sync/index.js';

const created = (report: SyncReport) =>
  Object.values(report.entities).reduce((sum, counts) => sum + counts.created, 0);
const existing = (report: SyncReport) =>
  Object.values(report.entities).reduce((sum, counts) => sum + counts.exists, 0);

/** Runs the sync twice against a sandbox XDR (`xdr`, or one of its own); answers the exit code. */
export async function demoSync(spycloudUrl: string, out: Writable, options: { now?: number; xdr?: XdrSandbox } = {}): Promise<number> {
  const xdr = options.xdr ?? await startXdrSandbox();
  try {
    const config = loadSyncConfig(xdr.syncEnv(spycloudUrl, SANDBOX_API_KEY));
    const now = options.now === undefined ? undefined : () => options.now as number;
    const first = await runSync(config, { now });
    const { incident, sighting, relationship, indicator } = first.entities;
    out.write(`Sync into XDR incidents (spycloud-relay sync; a sandbox XDR at ${xdr.url})\n`);
    out.write(`  first run   ${incident.created} incidents created, with ${sighting.created} sightings, ${relationship.created} relationships and ${indicator.created} indicators, from the ${first.records.kept} watchlist records since ${first.since} with severity >= ${config.minSeverity}\n`);
    const shown = [...xdr.stored.values()].find((e) => e.type === 'incident')?.entity;
    if (shown !== undefined) {
      out.write('  one incident, as an analyst sees it in XDR\'s Incident Manager:\n');
      out.write(`    ${String(shown.title)}\n    severity ${String(shown.severity)}, status ${String(shown.status)}, TLP ${String(shown.tlp)}\n    ${String(shown.short_description)}\n`);
    }
    const second = await runSync(config, { now });
    out.write(`  second run  ${created(second)} created, ${existing(second)} already in XDR: a rerun of the same window imports nothing twice\n\n`);
    return succeeded(first) && succeeded(second) && created(second) === 0 && incident.created > 0 ? 0 : 1;
  } finally {
    if (options.xdr === undefined) await xdr.close();
  }
}
