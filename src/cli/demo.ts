// `spycloud-relay demo`: the whole relay in one process against the built-in
// SpyCloud sandbox — no XDR, no SpyCloud key. It starts both, mints a token,
// enriches a sample of every supported type, reads every dashboard tile, prints
// a summary and writes the full answers to a file; `--serve` keeps both running
// and prints curl commands instead.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { runCli, type CliResult } from '../cli.js';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { acmeDataset, SANDBOX_API_KEY, SANDBOX_DOMAIN, type AcmeDataset, type SandboxSample } from '../sandbox/dataset.js';
import { startSpyCloudSandbox } from '../sandbox/spycloud.js';
import type { StandIn } from '../sandbox/stand-in.js';
import { startServer, type RunningServer } from '../server.js';
import { describeObservable, describeSighting, describeTile, failed, type Answer } from './demo-summary.js';
import { demoSync } from './demo-sync.js';
import { EXIT } from './usage.js';

type Env = Record<string, string | undefined>;

/** One name, overwritten by each run: demos leave no trail of folders behind. */
const ANSWERS_FILE = 'spycloud-relay-demo.json';

/**
 * Written beside the target under a name of its own, then renamed over it: a
 * reader never sees half a file, and a link planted at the shared name in the
 * temp folder is replaced, never followed.
 */
async function writeAnswers(file: string, answers: unknown): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  try {
    await writeFile(partial, `${JSON.stringify(answers, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}

export const DEMO_HELP = `Usage: spycloud-relay demo [--serve]

Runs the relay (self-hosted mode, a secret made up for this run) against a
built-in SpyCloud sandbox serving a synthetic company, ${SANDBOX_DOMAIN}, on
127.0.0.1. It mints a token, enriches a sample of every observable type, shows one
sighting as an analyst sees it in XDR, reads every dashboard tile, prints a
summary, writes the full answers to ${ANSWERS_FILE} in the OS temp folder
(overwritten by the next run), and exits. The relay listens on $PORT when
set (not 0), else on a free port.

  --serve      Keep the relay and the sandbox running and print curl commands
               to try them, until Ctrl-C (SIGINT) or SIGTERM.
  -h, --help   Show this help.
`;

export interface DemoOptions {
  stdout: Writable;
  stderr: Writable;
  /** Read for PORT only: the demo's relay gets its own configuration. */
  env?: Env;
  serve?: boolean;
  /** Folder of the answers file; by default the OS temp folder. */
  dir?: string;
  /** With `serve`: resolves when the demo should stop; by default on SIGINT or SIGTERM. */
  stopped?: Promise<unknown>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** One running demo: sandbox, relay, token, and a client for the relay. */
interface Stage {
  sandbox: StandIn;
  relay: RunningServer;
  token: string;
  post: (path: string, body?: unknown) => Promise<Answer>;
  close: () => Promise<void>;
}

async function setUp(dataset: AcmeDataset, env: Env, stderr: Writable, serve: boolean, now: number): Promise<Stage> {
  const sandbox = await startSpyCloudSandbox({ dataset, apiKeys: [SANDBOX_API_KEY] });
  const secret = randomBytes(32).toString('base64url');
  const port = env.PORT === undefined || env.PORT.trim() === '' ? '0' : env.PORT;
  let relay: RunningServer;
  try {
    // Only what the demo needs: the caller's proxy or SpyCloud settings must not leak in.
    const config = loadConfig({ PORT: port, HOST: '127.0.0.1', METRICS_ENABLED: 'false', SECRET_KEY: secret, SPYCLOUD_API_URL: sandbox.url, LOG_LEVEL: serve ? 'info' : 'warn' });
    relay = await startServer(config, { logger: createLogger(config.logLevel, stderr) });
  } catch (error) {
    await sandbox.close();
    throw error;
  }
  // The token command itself, as an operator would mint one.
  const minted = await runCli(['token', '--key', SANDBOX_API_KEY], { SECRET_KEY: secret }, now);
  const token = minted.stdout.trim();
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const post = async (path: string, body?: unknown): Promise<Answer> => {
    const response = await request(`${relay.url}${path}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const raw = await response.body.text();
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // Kept as text: the summary shows the status, the file the body.
    }
    return { status: response.statusCode, body: parsed };
  };
  return {
    sandbox,
    relay,
    token,
    post,
    close: async () => {
      await agent.close();
      await relay.close();
      await sandbox.close();
    },
  };
}

const observablesOf = (samples: readonly SandboxSample[]) => samples.map(({ type, value }) => ({ type, value }));

function banner(stage: Stage, dataset: AcmeDataset): string {
  return [
    'SpyCloud relay demo',
    `  SpyCloud sandbox  ${stage.sandbox.url}  (Acme Corp, ${SANDBOX_DOMAIN}, synthetic: ${dataset.records.length} breach records, ${dataset.catalogs.length} catalogs)`,
    `  relay             ${stage.relay.url}  (self-hosted mode, secret made up for this run)`,
    '',
  ].join('\n');
}

