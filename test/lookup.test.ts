// `spycloud-relay lookup`: SpyCloud directly, no XDR, no token, with the relay's
// Config, client, limits and mapping. Run in-process against a SpyCloud stand-in on
// loopback; its --json answer is compared with a relay's on the same stand-in.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HELP, runCli } from '../src/cli.js';
import { LOOKUP_HELP } from '../src/cli/lookup.js';
import { fixture } from './support/fixtures.js';
import { startRelay, type TestRelay } from './support/relay.js';
import { EXAMPLE_EMAIL, startExampleSpyCloud } from './support/spycloud.js';
import { json, startStandIn, type StandIn } from './support/stand-in.js';
import { hs256 } from './support/tokens.js';
import { API_KEY } from './support/xdr.js';

const SECRET = 'lookup-test-secret-0123456789-abcdefgh';
const RECORDS_PATH = `/breach/data/emails/${encodeURIComponent(EXAMPLE_EMAIL)}`;

/** A terminal that keeps what it was given. */
const terminal = (isTTY: boolean) => {
  const writes: string[] = [];
  return { isTTY, writes, write: (text: string) => writes.push(text) };
};

let spycloud: StandIn;
beforeAll(async () => {
  spycloud = await startExampleSpyCloud({
    // Everything else SpyCloud is asked about has no breach records: the sandbox answers so by itself.
    '/breach/data/domains/gmail.com': json({ message: 'Query too broad' }, 422),
    '/breach/data/emails/broken%40example.com': json({ message: 'boom' }, 500),
  });
});
afterAll(() => spycloud.close());
afterEach(() => {
  spycloud.seen.length = 0;
});

/** Runs the command with SpyCloud at the stand-in; the key must never show in anything it prints. */
async function lookup(args: string[], env: Record<string, string> = {}, tty = terminal(false)) {
  const result = await runCli(['lookup', ...args], { SPYCLOUD_API_URL: spycloud.url, SPYCLOUD_API_KEY: API_KEY, ...env }, Date.now(), tty);
  for (const text of [result.stdout, result.stderr, ...tty.writes]) expect(text).not.toContain(API_KEY);
  return result;
}

const recordPaths = (standIn: StandIn = spycloud) => standIn.seen.filter((s) => s.path.startsWith('/breach/data/')).map((s) => s.path);

