// `spycloud-relay doctor`: the configuration as the relay reads it, then every
// dependency from where it runs, through the relay's egress: JWKS hosts serving a
// real RS256 key set, SpyCloud, the key. Real servers on loopback, run in-process.
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HELP, runCli } from '../src/cli.js';
import { DOCTOR_HELP, egressProxy } from '../src/cli/doctor.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { startProxy, VIA, type TestProxy } from './support/proxy.js';
import { startExampleSpyCloud } from './support/spycloud.js';
import { json, startStandIn, type StandIn } from './support/stand-in.js';
import { selfSignedCertificate } from './support/tls.js';
import { xdrSigner } from './support/tokens.js';
import { API_KEY } from './support/xdr.js';

const PUBLIC_URL = 'https://spycloud-relay.example.com';
const SECRET = 'doctor-test-secret-0123456789-abcdefgh';
const INVALID_IP = "Authorization failed: SpyCloud does not accept calls from this relay's IP address. Ask SpyCloud to allow-list it.";

interface Line {
  status: string;
  name: string;
  detail: string;
}

let jwksHost: StandIn;
let emptyJwksHost: StandIn;
let spycloud: StandIn;
/** host:port where nothing listens. */
let closedHost: string;
beforeAll(async () => {
  // Two RS256 keys (XDR rotates) and an EC key the relay cannot use.
  const [first, second] = await Promise.all([xdrSigner('xdr-1'), xdrSigner('xdr-2')]);
  const ec = { ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)), kid: 'ec-1' };
  jwksHost = await startStandIn({ '/.well-known/jwks': json({ keys: [...first.jwks.keys, ...second.jwks.keys, ec] }) });
  emptyJwksHost = await startStandIn({ '/.well-known/jwks': json({ keys: [] }) });
  spycloud = await startExampleSpyCloud();
  const gone = await startStandIn();
  closedHost = gone.host;
  await gone.close();
});
afterAll(() => Promise.all([jwksHost.close(), emptyJwksHost.close(), spycloud.close()]));
afterEach(() => {
  for (const standIn of [jwksHost, emptyJwksHost, spycloud]) standIn.seen.length = 0;
});

/** The relay's environment in XDR-hosted mode, every dependency up. */
const healthy = (): Record<string, string> => ({
  SPYCLOUD_API_URL: spycloud.url,
  JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks',
  JWKS_ALLOWED_HOSTS: jwksHost.host,
  RELAY_PUBLIC_URL: PUBLIC_URL,
});

/** Runs doctor; every line but the verdict is one check. The key never shows. */
async function doctor(env: Record<string, string>, args: string[] = []) {
  const result = await runCli(['doctor', ...args], env);
  expect(result.stderr).toBe('');
  expect(result.stdout).not.toContain(API_KEY);
  const lines = result.stdout.trimEnd().split('\n');
  const checks = lines.slice(0, -1).map((line): Line => {
    const match = /^(ok|warn|FAIL|skip) +(.+?): (.*)$/.exec(line);
    expect(match, line).not.toBeNull();
    return { status: match?.[1] as string, name: match?.[2] as string, detail: match?.[3] as string };
  });
  const check = (name: string) => {
    const found = checks.find((c) => c.name === name);
    expect(found, `no "${name}" line in\n${result.stdout}`).toBeDefined();
    return found as Line;
  };
  return { ...result, checks, check, verdict: lines.at(-1) };
}