/** `--serve`: both stay up; the curl lines work as pasted, in a POSIX shell. */
async function serveUntilStopped(stage: Stage, dataset: AcmeDataset, out: Writable, stopped: Promise<unknown>): Promise<number> {
  const { samples } = dataset;
  const url = stage.relay.url;
  const auth = '-H "Authorization: Bearer $TOKEN"';
  const body = (value: unknown) => `-H 'Content-Type: application/json' -d '${JSON.stringify(value)}'`;
  out.write(`${banner(stage, dataset)}
Paste into a shell:

TOKEN='${stage.token}'
curl -s -X POST ${url}/health ${auth}
curl -s -X POST ${url}/observe/observables ${auth} ${body(observablesOf(samples))}
curl -s -X POST ${url}/tiles ${auth}
curl -s -X POST ${url}/tiles/tile-data ${auth} ${body({ tile_id: 'spycloud-exposure', period: 'last_7_days' })}

The sandbox answers SpyCloud's own calls too:
curl -s -H 'X-API-Key: ${SANDBOX_API_KEY}' ${stage.sandbox.url}/breach/data/emails/${encodeURIComponent(samples[0]?.value ?? '')}

And the lookup command asks it as the relay would, from another shell:
SPYCLOUD_API_URL=${stage.sandbox.url} SPYCLOUD_API_KEY=${SANDBOX_API_KEY} npx spycloud-relay lookup ${samples[0]?.value ?? ''}

Running until Ctrl-C.
`);
  await stopped;
  await stage.close();
  out.write('Stopped.\n');
  return EXIT.ok;
}

/** The whole demo; returns the exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.stdout;
  const now = Date.now();
  const dataset = acmeDataset({ now });
  let stage: Stage;
  try {
    stage = await setUp(dataset, options.env ?? {}, options.stderr, options.serve === true, now);
  } catch (error) {
    const reason = error instanceof ConfigError ? error.message : `the relay could not start: ${(error as Error).message}`;
    options.stderr.write(`spycloud-relay demo: ${reason}\n`);
    // Only $PORT comes from outside: a bad or busy one is the caller's configuration.
    const portProblem = error instanceof ConfigError || ['EADDRINUSE', 'EACCES'].includes(String((error as { code?: unknown }).code));
    return portProblem ? EXIT.usage : EXIT.notFound;
  }
  if (options.serve === true) return serveUntilStopped(stage, dataset, out, options.stopped ?? untilSignal());

  let code: number = EXIT.ok;
  try {
    out.write(banner(stage, dataset));
    const health = await stage.post('/health');
    out.write(`  health            ${failed(health) ? JSON.stringify(health.body) : 'ok'}\n\n`);
    const observables = [];
    for (const sample of dataset.samples) {
      const answer = await stage.post('/observe/observables', [{ type: sample.type, value: sample.value }]);
      observables.push({ observable: { type: sample.type, value: sample.value }, ...answer });
      out.write(`${describeObservable(`${sample.type} ${sample.value} — ${sample.note}`, answer).join('\n')}\n\n`);
      if (failed(answer)) code = EXIT.notFound;
      // The first answer's sighting, in full, right away: the counts above are made of these.
      if (observables.length === 1) {
        const sighting = describeSighting(answer);
        if (sighting.length > 0) out.write(`One of these sightings, as an analyst sees it in XDR (passwords masked, the default):\n${sighting.join('\n')}\n\n`);
      }
    }

    const offered = await stage.post('/tiles');
    const tileData: Record<string, Answer> = {};
    const tiles = Array.isArray((offered.body as { data?: unknown }).data) ? (offered.body as { data: unknown[] }).data : [];
    out.write(`Dashboard tiles (${tiles.length}, each for its default period)\n`);
    if (failed(offered)) code = 1;
    for (const tile of tiles) {
      const { id, default_period: period } = tile as { id?: unknown; default_period?: unknown };
      const answer = await stage.post('/tiles/tile-data', { tile_id: id, period });
      tileData[String(id)] = answer;
      out.write(`${describeTile(tile, answer).join('\n')}\n\n`);
      if (failed(answer)) code = EXIT.notFound;
    }

    // New exposures into XDR incidents: a block of its own (src/cli/demo-sync.ts).
    if (await demoSync(stage.sandbox.url, out, { now }) !== 0) code = EXIT.notFound;

    const file = join(options.dir ?? tmpdir(), ANSWERS_FILE);
    const answers = { relay: stage.relay.url, sandbox: stage.sandbox.url, dataset_now: new Date(now).toISOString(), health, observables, tiles: { list: offered, data: tileData } };
    try {
      await writeAnswers(file, answers);
      out.write(`Full answers (every sighting, indicator and tile, as XDR gets them): ${file}\n`);
    } catch (error) {
      // The temp folder is the caller's (TMPDIR): say which file and why, as for $PORT.
      options.stderr.write(`spycloud-relay demo: the answers file ${file} could not be written: ${(error as Error).message}\n`);
      code = EXIT.usage;
    }
    out.write('Next: "npm run demo -- --serve" keeps the relay and the sandbox up, with curl and lookup lines to try;\n'
      + '"npx spycloud-relay lookup --help" looks values up in your own SpyCloud data.\n');
    if (code !== 0) out.write('Some answers were errors (see above): the relay is not working as it should.\n');
  } finally {
    await stage.close();
  }
  return code;
}

/** The `demo` command of the command line. */
export async function demoCommand(args: string[], env: Env): Promise<CliResult> {
  const { values } = parseArgs({ args, options: { serve: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  if (values.help === true) return { code: EXIT.ok, stdout: DEMO_HELP, stderr: '' };
  const code = await runDemo({ stdout: process.stdout, stderr: process.stderr, env, serve: values.serve === true });
  return { code, stdout: '', stderr: '' };
}
