// `spycloud-relay token`: the printed token works in the relay's self-hosted
// mode; --limit, --expires and --secret do what --help says; mistakes exit 2.
import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELP, runCli, TOKEN_HELP } from '../src/cli.js';
import { startRelay, type TestRelay } from './support/relay.js';
import { EXAMPLE_EMAIL, startExampleSpyCloud } from './support/spycloud.js';
import type { StandIn } from './support/stand-in.js';
import { API_KEY } from './support/xdr.js';

const SECRET = 'cli-test-secret-0123456789-abcdefghij';
const ENV = { SECRET_KEY: SECRET };
const ONE_EMAIL = [{ type: 'email', value: EXAMPLE_EMAIL }];
const NOW_MS = Date.parse('2026-01-15T10:00:00Z');

async function mint(args: string[], env: Record<string, string> = ENV, nowMs = Date.now()) {
  const result = await runCli(['token', ...args], env, nowMs);
  // Only --expires says something on stderr: when the token stops working.
  if (args.includes('--expires')) expect(result.stderr).toMatch(/^Token expires at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\.\n$/);
  else expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  return result.stdout.trim();
}

let spycloud: StandIn;
let relay: TestRelay;
beforeAll(async () => {
  spycloud = await startExampleSpyCloud();
  relay = await startRelay({ SPYCLOUD_API_URL: spycloud.url, SECRET_KEY: SECRET });
});
afterAll(async () => {
  await relay.close();
  await spycloud.close();
});