describe('found', () => {
  it('summarises the sightings of the worked example: severities, breaches, newest exposure, passwords, warnings; exit 0', async () => {
    const result = await lookup([EXAMPLE_EMAIL]);
    const lumma = fixture('spycloud-breach-catalog-31337.json').results[0].title;
    const forum = fixture('spycloud-breach-catalog-4242.json').results[0].title;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      `${EXAMPLE_EMAIL} (email): 4 sightings`,
      // Record severities 20 and 25 are High, 5 Medium, 2 Low (RELAY.md §6).
      '  by severity: 2 High, 1 Medium, 1 Low',
      // In order of the newest record: 31337 (2023-11-02), 4242 (2022-06-15 and 2021-03-01), 777 (2021-12-01, a catalog SpyCloud lacks).
      `  breaches: ${lumma} (1), ${forum} (2), without catalog (1)`,
      `  newest exposure: 2023-11-02 (${lumma})`,
      // password_plaintext values, masked by default: Winter2023! and acme1234.
      '  passwords: W*********!, a******4',
      '  warning: SpyCloud did not return results for 777',
      '',
    ]);
    expect(result.stdout).not.toContain('Winter2023!');
    // The relay's client: the key in X-API-Key, the email as one path segment, catalogs in one call.
    const records = spycloud.seen.find((s) => s.path === RECORDS_PATH);
    expect(records?.headers['x-api-key']).toBe(API_KEY);
    expect(records?.headers['user-agent']).toMatch(/^spycloud-xdr-relay\/\d+\.\d+\.\d+$/);
    expect(spycloud.seen.filter((s) => s.path.startsWith('/breach/catalog/')).map((s) => s.path)).toEqual(['/breach/catalog/31337,4242,777']);
  });

  it('--key wins over SPYCLOUD_API_KEY', async () => {
    const other = 'sc-other-key-1234';
    const result = await runCli(['lookup', '--key', other, EXAMPLE_EMAIL], { SPYCLOUD_API_URL: spycloud.url, SPYCLOUD_API_KEY: API_KEY });
    expect(result.code).toBe(0);
    expect(spycloud.seen.find((s) => s.path === RECORDS_PATH)?.headers['x-api-key']).toBe(other);
    expect(result.stdout + result.stderr).not.toContain(other);
  });

  it('keeps the newest CTR_ENTITIES_LIMIT records and says how many SpyCloud holds', async () => {
    const result = await lookup([EXAMPLE_EMAIL], { CTR_ENTITIES_LIMIT: '2' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${EXAMPLE_EMAIL} (email): 2 sightings (the newest 2 of 4 breach records)\n`);
    // The two newest: 31337 (severity 25) and 4242 of 2022 (severity 20).
    expect(result.stdout).toContain('  by severity: 2 High\n');
    expect(result.stdout).not.toContain('SpyCloud did not return results for 777');
  });

  it('stops at MAX_SIGHTINGS_PER_ANSWER with the relay\'s warning', async () => {
    const result = await lookup([EXAMPLE_EMAIL, 'nobody@example.com'], { MAX_SIGHTINGS_PER_ANSWER: '3' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${EXAMPLE_EMAIL} (email): 3 sightings (the newest 3 of 4 breach records)\n`);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('warning: The answer holds the first 3 sightings; narrow the investigation for the rest.');
  });

  it('follows cursors up to SPYCLOUD_MAX_PAGES, as the relay does', async () => {
    const paged = await startStandIn({
      '/breach/data/usernames/jdoe77': (req, res, seen) => {
        const page = Number(new URL(seen.url, 'http://x').searchParams.get('cursor') ?? '0');
        json({ cursor: `${page + 1}`, hits: 1, results: [{ document_id: `doc-${page}`, severity: 2, spycloud_publish_date: `2020-01-0${page + 1}T00:00:00Z` }] })(req, res, seen);
      },
    });
    try {
      const result = await runCli(['lookup', 'jdoe77'], { SPYCLOUD_API_URL: paged.url, SPYCLOUD_API_KEY: API_KEY, SPYCLOUD_MAX_PAGES: '3' });
      expect(recordPaths(paged)).toEqual(Array(3).fill('/breach/data/usernames/jdoe77'));
      expect(result.stdout).toContain('jdoe77 (user): 3 sightings\n');
      expect(result.stdout).toContain('  newest exposure: 2020-01-03 (without catalog)\n');
    } finally {
      await paged.close();
    }
  });
});

describe('nothing found, and values the relay would not send', () => {
  it('exit 1 when SpyCloud has no record of any value', async () => {
    const result = await lookup(['nobody@example.com', 'nobody.example']);
    expect(result).toEqual({ code: 1, stdout: 'nobody@example.com (email): nothing found\nnobody.example (domain): nothing found\n', stderr: '' });
  });

  it('a malformed value is a mistake on the command line: exit 2, the value named, nothing asked', async () => {
    for (const args of [['not-an-email@'], ['@acme-corp.example', EXAMPLE_EMAIL], ['--type', 'ip', 'acme-corp.example']]) {
      const result = await lookup(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^spycloud-relay: "(not-an-email@|@acme-corp\.example|acme-corp\.example)" is not a valid (email|ip); nothing was looked up \(--type sets the type\)\nRun "spycloud-relay lookup --help" for usage\.\n$/);
    }
    expect(recordPaths()).toEqual([]);
  });

  it('a query SpyCloud finds too broad is a warning on that value only', async () => {
    const result = await lookup(['gmail.com', EXAMPLE_EMAIL]);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('gmail.com (domain): not answered\n'
      + '  warning: SpyCloud cannot answer a query this broad. Narrow it, for example to a full email address.\n'
      + `${EXAMPLE_EMAIL} (email): 4 sightings\n`)).toBe(true);
  });
});

