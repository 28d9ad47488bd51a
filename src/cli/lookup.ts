// `spycloud-relay lookup <value>...`: asks SpyCloud directly, no XDR and no token,
// with the relay's own Config, client, limits, enrichment and CTIM mapping, and
// shows what an analyst would see in XDR.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { requestScope } from '../app.js';
import { tenantFromClaims } from '../auth/tenant.js';
import type { CliResult } from '../cli.js';
import { loadConfig } from '../config.js';
import { enrich, type EnrichDeps } from '../enrich.js';
import { envelope, RelayError, toRelayError } from '../errors.js';
import { SUPPORTED_TYPES, supportedObservables, wellFormed, type ObservableType, type SupportedObservable } from '../observe.js';
import { PASSWORD_DISPLAYS, passwordDisplayOf } from '../password-display.js';
import { createSpyCloud, egressDispatcher } from '../relay.js';
import { Progress, type Terminal } from './progress.js';
import { ownText, summary, type LookupOutcome } from './summary.js';
import { EXIT, UsageError } from './usage.js';

type Env = Record<string, string | undefined>;

export const LOOKUP_HELP = `Usage: spycloud-relay lookup <value>... [--type TYPE] [--json] [--key K]
                      [--password-display MODE]

  Looks each value up in SpyCloud directly (no XDR, no token) with the relay's
  configuration (the same environment variables: SPYCLOUD_API_URL,
  CTR_ENTITIES_LIMIT, MAX_SIGHTINGS_PER_ANSWER, SPYCLOUD_MAX_PAGES, retries,
  REQUEST_BUDGET_MS, HTTPS_PROXY, ...) and prints what XDR would show.
  A value's type is guessed: email when it has an @, ip or ipv6 when it is an
  IP address, domain when it is a host name, else user (a username).

  --key <key>        The SpyCloud Employee ATO Prevention API key. Defaults to
                     the SPYCLOUD_API_KEY environment variable, which is safer.
  --type <TYPE>      Look every value up as this type: ${[...SUPPORTED_TYPES].join(', ')}.
  --json             Print the relay's answer ({"data": ..., "errors": [...]})
                     instead of the summary.
  --password-display <MODE>
                     plaintext, masked or hidden; defaults to PASSWORD_DISPLAY
                     (itself masked by default).
  -h, --help         Show this help.

  Exit code 0: something found; 1: nothing found, or an error stopped the
  lookup (SpyCloud refused the key, did not answer; the output says which);
  2: a mistake on the command line (a malformed value included) or a
  configuration error. See "spycloud-relay --help".
`;

/** The type of a bare value: email if it has an @, else the first of ip, ipv6, domain it is a well-formed one of. */
export function guessType(value: string): ObservableType {
  if (value.includes('@')) return 'email';
  const types = ['ip', 'ipv6', 'domain'] as const;
  return types.find((type) => wellFormed([{ type, value }]).lookups.length > 0) ?? 'user';
}

function forcedType(raw: string | undefined): ObservableType | undefined {
  if (raw === undefined) return undefined;
  const type = raw.trim().toLowerCase();
  if (!SUPPORTED_TYPES.has(type)) throw new UsageError(`--type must be one of ${[...SUPPORTED_TYPES].join(', ')}, got "${raw}"`);
  return type as ObservableType;
}

const failed = (message: string): CliResult => ({ code: EXIT.usage, stdout: '', stderr: `spycloud-relay: ${message}\n` });

/** A value the relay would set aside as malformed is a mistake on the command line: nothing is looked up. */
function refuseMalformed(observables: readonly SupportedObservable[]): void {
  const [malformed] = observables.filter((observable) => wellFormed([observable]).lookups.length === 0);
  if (malformed === undefined) return;
  const shown = malformed.value.length > 100 ? `${malformed.value.slice(0, 99)}…` : malformed.value;
  throw new UsageError(`"${shown}" is not a valid ${malformed.type}; nothing was looked up (--type sets the type)`);
}

export async function lookup(args: string[], env: Env, _nowMs: number, terminal: Terminal = { write: () => undefined }): Promise<CliResult> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      key: { type: 'string' },
      type: { type: 'string' },
      json: { type: 'boolean' },
      'password-display': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help === true) return { code: EXIT.ok, stdout: LOOKUP_HELP, stderr: '' };
  if (positionals.length === 0) throw new UsageError('lookup needs at least one value: an email, a domain, an IP address or a username');
  const type = forcedType(values.type);
  const display = values['password-display'];
  if (display !== undefined && passwordDisplayOf(display) === undefined) {
    throw new UsageError(`--password-display must be ${PASSWORD_DISPLAYS.slice(0, -1).join(', ')} or ${PASSWORD_DISPLAYS.at(-1)}, got "${display}"`);
  }
  const observables = supportedObservables(positionals.map((value) => ({ type: type ?? guessType(value), value })));
  refuseMalformed(observables);
  const key = values.key ?? env.SPYCLOUD_API_KEY ?? '';
  if (key.trim() === '') throw new UsageError('no SpyCloud API key: set SPYCLOUD_API_KEY, or pass --key');

  const config = loadConfig(env);
  let tenant;
  try {
    // The relay's own reading of a key and its settings, as if a token carried them.
    tenant = tenantFromClaims({ key, PASSWORD_DISPLAY: display }, config.entitiesLimit, Date.now(), config.passwordDisplay);
  } catch (error) {
    if (error instanceof RelayError) return failed(error.message);
    throw error;
  }

  const progress = new Progress(terminal, observables.length);
  const dispatcher = egressDispatcher(config).compose(progress.interceptor);
  const spycloud = createSpyCloud(config, dispatcher);
  // What SpyCloud answered for each value, for the summary; the relay's answer itself is untouched.
  const outcomes = new Map<SupportedObservable, LookupOutcome>();
  const watched: EnrichDeps['spycloud'] = {
    lookupsAllowed: (apiKey) => spycloud.lookupsAllowed(apiKey),
    catalogs: (ids, caller) => spycloud.catalogs(ids, caller),
    breachRecords: async (observable, caller) => {
      try {
        const records = await spycloud.breachRecords(observable, caller);
        outcomes.set(observable, { records: records.length });
        return records;
      } catch (error) {
        outcomes.set(observable, { error: toRelayError(error).toDoc() });
        throw error;
      } finally {
        progress.valueDone();
      }
    },
  };
  let result;
  try {
    result = await enrich(observables, tenant, requestScope(Date.now(), config.requestBudgetMs), {
      spycloud: watched,
      newId: randomUUID,
      now: Date.now,
      maxSightings: config.maxSightingsPerAnswer,
    });
  } finally {
    progress.clear();
    await dispatcher.close();
  }

  const answer = envelope(result.data, result.errors);
  const fatal = result.errors.find((error) => error.type === 'fatal');
  const found = (answer.data as { sightings?: unknown } | undefined)?.sightings !== undefined;
  // A lookup an error stopped is a failed check (1), as in doctor and sync, even after some
  // values were found; 2 is for mistakes on the command line and configuration.
  const code = found && fatal === undefined ? EXIT.ok : EXIT.notFound;
  // The error is told once: in the summary, by the value it stopped at; beside --json's answer, on stderr.
  if (values.json !== true) return { code, stdout: summary({ observables, outcomes, answer }), stderr: '' };
  return { code, stdout: `${JSON.stringify(answer, null, 2)}\n`, stderr: fatal === undefined ? '' : `spycloud-relay: ${ownText(fatal)}\n` };
}