describe('spycloud-relay token', () => {
  it('prints an HS256 token that the relay, started with the same SECRET_KEY, accepts for an enrichment', async () => {
    const token = await mint(['--key', API_KEY]);
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const { status, body } = await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${token}` });
    expect(status).toBe(200);
    expect(body.data.sightings.count).toBe(4);
    expect(spycloud.seen.find((s) => s.path.startsWith('/breach/data/emails/'))?.headers['x-api-key']).toBe(API_KEY);
  });

  it('puts the key in the key claim, with no exp and no limit unless asked', async () => {
    const claims = decodeJwt(await mint(['--key', `  ${API_KEY} `], ENV, NOW_MS));
    expect(claims).toEqual({ key: API_KEY, iat: NOW_MS / 1000 });
  });

  it('--limit becomes the CTR_ENTITIES_LIMIT claim, and the relay keeps that many sightings', async () => {
    const token = await mint(['--key', API_KEY, '--limit', '2']);
    expect(decodeJwt(token).CTR_ENTITIES_LIMIT).toBe(2);
    const { body } = await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${token}` });
    expect(body.data.sightings.count).toBe(2);
  });

  it('--password-display becomes the PASSWORD_DISPLAY claim, and the relay shows passwords that way', async () => {
    // The worked example's infostealer record carries this password; the relay's own setting is the default, masked.
    const stolen = 'Winter2023!';
    const answerWith = async (token: string) =>
      JSON.stringify((await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${token}` })).body);

    const plaintext = await mint(['--key', API_KEY, '--password-display', 'plaintext']);
    expect(decodeJwt(plaintext).PASSWORD_DISPLAY).toBe('plaintext');
    expect(await answerWith(plaintext)).toContain(`"${stolen}"`);

    const hidden = await mint(['--key', API_KEY, '--password-display', ' Hidden ']);
    expect(decodeJwt(hidden).PASSWORD_DISPLAY).toBe('hidden');
    const hiddenAnswer = await answerWith(hidden);
    expect(hiddenAnswer).not.toContain(stolen);
    expect(hiddenAnswer).not.toContain('"password_plaintext"');

    const masked = await mint(['--key', API_KEY, '--password-display', 'masked']);
    expect(decodeJwt(masked).PASSWORD_DISPLAY).toBe('masked');
    const maskedAnswer = await answerWith(masked);
    expect(maskedAnswer).not.toContain(stolen);
    expect(maskedAnswer).toContain('"W*********!"');

    // Without the flag the token says nothing, and the relay's setting applies.
    const plain = await mint(['--key', API_KEY]);
    expect(decodeJwt(plain)).not.toHaveProperty('PASSWORD_DISPLAY');
    expect(await answerWith(plain)).toContain('"W*********!"');
  });

  it('--expires sets exp from now in seconds, minutes, hours or days', async () => {
    for (const [flag, seconds] of [['45s', 45], ['30m', 1_800], ['12h', 43_200], ['90d', 7_776_000]] as const) {
      const result = await runCli(['token', '--key', API_KEY, '--expires', flag], ENV, NOW_MS);
      const claims = decodeJwt(result.stdout.trim());
      expect(claims.exp).toBe(NOW_MS / 1000 + seconds);
      expect(result.stderr).toBe(`Token expires at ${new Date(NOW_MS + seconds * 1000).toISOString()}.\n`);
      expect(claims.iat).toBe(NOW_MS / 1000);
    }
  });

  it('a token whose --expires has passed is refused by the relay as expired', async () => {
    const token = await mint(['--key', API_KEY, '--expires', '1m'], ENV, Date.now() - 3_600_000);
    const { body } = await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${token}` });
    expect(body).toEqual({ errors: [{ type: 'fatal', code: 'authorization error', message: 'Authorization failed: Token has expired' }] });
  });

  it('--secret signs instead of $SECRET_KEY', async () => {
    const other = 'a-different-secret-of-32-characters-x';
    const token = await mint(['--key', API_KEY, '--secret', other], ENV);
    await expect(jwtVerify(token, new TextEncoder().encode(other), { algorithms: ['HS256'] })).resolves.toBeDefined();
    const { body } = await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${token}` });
    expect(body.errors[0].message).toBe('Authorization failed: Failed to decode JWT with provided key');
    // And without any SECRET_KEY in the environment, --secret alone is enough.
    const alone = await mint(['--key', API_KEY, '--secret', SECRET], {});
    expect((await relay.post('/observe/observables', ONE_EMAIL, { authorization: `Bearer ${alone}` })).body.data.sightings.count).toBe(4);
  });
});

describe('help and version', () => {
  for (const argv of [['--help'], ['-h'], ['help']]) {
    it(`"${argv.join(' ')}" lists the commands, the exit codes and where they are documented, on stdout, exit 0`, async () => {
      const result = await runCli(argv, {});
      expect(result).toEqual({ code: 0, stdout: HELP, stderr: '' });
      for (const command of ['token', 'demo', 'lookup', 'doctor']) expect(HELP).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
      expect(HELP).toContain('spycloud-relay <command> --help');
      expect(HELP).toContain('--version');
      expect(HELP).toContain('docs/operations.md#exit-codes');
      expect(HELP).toMatch(/^ {2}0 +found \/ ok$/m);
      expect(HELP).toMatch(/^ {2}1 +nothing found, or a check failed$/m);
      expect(HELP).toMatch(/^ {2}2 +a mistake on the command line, a malformed value, or a configuration error$/m);
    });
  }

  for (const argv of [['token', '--help'], ['token', '-h']]) {
    it(`"${argv.join(' ')}" explains token's flags only, on stdout, exit 0`, async () => {
      const result = await runCli(argv, {});
      expect(result).toEqual({ code: 0, stdout: TOKEN_HELP, stderr: '' });
      for (const flag of ['--key', '--limit', '--password-display', 'plaintext', 'masked', 'hidden', '--expires', '--secret', 'SECRET_KEY', 'CTR_ENTITIES_LIMIT', 'PASSWORD_DISPLAY']) {
        expect(TOKEN_HELP).toContain(flag);
      }
      // Nothing of the other commands.
      for (const other of ['--json', '--type', '--serve', 'JWKS_ALLOWED_HOSTS']) expect(TOKEN_HELP).not.toContain(other);
    });
  }

  it('each command\'s --help is its own, and starts with its usage line', async () => {
    const helps = await Promise.all(['token', 'demo', 'lookup', 'doctor'].map(async (command) => {
      const result = await runCli([command, '--help'], {});
      expect(result.code).toBe(0);
      expect(result.stdout.startsWith(`Usage: spycloud-relay ${command} `)).toBe(true);
      return result.stdout;
    }));
    expect(new Set(helps).size).toBe(4);
    expect(helps.every((help) => help !== HELP)).toBe(true);
  });

  it('--version prints the package version, exit 0', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(await runCli(['--version'], {})).toEqual({ code: 0, stdout: `spycloud-relay ${pkg.version}\n`, stderr: '' });
  });

  it('without arguments shows the help on stderr and exits 2', async () => {
    expect(await runCli([], {})).toEqual({ code: 2, stdout: '', stderr: HELP });
  });
});

describe('--limit above what the relay shows', () => {
  it('is lowered to 1000 in the token, with a notice on stderr', async () => {
    const result = await runCli(['token', '--key', API_KEY, '--limit', '5000'], ENV);
    expect(result.code).toBe(0);
    expect(decodeJwt(result.stdout.trim()).CTR_ENTITIES_LIMIT).toBe(1000);
    expect(result.stderr).toBe('Note: --limit 5000 is more than the relay shows per value; the token says 1000.\n');
    // 1000 itself is taken silently.
    const exact = await runCli(['token', '--key', API_KEY, '--limit', '1000'], ENV);
    expect(decodeJwt(exact.stdout.trim()).CTR_ENTITIES_LIMIT).toBe(1000);
    expect(exact.stderr).toBe('');
  });
});

