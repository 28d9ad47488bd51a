#!/usr/bin/env node
// `spycloud-relay`, the package's command line. `token` mints the module token of
// self-hosted mode (RELAY.md §3): HS256, signed with the relay's SECRET_KEY.
// `lookup` and `doctor` live in src/cli/, built on the relay's own parts.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError } from './config.js';
import { doctor } from './cli/doctor.js';
import { lookup } from './cli/lookup.js';
import type { Terminal } from './cli/progress.js';
import { EXIT, UsageError } from './cli/usage.js';
import { MAX_ENTITIES_LIMIT } from './auth/tenant.js';
import { PASSWORD_DISPLAYS, passwordDisplayOf, type PasswordDisplay } from './password-display.js';
import { packageVersion } from './relay.js';
import { demoCommand } from './cli/demo.js';
import { syncCommand } from './cli/sync.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

type Env = Record<string, string | undefined>;

const MIN_SECRET_LENGTH = 32;
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400 };

const EXIT_CODES_HELP = `Exit codes, the same for every command (docs/operations.md#exit-codes):
  0  found / ok
  1  nothing found, or a check failed
  2  a mistake on the command line, a malformed value, or a configuration error
`;

export const TOKEN_HELP = `Usage: spycloud-relay token --key <SpyCloud API key> [--limit N]
                     [--password-display MODE] [--expires 90d] [--secret S]

  Prints a module token for self-hosted mode, to paste into XDR.

  --key <key>        Required. The SpyCloud Employee ATO Prevention API key the
                     relay uses for this XDR module (the token's "key" claim).
  --limit <N>        Optional. The most breach records (sightings) shown per
                     email, domain, IP or username, a whole number from 1 to
                     ${MAX_ENTITIES_LIMIT} (more is lowered to ${MAX_ENTITIES_LIMIT}, with a notice, as the
                     relay would). Wins over the relay's CTR_ENTITIES_LIMIT
                     (the token's CTR_ENTITIES_LIMIT claim).
  --password-display <MODE>
                     Optional. How breach records' passwords are shown:
                     plaintext (as SpyCloud gives them), masked (first and
                     last character only) or hidden (left out). Wins over the
                     relay's PASSWORD_DISPLAY, whose default is masked (the
                     token's PASSWORD_DISPLAY claim).
  --expires <time>   Optional. How long the token is valid: a number and a unit,
                     s, m, h or d (3600s, 30m, 12h, 90d). Without it the token
                     never expires; mint a new one to rotate.
  --secret <secret>  The relay's SECRET_KEY, at least ${MIN_SECRET_LENGTH} characters. Defaults
                     to the SECRET_KEY environment variable, which is safer: a
                     command line shows up in shell history and process lists.
  -h, --help         Show this help.

  The token (HS256) is printed alone on stdout; notices and errors go to stderr.

Example:
  export SECRET_KEY='<the relay SECRET_KEY>'
  npx spycloud-relay token --key '<SpyCloud API key>' --expires 365d
`;

export const HELP = `Usage: spycloud-relay <command> [options]

Commands:
  token    Print a module token for self-hosted mode, to paste into XDR.
  demo     Run the relay against a built-in SpyCloud sandbox and show its answers.
  lookup   Look emails, domains, IPs or usernames up in SpyCloud, as the relay would.
  doctor   Check the configuration and every service the relay depends on.
  sync     Import new SpyCloud watchlist exposures into XDR as incidents.

Run "spycloud-relay <command> --help" for a command's options.

  -h, --help         Show this help.
  --version          Print the version.

${EXIT_CODES_HELP}`;

const usage = (message: string, command?: string): CliResult => ({
  code: EXIT.usage,
  stdout: '',
  stderr: `spycloud-relay: ${message}\nRun "spycloud-relay ${command === undefined ? '' : `${command} `}--help" for usage.\n`,
});

function entitiesLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`--limit must be a whole number of 1 or more, got "${raw}"`);
  return value;
}

function passwordDisplay(raw: string | undefined): PasswordDisplay | undefined {
  if (raw === undefined) return undefined;
  const mode = passwordDisplayOf(raw);
  if (mode === undefined) throw new UsageError(`--password-display must be ${PASSWORD_DISPLAYS.slice(0, -1).join(', ')} or ${PASSWORD_DISPLAYS.at(-1)}, got "${raw}"`);
  return mode;
}

function lifetimeSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const match = /^(\d+)([smhd])$/.exec(raw.trim());
  const seconds = match === null ? Number.NaN : Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw new UsageError(`--expires must be a number and a unit, s, m, h or d (e.g. 90d), got "${raw}"`);
  }
  return seconds;
}

async function token(args: string[], env: Env, nowMs: number): Promise<CliResult> {
  const { values } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      limit: { type: 'string' },
      'password-display': { type: 'string' },
      expires: { type: 'string' },
      secret: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) return { code: EXIT.ok, stdout: TOKEN_HELP, stderr: '' };
  const key = values.key?.trim() ?? '';
  if (key === '') throw new UsageError('--key is required: the SpyCloud API key this XDR module uses');
  // The relay refuses keys that cannot travel in an HTTP header (RELAY.md §3 step 9).
  if (!/^[\x21-\x7e]+$/.test(key)) throw new UsageError('--key must be printable ASCII without spaces');
  const asked = entitiesLimit(values.limit);
  // The relay would lower a larger claim anyway: the token says what it will get.
  const limit = asked === undefined ? undefined : Math.min(asked, MAX_ENTITIES_LIMIT);
  const lowered = asked !== undefined && asked > MAX_ENTITIES_LIMIT
    ? `Note: --limit ${asked} is more than the relay shows per value; the token says ${MAX_ENTITIES_LIMIT}.\n` : '';
  const display = passwordDisplay(values['password-display']);
  const lifetime = lifetimeSeconds(values.expires);
  const secret = values.secret ?? env.SECRET_KEY ?? '';
  if (secret === '') throw new UsageError('no secret: set SECRET_KEY to the relay\'s SECRET_KEY, or pass --secret');
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`the secret must be at least ${MIN_SECRET_LENGTH} characters long, as the relay's SECRET_KEY must be`);
  }

  const issuedAt = Math.floor(nowMs / 1000);
  const jwt = new SignJWT({
    key,
    ...(limit === undefined ? {} : { CTR_ENTITIES_LIMIT: limit }),
    ...(display === undefined ? {} : { PASSWORD_DISPLAY: display }),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(issuedAt);
  if (lifetime !== undefined) jwt.setExpirationTime(issuedAt + lifetime);
  const signed = await jwt.sign(new TextEncoder().encode(secret));
  const expiry = lifetime === undefined ? '' : `Token expires at ${new Date((issuedAt + lifetime) * 1000).toISOString()}.\n`;
  return { code: EXIT.ok, stdout: `${signed}\n`, stderr: lowered + expiry };
}

type Command = (args: string[], env: Env, nowMs: number, terminal: Terminal) => Promise<CliResult>;

const COMMANDS: Readonly<Record<string, Command>> = { token, demo: demoCommand, lookup, doctor, sync: syncCommand };

/**
 * The whole command line, in-process: argv without `node` and the script.
 * `terminal` takes live progress (process.stderr when run from a shell).
 */
export async function runCli(argv: readonly string[], env: Env, nowMs = Date.now(), terminal: Terminal = { write: () => undefined }): Promise<CliResult> {
  const [command, ...args] = argv;
  if (command === undefined) return { code: EXIT.usage, stdout: '', stderr: HELP };
  if (command === '--help' || command === '-h' || command === 'help') return { code: EXIT.ok, stdout: HELP, stderr: '' };
  if (command === '--version') return { code: EXIT.ok, stdout: `spycloud-relay ${packageVersion()}\n`, stderr: '' };
  const run = COMMANDS[command];
  if (run === undefined) return usage(`unknown command "${command}"`);
  try {
    return await run(args, env, nowMs, terminal);
  } catch (error) {
    // parseArgs reports unknown flags and missing values as TypeErrors with an ERR_PARSE_ARGS_* code.
    if (error instanceof UsageError || (error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS'))) {
      return usage(error.message, command);
    }
    // A command reads the relay's configuration: a bad variable is the operator's to fix, as at the relay's start.
    if (error instanceof ConfigError) return { code: EXIT.usage, stdout: '', stderr: `spycloud-relay: ${error.message}\n` };
    throw error;
  }
}

/**
 * A reader that stops early (`demo | head -3`) closes the pipe: the rest of the
 * output has nowhere to go, so the command ends quietly instead of with EPIPE.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? EXIT.ok);
  });
}

async function main(): Promise<void> {
  endQuietlyOnClosedPipe(process.stdout);
  endQuietlyOnClosedPipe(process.stderr);
  const result = await runCli(process.argv.slice(2), process.env, Date.now(), process.stderr);
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.code;
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) void main();