describe('everything passing', () => {
  it('one ok line per check, exit 0', async () => {
    const run = await doctor(healthy(), ['--key', API_KEY]);
    expect(run.code).toBe(0);
    expect(run.checks.map((c) => [c.status, c.name])).toEqual([
      ['ok', 'configuration'],
      ['ok', 'RELAY_PUBLIC_URL'],
      ['ok', `JWKS host ${jwksHost.host}`],
      ['ok', 'SpyCloud reachable'],
      ['ok', 'SpyCloud API key'],
    ]);
    expect(run.check('configuration').detail).toBe(`XDR-hosted mode (RS256 tokens; JWKS hosts ${jwksHost.host}); SpyCloud at ${spycloud.url}`);
    expect(run.check('RELAY_PUBLIC_URL').detail).toContain(PUBLIC_URL);
    expect(run.check(`JWKS host ${jwksHost.host}`).detail)
      .toBe(`2 RS256 keys at http://${jwksHost.host}/.well-known/jwks (direct, no egress proxy)`);
    expect(run.check('SpyCloud reachable').detail).toBe(`${spycloud.url} answered HTTP 401 (direct, no egress proxy)`);
    expect(run.verdict).toBe('No check failed.');
    // The key check is the relay's /health call, with the key.
    const health = spycloud.seen.filter((s) => s.path === '/watchlist/example.org' && s.headers['x-api-key'] === API_KEY);
    expect(health).toHaveLength(1);
    expect(jwksHost.seen.map((s) => s.path)).toEqual(['/.well-known/jwks']);
  });

  it('takes the key from SPYCLOUD_API_KEY; without any key it says the check was skipped', async () => {
    const withEnv = await doctor({ ...healthy(), SPYCLOUD_API_KEY: API_KEY });
    expect(withEnv.check('SpyCloud API key').status).toBe('ok');
    const without = await doctor(healthy());
    expect(without.code).toBe(0);
    expect(without.check('SpyCloud API key')).toEqual({ status: 'skip', name: 'SpyCloud API key', detail: expect.stringContaining('pass --key or set SPYCLOUD_API_KEY') });
  });

  it('checks every JWKS host of the allow-list', async () => {
    const run = await doctor({ ...healthy(), JWKS_ALLOWED_HOSTS: `${jwksHost.host}, ${emptyJwksHost.host}` });
    expect(run.checks.filter((c) => c.name.startsWith('JWKS host')).map((c) => c.name)).toEqual([`JWKS host ${jwksHost.host}`, `JWKS host ${emptyJwksHost.host}`]);
  });

  it('self-hosted mode: no JWKS host is asked and RELAY_PUBLIC_URL does not matter', async () => {
    const run = await doctor({ ...healthy(), RELAY_PUBLIC_URL: '', SECRET_KEY: SECRET });
    expect(run.code).toBe(0);
    expect(run.check('configuration').detail).toMatch(/^self-hosted mode \(HS256 tokens signed with SECRET_KEY\)/);
    expect(run.checks.map((c) => c.name)).toEqual(['configuration', 'SpyCloud reachable', 'SpyCloud API key']);
    expect(jwksHost.seen).toEqual([]);
  });
});

describe('warnings', () => {
  it('RELAY_PUBLIC_URL unset in XDR-hosted mode is a warning with what to do; the exit code stays 0', async () => {
    const run = await doctor({ ...healthy(), RELAY_PUBLIC_URL: '' });
    expect(run.code).toBe(0);
    expect(run.check('RELAY_PUBLIC_URL').status).toBe('warn');
    expect(run.check('RELAY_PUBLIC_URL').detail).toMatch(/unset: .* → set it to the URL XDR calls/);
  });
});