describe('mistakes: a clear message on stderr, nothing on stdout, exit code 2', () => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['no --key', ['token'], ENV, /--key is required/],
    ['an empty --key', ['token', '--key', '  '], ENV, /--key is required/],
    ['a key that cannot travel in a header', ['token', '--key', 'two words'], ENV, /--key must be printable ASCII without spaces/],
    ['--key without a value', ['token', '--key'], ENV, /--key/],
    ['no secret at all', ['token', '--key', API_KEY], {}, /no secret: set SECRET_KEY/],
    ['an empty SECRET_KEY', ['token', '--key', API_KEY], { SECRET_KEY: '' }, /no secret: set SECRET_KEY/],
    ['a secret under 32 characters', ['token', '--key', API_KEY], { SECRET_KEY: 'x'.repeat(31) }, /at least 32 characters/],
    ['a short --secret', ['token', '--key', API_KEY, '--secret', 'short'], ENV, /at least 32 characters/],
    ['--limit 0', ['token', '--key', API_KEY, '--limit', '0'], ENV, /--limit must be a whole number of 1 or more, got "0"/],
    ['--limit abc', ['token', '--key', API_KEY, '--limit', 'abc'], ENV, /--limit must be a whole number of 1 or more, got "abc"/],
    ['--limit 2.5', ['token', '--key', API_KEY, '--limit', '2.5'], ENV, /--limit must be a whole number/],
    ['--password-display clear', ['token', '--key', API_KEY, '--password-display', 'clear'], ENV, /--password-display must be plaintext, masked or hidden, got "clear"/],
    ['--password-display without a value', ['token', '--key', API_KEY, '--password-display'], ENV, /--password-display/],
    ['--expires without a unit', ['token', '--key', API_KEY, '--expires', '90'], ENV, /--expires must be a number and a unit, s, m, h or d \(e\.g\. 90d\), got "90"/],
    ['--expires in years', ['token', '--key', API_KEY, '--expires', '1y'], ENV, /--expires must be a number and a unit/],
    ['--expires 0d', ['token', '--key', API_KEY, '--expires', '0d'], ENV, /--expires must be a number and a unit/],
    ['an unknown flag', ['token', '--key', API_KEY, '--lmit', '5'], ENV, /Unknown option '--lmit'/],
    ['a stray argument', ['token', '--key', API_KEY, 'extra'], ENV, /extra/],
    ['an unknown command', ['tokens', '--key', API_KEY], ENV, /unknown command "tokens"/],
  ];
  for (const [what, argv, env, message] of cases) {
    it(what, async () => {
      const result = await runCli(argv, env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
      // The pointer names the command's own help when there is a command.
      expect(result.stderr).toContain(argv[0] === 'token' ? 'Run "spycloud-relay token --help" for usage.' : 'Run "spycloud-relay --help" for usage.');
    });
  }

  it('never echoes the secret in a message', async () => {
    const result = await runCli(['token', '--key', API_KEY, '--secret', 'short-secret-value'], {});
    expect(result.stderr).not.toContain('short-secret-value');
  });
});

describe('the package bin', () => {
  it('is dist/cli.js, compiled from src/cli.ts, which starts with a node shebang', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.bin).toEqual({ 'spycloud-relay': 'dist/cli.js' });
    const build = JSON.parse(readFileSync(new URL('../tsconfig.build.json', import.meta.url), 'utf8'));
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(readFileSync(new URL('../src/cli.ts', import.meta.url), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describe('exit codes, decided once: 0 found / ok, 1 nothing found or a check failed, 2 usage or configuration', () => {
  const cases: Array<[string, string[], (url: string) => Record<string, string>, number]> = [
    ['token minted', ['token', '--key', API_KEY], () => ENV, 0],
    ['token without --key', ['token'], () => ENV, 2],
    ['lookup found', ['lookup', EXAMPLE_EMAIL], (url) => ({ SPYCLOUD_API_URL: url, SPYCLOUD_API_KEY: API_KEY }), 0],
    ['lookup nothing found', ['lookup', 'nobody@example.com'], (url) => ({ SPYCLOUD_API_URL: url, SPYCLOUD_API_KEY: API_KEY }), 1],
    ['lookup of a malformed value', ['lookup', 'not-an-email@'], (url) => ({ SPYCLOUD_API_URL: url, SPYCLOUD_API_KEY: API_KEY }), 2],
    ['lookup with a bad variable', ['lookup', EXAMPLE_EMAIL], (url) => ({ SPYCLOUD_API_URL: url, SPYCLOUD_API_KEY: API_KEY, PORT: 'x' }), 2],
    ['doctor, all well', ['doctor', '--key', API_KEY], (url) => ({ SPYCLOUD_API_URL: url, SECRET_KEY: SECRET }), 0],
    ['doctor, a check failed', ['doctor', '--key', 'refused key'], (url) => ({ SPYCLOUD_API_URL: url, SECRET_KEY: SECRET }), 1],
    ['doctor with a bad variable', ['doctor'], (url) => ({ SPYCLOUD_API_URL: url, SECRET_KEY: 'short' }), 2],
    ['demo with an unknown flag', ['demo', '--serv'], () => ({}), 2],
    ['an unknown command', ['sink'], () => ({}), 2],
  ];
  for (const [what, argv, env, code] of cases) {
    it(`${what}: ${code}`, async () => {
      expect((await runCli(argv, env(spycloud.url))).code).toBe(code);
    });
  }
});
