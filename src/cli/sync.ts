// `spycloud-relay sync`: SpyCloud watchlist exposures → XDR incidents (RELAY.md §10).
// One run, or one every interval until SIGTERM/SIGINT; one JSON log line per run
// (counts only: no secret, email or password); a dry run previews and calls
// nothing in XDR.
import { parseArgs } from 'node:util';
import type { CliResult } from '../cli.js';
import { ConfigError } from '../config.js';
import { createLogger } from '../log.js';
import { loadSyncConfig, runSync, succeeded, type SyncConfig, type SyncDeps, type SyncReport } from '../sync/index.js';
import { ENTITY_TYPES, reportLogFields, reportProblems } from '../sync/report.js';
import { UsageError } from './usage.js';

type Env = Record<string, string | undefined>;

const SYNC_HELP = `spycloud-relay sync [--every 15m] [--dry-run] [--since YYYY-MM-DD]

  Imports new SpyCloud watchlist exposures into XDR as incidents: records
  modified in the last SYNC_LOOKBACK_DAYS (2) with a severity of at least
  SYNC_MIN_SEVERITY (20) become one incident per (email or username, breach
  source), with the records as sightings and the breach as an indicator.
  A rerun creates nothing new. Needs SPYCLOUD_API_KEY, XDR_CLIENT_ID and
  XDR_CLIENT_SECRET (XDR_REGION us, eu or apjc); passwords are left out
  unless SYNC_PASSWORD_DISPLAY says otherwise.

  --every <time>     Run again, each run starting when the previous one ended
                     plus this wait (s, m or h: 15m), until SIGTERM or Ctrl-C.
  --dry-run          Print what would be imported (counts and titles); call
                     nothing in XDR (XDR credentials not needed).
  --since <date>     Read from this UTC day (YYYY-MM-DD) instead: a backfill
                     (one run: not with --every).
  -h, --help         Show this help.

  One JSON log line per run on stdout. Exit code 0: everything imported or
  already there; 1: some entities failed, or XDR or SpyCloud failed; 2: bad
  configuration or command line.
`;

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000 };

export interface SyncCommandOptions {
  args: string[];
  env: Env;
  stdout: { write: (text: string) => unknown };
  stderr: { write: (text: string) => unknown };
  /** With --every: resolves when the command should stop; by default on SIGINT or SIGTERM. */
  stopped?: Promise<unknown>;
  deps?: SyncDeps;
}

function intervalMs(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^(\d+)([smh])$/.exec(raw.trim());
  const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (!Number.isSafeInteger(ms) || ms < 1_000) throw new UsageError(`--every must be a number and a unit, s, m or h (e.g. 15m), got "${raw}"`);
  return ms;
}

function sinceDay(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const day = raw.trim();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) {
    throw new UsageError(`--since must be a UTC date, YYYY-MM-DD, got "${raw}"`);
  }
  return day;
}

function preview(report: SyncReport, titles: readonly string[]): string {
  const planned = ENTITY_TYPES.map((type) => `${report.entities[type].planned} ${type}${report.entities[type].planned === 1 ? '' : 's'}`).join(', ');
  return [
    `Dry run: nothing was sent to XDR. Since ${report.since}: ${report.records.read} records read on ${report.pages} page${report.pages === 1 ? '' : 's'}, ${report.records.kept} kept.`,
    `Would import ${planned}.`,
    ...titles.map((title) => `  ${title}`),
    '',
  ].join('\n');
}

function untilSignal(): { stopped: Promise<unknown>; release: () => void } {
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = () => resolve();
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { stopped, release: () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  } };
}

/** The whole command; returns its exit code. */
export async function runSyncCommand(options: SyncCommandOptions): Promise<number> {
  const { values } = parseArgs({
    args: options.args,
    options: { every: { type: 'string' }, 'dry-run': { type: 'boolean' }, since: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    options.stdout.write(SYNC_HELP);
    return 0;
  }
  const every = intervalMs(values.every);
  const since = sinceDay(values.since);
  // Every run of --every would read the whole backfill again.
  if (every !== undefined && since !== undefined) {
    throw new UsageError('--since and --every do not go together: each run would read the whole backfill again; run the backfill once with --since, then --every alone');
  }
  const dryRun = values['dry-run'] === true;
  let config: SyncConfig;
  try {
    config = loadSyncConfig(options.env, { xdrRequired: !dryRun });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    options.stderr.write(`spycloud-relay sync: ${error.message}\n`);
    return 2;
  }
  const logger = createLogger(config.relay.logLevel, { write: (line: string) => options.stdout.write(line) });
  const signals = every !== undefined && options.stopped === undefined ? untilSignal() : undefined;
  const stop = new AbortController();
  void (options.stopped ?? signals?.stopped)?.then(() => stop.abort());
  let code: number;
  try {
    for (;;) {
      const titles = new Map<string, string>();
      const report = await runSync(config, {
        ...options.deps,
        dryRun,
        since,
        signal: stop.signal,
        onIncidents: (incidents) => {
          // An incident whose records span pages comes once per page: list it once.
          if (dryRun) for (const i of incidents) titles.set(i.external_ids[0] as string, `${i.title} [${i.severity}]`);
          options.deps?.onIncidents?.(incidents);
        },
      });
      const ok = succeeded(report);
      if (ok) logger.info(reportLogFields(report), 'sync run');
      else logger.error(reportLogFields(report), 'sync run');
      if (dryRun) options.stdout.write(preview(report, [...titles.values()]));
      for (const line of reportProblems(report)) options.stderr.write(`spycloud-relay sync: ${line}\n`);
      code = ok ? 0 : 1;
      if (every === undefined || stop.signal.aborted) break;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          stop.signal.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, every);
        stop.signal.addEventListener('abort', wake);
      });
      if (stop.signal.aborted) break;
    }
  } finally {
    signals?.release();
  }
  return code;
}

/** The `sync` command of the command line. */
export async function syncCommand(args: string[], env: Env): Promise<CliResult> {
  const code = await runSyncCommand({ args, env, stdout: process.stdout, stderr: process.stderr });
  return { code, stdout: '', stderr: '' };
}