describe('failures: a FAIL line that says what to do, exit 1 (2 for the configuration)', () => {
  it('a bad configuration: the relay\'s message, no dependency contacted, exit 2 as every configuration error', async () => {
    const run = await doctor({ ...healthy(), CTR_ENTITIES_LIMIT: 'lots' }, ['--key', API_KEY]);
    expect(run.code).toBe(2);
    expect(run.checks).toEqual([{
      status: 'FAIL',
      name: 'configuration',
      detail: 'Invalid configuration: CTR_ENTITIES_LIMIT must be a whole number of 1 or more, got "lots" → fix that variable (README: Configuration); the relay would not start',
    }]);
    expect(run.verdict).toBe('1 check failed; the others need a valid configuration.');
    expect([...spycloud.seen, ...jwksHost.seen]).toEqual([]);
  });

  it('never shows the login of a URL: SpyCloud\'s, a JWKS template\'s, or one in a configuration error', async () => {
    const withLogin = (url: string) => url.replace('http://', 'http://alice:hunter2@');
    const run = await doctor({
      ...healthy(),
      SPYCLOUD_API_URL: withLogin(spycloud.url),
      JWKS_URL_TEMPLATE: 'http://bob:s3cret-jwks@{host}/.well-known/jwks',
    }, ['--key', API_KEY]);
    for (const secret of ['alice', 'hunter2', 'bob', 's3cret-jwks']) expect(run.stdout).not.toContain(secret);
    expect(run.check('configuration').detail).toContain(`SpyCloud at ${spycloud.url.replace('http://', 'http://***@')}`);
    expect(run.check(`JWKS host ${jwksHost.host}`).detail).toContain(`http://***@${jwksHost.host}/.well-known/jwks`);

    const refused = await doctor({ ...healthy(), SPYCLOUD_API_URL: 'ftp://alice:hunter2@api.spycloud.io/enterprise-v2' });
    expect(refused.check('configuration').detail)
      .toMatch(/^Invalid configuration: SPYCLOUD_API_URL must be an http\(s\) URL, got "ftp:\/\/\*\*\*@api\.spycloud\.io\/enterprise-v2" → /);
    expect(refused.stdout).not.toContain('hunter2');
  });

  it('hides a login whose password holds a raw / ? or #, in the configuration\'s FAIL line', async () => {
    for (const value of ['http://alice:hun/ter2@proxy.example:3128', 'https://alice:hu?n#ter2@api.example:443x']) {
      const run = await doctor({ ...healthy(), SPYCLOUD_API_URL: value });
      expect(run.code).toBe(2);
      expect(run.check('configuration').detail).toMatch(/^Invalid configuration: SPYCLOUD_API_URL must be an http\(s\) URL, got "https?:\/\/\*\*\*@(proxy|api)\.example:\d+x?" → /);
      for (const secret of ['alice', 'hun/ter2', 'hu?n#ter2']) expect(run.stdout).not.toContain(secret);
    }
  });

  it('TLS files the server could not read fail the configuration, as they stop the server', async () => {
    const run = await doctor({ ...healthy(), TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: '/nonexistent/key.pem' });
    expect(run.code).toBe(2);
    expect(run.check('configuration').detail).toMatch(/^Invalid configuration: TLS_CERT_FILE cannot be read \(ENOENT\): \/nonexistent\/cert\.pem → /);
  });

  it('a TLS key that is not the certificate\'s fails as the relay\'s start does, with its message', async () => {
    const own = selfSignedCertificate();
    const other = selfSignedCertificate();
    const tls = { TLS_CERT_FILE: own.certFile, TLS_KEY_FILE: other.keyFile };
    const started = await startServer(loadConfig({ ...healthy(), ...tls, PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1' }), { logger: createLogger('silent') })
      .then(async (running) => {
        await running.close();
        return 'started';
      }, (error: unknown) => (error as Error).message);
    expect(started).toBe(`Invalid configuration: TLS_KEY_FILE is not the key of the certificate in TLS_CERT_FILE (key values mismatch): ${other.keyFile}`);

    const run = await doctor({ ...healthy(), ...tls });
    expect(run.code).toBe(2);
    expect(run.check('configuration').detail).toBe(`${started} → fix that variable (README: Configuration); the relay would not start`);
    expect((await doctor({ ...healthy(), TLS_CERT_FILE: own.certFile, TLS_KEY_FILE: own.keyFile })).check('configuration').status).toBe('ok');
  });

  it('a JWKS host that is down', async () => {
    const run = await doctor({ ...healthy(), JWKS_ALLOWED_HOSTS: `${jwksHost.host},${closedHost}` });
    expect(run.code).toBe(1);
    expect(run.check(`JWKS host ${jwksHost.host}`).status).toBe('ok');
    const down = run.check(`JWKS host ${closedHost}`);
    expect(down.status).toBe('FAIL');
    expect(down.detail).toMatch(new RegExp(`^http://${closedHost}/\\.well-known/jwks could not be fetched \\(direct, no egress proxy\\): .*ECONNREFUSED.* → check that this machine may reach it .*JWKS_ALLOWED_HOSTS`));
    expect(run.verdict).toBe('1 check failed.');
  });

  it('a JWKS host without keys, and one that answers with no key set at all', async () => {
    const run = await doctor({ ...healthy(), JWKS_ALLOWED_HOSTS: emptyJwksHost.host, JWKS_URL_TEMPLATE: 'http://{host}/.well-known/jwks' });
    expect(run.code).toBe(1);
    expect(run.check(`JWKS host ${emptyJwksHost.host}`)).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/publishes no RS256 key .*→ check JWKS_URL_TEMPLATE/) });
    const wrongPath = await doctor({ ...healthy(), JWKS_URL_TEMPLATE: 'http://{host}/jwks.json' });
    expect(wrongPath.check(`JWKS host ${jwksHost.host}`)).toMatchObject({
      status: 'FAIL',
      detail: expect.stringMatching(/could not be fetched .*: JWKS HTTP 599 → the host answers, but with no key set: check JWKS_URL_TEMPLATE$/),
    });
  });

  it('SPYCLOUD_API_URL without the API\'s path: a 404 says the path is wrong, never "try again later"', async () => {
    // The sandbox serves the API at its root; one path level off is the usual mistake (no /enterprise-v2).
    const run = await doctor({ ...healthy(), SPYCLOUD_API_URL: `${spycloud.url}/v1` }, ['--key', API_KEY]);
    expect(run.code).toBe(1);
    const fix = 'SpyCloud has no such path: SPYCLOUD_API_URL must be the API\'s base URL with its path, https://api.spycloud.io/enterprise-v2';
    expect(run.check('SpyCloud API key')).toEqual({ status: 'FAIL', name: 'SpyCloud API key', detail: `The Spycloud not found. → ${fix}` });
    expect(run.stdout).not.toContain('try again later');
    expect(spycloud.seen.map((s) => s.path)).toContain('/v1/watchlist/example.org');

    // A SpyCloud that answers 404 even without a key: the reachability check says it too.
    const pathless = await startStandIn({ '/*': json({ message: 'Not Found' }, 404) });
    try {
      const keyless = await doctor({ ...healthy(), SPYCLOUD_API_URL: pathless.url });
      expect(keyless.code).toBe(1);
      expect(keyless.check('SpyCloud reachable')).toEqual({ status: 'FAIL', name: 'SpyCloud reachable', detail: `${pathless.url} answered HTTP 404 (direct, no egress proxy) → ${fix}` });
    } finally {
      await pathless.close();
    }
  });

  it('SpyCloud unreachable: the relay\'s connection error, for the key check too', async () => {
    const run = await doctor({ ...healthy(), SPYCLOUD_API_URL: `http://${closedHost}` }, ['--key', API_KEY]);
    expect(run.code).toBe(1);
    expect(run.check('SpyCloud reachable')).toMatchObject({
      status: 'FAIL',
      detail: expect.stringMatching(/^SpyCloud could not be reached: .*ECONNREFUSED.* \(direct, no egress proxy\) → .*SPYCLOUD_API_URL$/),
    });
    expect(run.check('SpyCloud API key')).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^SpyCloud could not be reached: /) });
    expect(run.verdict).toBe('2 checks failed.');
  });

  it('no answer within SPYCLOUD_TIMEOUT_MS, for each check on its own', async () => {
    const silent = await startStandIn({ '*': () => undefined });
    try {
      const run = await doctor({ ...healthy(), SPYCLOUD_API_URL: silent.url, JWKS_ALLOWED_HOSTS: silent.host, SPYCLOUD_TIMEOUT_MS: '300' }, ['--key', API_KEY]);
      expect(run.code).toBe(1);
      expect(run.check(`JWKS host ${silent.host}`).detail).toMatch(/: no answer within 300 ms → check that this machine may reach it/);
      expect(run.check('SpyCloud reachable').detail).toMatch(/^SpyCloud did not answer within 300 ms \(direct/);
      expect(run.check('SpyCloud API key').detail).toMatch(/^SpyCloud did not answer within 300 ms\. → /);
    } finally {
      await silent.close();
    }
  });

  it('a refused key: SpyCloud is reachable (any HTTP answer), the key check fails with its message', async () => {
    const refusing = await startStandIn({ '/watchlist/example.org': json({ message: 'Invalid API key' }, 401) });
    try {
      const run = await doctor({ ...healthy(), SPYCLOUD_API_URL: refusing.url }, ['--key', API_KEY]);
      expect(run.code).toBe(1);
      expect(run.check('SpyCloud reachable')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/answered HTTP 401/) });
      expect(run.check('SpyCloud API key')).toEqual({
        status: 'FAIL',
        name: 'SpyCloud API key',
        detail: 'Authorization failed: Invalid API key → check the key: an Employee ATO Prevention API key from the SpyCloud portal, copied whole',
      });
    } finally {
      await refusing.close();
    }
  });

  it('a key refused for this IP: §4.4\'s message and the allow-list hint', async () => {
    const refusing = await startStandIn({ '/watchlist/example.org': json({ message: 'Forbidden' }, 403, { 'SpyCloud-Error': 'Invalid IP' }) });
    try {
      const run = await doctor({ ...healthy(), SPYCLOUD_API_URL: refusing.url }, ['--key', API_KEY]);
      expect(run.code).toBe(1);
      const key = run.check('SpyCloud API key');
      expect(key.status).toBe('FAIL');
      expect(key.detail.startsWith(`${INVALID_IP} → `)).toBe(true);
      expect(key.detail).toMatch(/allow-lists the IP addresses .*public egress IP/);
    } finally {
      await refusing.close();
    }
  });

  it('a key an HTTP header cannot carry is refused as the relay refuses it, without a call', async () => {
    const run = await doctor(healthy(), ['--key', 'two words']);
    expect(run.check('SpyCloud API key').detail).toMatch(/^Authorization failed: Unauthorized → .*copy it again/);
    expect(spycloud.seen.filter((s) => s.headers['x-api-key'] !== undefined)).toEqual([]);
  });
});