describe('errors, in the relay\'s own words, told once: exit 1 when one stops the lookup (a failed check, as in doctor and sync), 2 for the configuration', () => {
  /** How often a text shows in all the command printed. */
  const times = (result: { stdout: string; stderr: string }, text: string) => (result.stdout + result.stderr).split(text).length - 1;

  it('a refused key: the relay\'s own words, never SpyCloud\'s text; printed once', async () => {
    const refusing = await startStandIn({ '/breach/data/*': json({ message: 'Invalid API key \u001b[31mcall +1-555-0100' }, 401) });
    try {
      const result = await runCli(['lookup', EXAMPLE_EMAIL], { SPYCLOUD_API_URL: refusing.url, SPYCLOUD_API_KEY: API_KEY });
      expect(result).toEqual({
        code: 1,
        stdout: `${EXAMPLE_EMAIL} (email): failed\n  error: Authorization failed: SpyCloud refused the API key; check SPYCLOUD_API_KEY or --key.\n`,
        stderr: '',
      });
      // --json is the relay's answer, as XDR gets it; its error, in the relay's own words, once on stderr.
      const json = await runCli(['lookup', '--json', EXAMPLE_EMAIL], { SPYCLOUD_API_URL: refusing.url, SPYCLOUD_API_KEY: API_KEY });
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).errors).toEqual([{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Invalid API key \u001b[31mcall +1-555-0100' }]);
      expect(json.stderr).toBe('spycloud-relay: Authorization failed: SpyCloud refused the API key; check SPYCLOUD_API_KEY or --key.\n');
    } finally {
      await refusing.close();
    }
  });

  it('another status: the status, not SpyCloud\'s text', async () => {
    const odd = await startStandIn({ '/breach/data/*': json({ message: 'Teapot says hi' }, 418) });
    try {
      const result = await runCli(['lookup', EXAMPLE_EMAIL], { SPYCLOUD_API_URL: odd.url, SPYCLOUD_API_KEY: API_KEY });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(`${EXAMPLE_EMAIL} (email): failed\n  error: Unexpected answer from SpyCloud: HTTP 418.\n`);
      expect(result.stdout + result.stderr).not.toContain('Teapot');
    } finally {
      await odd.close();
    }
  });

  it('a key refused for the caller\'s IP gives the allow-list hint, once', async () => {
    const refusing = await startStandIn({ '/breach/data/*': json({ message: 'Forbidden' }, 403, { 'SpyCloud-Error': 'Invalid IP' }) });
    try {
      const result = await runCli(['lookup', EXAMPLE_EMAIL], { SPYCLOUD_API_URL: refusing.url, SPYCLOUD_API_KEY: API_KEY });
      expect(result.code).toBe(1);
      const hint = "Authorization failed: SpyCloud does not accept calls from this relay's IP address. Ask SpyCloud to allow-list it.";
      expect(result.stdout).toBe(`${EXAMPLE_EMAIL} (email): failed\n  error: ${hint}\n`);
      expect(times(result, hint)).toBe(1);
    } finally {
      await refusing.close();
    }
  });

  it('a failing value ends the answer in request order; what came before stays', async () => {
    const result = await lookup([EXAMPLE_EMAIL, 'broken@example.com', 'nobody@example.com']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(times(result, 'The Spycloud internal error.')).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${EXAMPLE_EMAIL} (email): 4 sightings`);
    expect(lines.slice(-3)).toEqual(['broken@example.com (email): failed', '  error: The Spycloud internal error.', 'nobody@example.com (email): nothing found']);
  });

  it('values after the failing one are left out of the answer, even with records', async () => {
    const result = await lookup(['broken@example.com', EXAMPLE_EMAIL]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('broken@example.com (email): failed\n  error: The Spycloud internal error.\n'
      + `${EXAMPLE_EMAIL} (email): 4 breach records, left out of the answer: the lookup ended at an error\n`);
  });

  it('SpyCloud unreachable: the relay\'s connection error', async () => {
    const gone = await startStandIn();
    await gone.close();
    const result = await runCli(['lookup', EXAMPLE_EMAIL], { SPYCLOUD_API_URL: gone.url, SPYCLOUD_API_KEY: API_KEY });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^\S+ \(email\): failed\n {2}error: SpyCloud could not be reached: .*ECONNREFUSED.*\.\n$/);
    expect(result.stderr).toBe('');
  });

  it('a bad configuration: the relay\'s message naming the variable', async () => {
    const result = await lookup([EXAMPLE_EMAIL], { SPYCLOUD_TIMEOUT_MS: 'soon' });
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'spycloud-relay: Invalid configuration: SPYCLOUD_TIMEOUT_MS must be a whole number of 1 or more, got "soon"\n' });
    expect(spycloud.seen).toEqual([]);
  });

  it('a key an HTTP header cannot carry: the relay\'s refusal, nothing sent', async () => {
    const result = await lookup([EXAMPLE_EMAIL], { SPYCLOUD_API_KEY: 'two words' });
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'spycloud-relay: Authorization failed: Unauthorized\n' });
    expect(spycloud.seen).toEqual([]);
  });
});

describe('mistakes on the command line: usage on stderr, exit 2, nothing asked', () => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['no key at all', [EXAMPLE_EMAIL], { SPYCLOUD_API_KEY: '' }, /no SpyCloud API key: set SPYCLOUD_API_KEY, or pass --key/],
    ['a blank --key', ['--key', ' ', EXAMPLE_EMAIL], { SPYCLOUD_API_KEY: '' }, /no SpyCloud API key/],
    ['no value', [], {}, /lookup needs at least one value/],
    ['an unknown --type', ['--type', 'hash', 'abc'], {}, /--type must be one of email, domain, ip, ipv6, user, got "hash"/],
    ['an unknown --password-display', ['--password-display', 'clear', EXAMPLE_EMAIL], {}, /--password-display must be plaintext, masked or hidden, got "clear"/],
    ['an unknown flag', ['--jsn', EXAMPLE_EMAIL], {}, /Unknown option '--jsn'/],
  ];
  for (const [what, args, env, message] of cases) {
    it(what, async () => {
      const result = await lookup(args, env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain('Run "spycloud-relay lookup --help" for usage.');
      expect(spycloud.seen).toEqual([]);
    });
  }

  it('--help explains the command and exits 0', async () => {
    expect(await lookup(['--help'])).toEqual({ code: 0, stdout: LOOKUP_HELP, stderr: '' });
    expect(HELP).not.toContain(LOOKUP_HELP);
    for (const word of ['--key', 'SPYCLOUD_API_KEY', '--type', '--json', '--password-display', 'PASSWORD_DISPLAY', 'Exit code']) expect(LOOKUP_HELP).toContain(word);
  });
});

describe('type guessing', () => {
  const cases: Array<[string, string, string]> = [
    [EXAMPLE_EMAIL, 'email', RECORDS_PATH],
    ['198.51.100.23', 'ip', '/breach/data/ips/198.51.100.23'],
    ['2001:db8::17', 'ipv6', '/breach/data/ips/2001%3Adb8%3A%3A17'],
    ['acme-corp.example', 'domain', '/breach/data/domains/acme-corp.example'],
    ['jdoe77', 'user', '/breach/data/usernames/jdoe77'],
    // Not an IPv4 address, and a host name's last label is never all digits.
    ['10.0.0', 'user', '/breach/data/usernames/10.0.0'],
  ];
  for (const [value, type, path] of cases) {
    it(`${value} is looked up as ${type}`, async () => {
      const result = await lookup([value]);
      expect(result.stdout.split('\n')[0]).toMatch(new RegExp(`^${value.replace(/\./g, '\\.')} \\(${type}\\): `));
      expect(recordPaths()).toEqual([path]);
    });
  }

  it('--type forces one type for every value, in any case', async () => {
    await lookup(['--type', 'USER', EXAMPLE_EMAIL, 'acme-corp.example']);
    expect(recordPaths().sort()).toEqual(['/breach/data/usernames/acme-corp.example', `/breach/data/usernames/${encodeURIComponent(EXAMPLE_EMAIL)}`]);
  });

  it('a value given twice is looked up once', async () => {
    await lookup([EXAMPLE_EMAIL, EXAMPLE_EMAIL]);
    expect(recordPaths()).toEqual([RECORDS_PATH]);
  });
});

describe('--json: the relay\'s own answer', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startRelay({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET });
  });
  afterAll(() => relay.close());

  /** Random uuid4 ids labelled by first appearance, so two answers compare. */
  const labelled = (answer: unknown) => {
    const labels = new Map<string, string>();
    return JSON.parse(JSON.stringify(answer).replace(/transient:(sighting|relationship)-[0-9a-f-]{36}/g, (id, kind) => {
      if (!labels.has(id)) labels.set(id, `${kind} #${labels.size}`);
      return labels.get(id) as string;
    }));
  };
  const relayAnswer = async (observables: object[]) =>
    (await relay.post('/observe/observables', observables, { authorization: `Bearer ${await hs256({ key: API_KEY }, SECRET)}` })).body;

  it('equals what the relay answers for the same observables', async () => {
    const values = [EXAMPLE_EMAIL, 'nobody@example.com', 'nobody.example', 'gmail.com'];
    const result = await lookup(['--json', ...values]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const answer = JSON.parse(result.stdout);
    expect(answer.data.sightings.count).toBe(4);
    // In request order: the example's missing catalog, gmail.com's 422.
    expect(answer.errors.map((e: { code: string }) => e.code)).toEqual(['not found', 'invalid argument']);
    const expected = await relayAnswer([
      { type: 'email', value: EXAMPLE_EMAIL }, { type: 'email', value: 'nobody@example.com' },
      { type: 'domain', value: 'nobody.example' }, { type: 'domain', value: 'gmail.com' },
    ]);
    expect(labelled(answer)).toEqual(labelled(expected));
  });

  it('equals the relay\'s error answer too, and exits 1 with the error once on stderr', async () => {
    const result = await lookup(['--json', EXAMPLE_EMAIL, 'broken@example.com']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('spycloud-relay: The Spycloud internal error.\n');
    const expected = await relayAnswer([{ type: 'email', value: EXAMPLE_EMAIL }, { type: 'email', value: 'broken@example.com' }]);
    expect(expected.errors.at(-1)).toEqual({ type: 'fatal', code: 'internal error', message: 'The Spycloud internal error.' });
    expect(labelled(JSON.parse(result.stdout))).toEqual(labelled(expected));
  });

  it('exit 1 and the relay\'s empty answer when nothing is found', async () => {
    const result = await lookup(['--json', 'nobody@example.com']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual(await relayAnswer([{ type: 'email', value: 'nobody@example.com' }]));
    expect(JSON.parse(result.stdout)).toEqual({ data: {} });
  });
});

describe('password display', () => {
  const stolen = ['Winter2023!', 'acme1234'];
  const columnsOf = (stdout: string): string[] =>
    JSON.parse(stdout).data.sightings.docs.flatMap((s: { data: { columns: Array<{ name: string }> } }) => s.data.columns.map((c) => c.name));

  it('PASSWORD_DISPLAY=plaintext shows passwords as SpyCloud gives them', async () => {
    const summary = await lookup([EXAMPLE_EMAIL], { PASSWORD_DISPLAY: 'plaintext' });
    expect(summary.stdout).toContain(`  passwords: ${stolen.join(', ')}\n`);
    const answer = await lookup(['--json', EXAMPLE_EMAIL], { PASSWORD_DISPLAY: 'plaintext' });
    for (const password of stolen) expect(answer.stdout).toContain(`"${password}"`);
    expect(columnsOf(answer.stdout)).toContain('password_plaintext');
  });

  it('--password-display wins over PASSWORD_DISPLAY: hidden leaves every password out', async () => {
    for (const args of [[EXAMPLE_EMAIL], ['--json', EXAMPLE_EMAIL]]) {
      const result = await lookup(['--password-display', 'Hidden', ...args], { PASSWORD_DISPLAY: 'plaintext' });
      expect(result.code).toBe(0);
      for (const password of stolen) expect(result.stdout).not.toContain(password);
      expect(result.stdout).not.toContain('W*********!');
      expect(result.stdout).not.toContain('passwords:');
    }
    const answer = await lookup(['--password-display', 'hidden', '--json', EXAMPLE_EMAIL]);
    expect(columnsOf(answer.stdout).filter((name) => name.startsWith('password') || name === 'salt')).toEqual(['password_type', 'password_type', 'password_type']);
  });

  it('masked by default, in the answer as in the summary', async () => {
    const answer = await lookup(['--json', EXAMPLE_EMAIL]);
    expect(answer.stdout).toContain('"W*********!"');
    for (const password of stolen) expect(answer.stdout).not.toContain(`"${password}"`);
  });
});

describe('progress on stderr', () => {
  it('on a terminal, a line redrawn as pages and catalogs load, erased before the output', async () => {
    const tty = terminal(true);
    const result = await lookup([EXAMPLE_EMAIL, 'nobody@example.com'], {}, tty);
    expect(result.code).toBe(0);
    expect(tty.writes.length).toBeGreaterThan(2);
    for (const text of tty.writes) {
      expect(text.startsWith('\r\x1b[2K')).toBe(true);
      // The values asked about are not repeated there.
      expect(text).not.toContain('@');
    }
    expect(tty.writes).toContain('\r\x1b[2KSpyCloud: 2 of 2 looked up, 2 pages of breach records, 1 catalog call…');
    expect(tty.writes.at(-1)).toBe('\r\x1b[2K');
    expect(result.stderr).toBe('');
  });

  it('never when stderr is not a terminal', async () => {
    const pipe = terminal(false);
    expect((await lookup([EXAMPLE_EMAIL], {}, pipe)).code).toBe(0);
    expect(pipe.writes).toEqual([]);
    // Nor without a terminal at all.
    expect((await runCli(['lookup', EXAMPLE_EMAIL], { SPYCLOUD_API_URL: spycloud.url, SPYCLOUD_API_KEY: API_KEY })).code).toBe(0);
  });
});