describe('the egress proxy the relay would use', () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await startProxy();
  });
  afterAll(() => proxy.close());
  afterEach(() => {
    proxy.forwarded.length = 0;
  });

  it('every check goes through it, and it is named without its login', async () => {
    const withLogin = proxy.url.replace('http://', 'http://ops:s3cret-pw@');
    const run = await doctor({ ...healthy(), HTTP_PROXY: withLogin }, ['--key', API_KEY]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('s3cret-pw');
    expect(run.check('SpyCloud reachable').detail).toBe(`${spycloud.url} answered HTTP 401 (through egress proxy ${proxy.url})`);
    expect(run.check(`JWKS host ${jwksHost.host}`).detail).toMatch(new RegExp(`\\(through egress proxy ${proxy.url}\\)$`));
    // The key set, the reachability call and the /health call with the key.
    expect([...proxy.forwarded].sort()).toEqual([
      `GET http://${jwksHost.host}/.well-known/jwks`,
      `GET http://${spycloud.host}/watchlist/example.org`,
      `GET http://${spycloud.host}/watchlist/example.org`,
    ].sort());
    for (const seen of [...spycloud.seen, ...jwksHost.seen]) expect(seen.headers[VIA]).toBe('yes');
  });

  it('NO_PROXY hosts are reached directly, and doctor says so', async () => {
    const run = await doctor({ ...healthy(), HTTP_PROXY: proxy.url, NO_PROXY: `example.invalid ${jwksHost.host}` });
    expect(run.check(`JWKS host ${jwksHost.host}`).detail).toMatch(/\(direct, no egress proxy\)$/);
    expect(run.check('SpyCloud reachable').detail).toMatch(/\(through egress proxy /);
    expect(proxy.forwarded).toEqual([`GET http://${spycloud.host}/watchlist/example.org`]);
  });

  it('a proxy that is down fails the checks that need it', async () => {
    const run = await doctor({ ...healthy(), HTTP_PROXY: `http://${closedHost}` });
    expect(run.code).toBe(1);
    expect(run.check('SpyCloud reachable')).toMatchObject({ status: 'FAIL', detail: expect.stringContaining(`(through egress proxy http://${closedHost})`) });
    expect(run.check(`JWKS host ${jwksHost.host}`).status).toBe('FAIL');
  });

  // Which proxy undici's EnvHttpProxyAgent picks; the cases above check the same rules against a real proxy.
  const cases: Array<[string, Record<string, string>, string, string | undefined]> = [
    ['no proxy configured', {}, 'https://api.spycloud.io/x', undefined],
    ['https:// through HTTPS_PROXY', { HTTPS_PROXY: 'http://p1:3128', HTTP_PROXY: 'http://p2:3128' }, 'https://api.spycloud.io/x', 'http://p1:3128'],
    ['https:// through HTTP_PROXY when HTTPS_PROXY is unset', { HTTP_PROXY: 'http://p2:3128' }, 'https://api.spycloud.io/x', 'http://p2:3128'],
    ['http:// never through HTTPS_PROXY', { HTTPS_PROXY: 'http://p1:3128' }, 'http://stand-in:8088/x', undefined],
    ['NO_PROXY=* turns it off', { HTTPS_PROXY: 'http://p1:3128', NO_PROXY: '*' }, 'https://api.spycloud.io/x', undefined],
    ['a NO_PROXY domain covers its subdomains', { HTTPS_PROXY: 'http://p1:3128', NO_PROXY: '.spycloud.io' }, 'https://api.spycloud.io/x', undefined],
    ['*.domain too', { HTTPS_PROXY: 'http://p1:3128', NO_PROXY: 'x.example,*.spycloud.io' }, 'https://api.spycloud.io/x', undefined],
    ['but not a host that merely ends the same', { HTTPS_PROXY: 'http://p1:3128', NO_PROXY: 'cloud.io' }, 'https://api.spycloud.io/x', 'http://p1:3128'],
    ['host:port only for that port', { HTTPS_PROXY: 'http://p1:3128', NO_PROXY: 'api.spycloud.io:8443' }, 'https://api.spycloud.io/x', 'http://p1:3128'],
    ['host:port matching the default port', { HTTPS_PROXY: 'http://p1:3128', NO_PROXY: 'API.spycloud.io:443' }, 'https://api.spycloud.io/x', undefined],
  ];
  for (const [what, env, target, proxyUrl] of cases) {
    it(`picks the proxy as undici does: ${what}`, () => {
      expect(egressProxy(loadConfig(env), target)).toBe(proxyUrl);
    });
  }
});

describe('the command line', () => {
  it('--help explains the checks, exit 0', async () => {
    expect(await runCli(['doctor', '--help'], {})).toEqual({ code: 0, stdout: DOCTOR_HELP, stderr: '' });
    expect(HELP).not.toContain(DOCTOR_HELP);
    for (const word of ['--key', 'SPYCLOUD_API_KEY', 'JWKS_ALLOWED_HOSTS', 'SPYCLOUD_TIMEOUT_MS', 'Exit code']) expect(DOCTOR_HELP).toContain(word);
  });

  for (const [what, args, message] of [['an unknown flag', ['--verbose'], /Unknown option '--verbose'/], ['a stray argument', ['now'], /now/]] as const) {
    it(`${what}: usage on stderr, exit 2`, async () => {
      const result = await runCli(['doctor', ...args], healthy());
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
    });
  }
});
