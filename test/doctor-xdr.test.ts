// `spycloud-relay doctor` with XDR_CLIENT_ID set: the sync's XDR API client gets a
// token and the private intelligence host answers (RELAY.md §10), against the
// XDR sandbox on loopback; the client secret never shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { SANDBOX_API_KEY } from '../src/sandbox/dataset.js';
import { SANDBOX_XDR_CLIENT_SECRET, startXdrSandbox, type XdrSandbox } from '../src/sandbox/xdr.js';
import { startExampleSpyCloud } from './support/spycloud.js';
import { startStandIn, type StandIn } from './support/stand-in.js';

let xdr: XdrSandbox;
let spycloud: StandIn;
let closedUrl: string;
beforeAll(async () => {
  [xdr, spycloud] = await Promise.all([startXdrSandbox(), startExampleSpyCloud()]);
  const gone = await startStandIn();
  closedUrl = gone.url;
  await gone.close();
});
afterAll(() => Promise.all([xdr.close(), spycloud.close()]));

const env = (extra: Record<string, string> = {}) => ({
  SECRET_KEY: 'doctor-test-secret-0123456789-abcdefgh',
  ...xdr.syncEnv(spycloud.url, SANDBOX_API_KEY),
  SPYCLOUD_TIMEOUT_MS: '2000',
  ...extra,
});

const lineOf = (stdout: string, name: string) => stdout.split('\n').find((line) => line.includes(` ${name}: `));

describe('doctor and the sync\'s XDR API client', () => {
  it('checks the token and the intel host, ok when both answer', async () => {
    const before = xdr.calls.token;
    const { code, stdout } = await runCli(['doctor'], env());
    expect(code, stdout).toBe(0);
    expect(lineOf(stdout, 'XDR API client')).toMatch(/^ok +XDR API client: XDR gave a token at /);
    expect(lineOf(stdout, 'XDR private intelligence')).toMatch(/^ok +XDR private intelligence: http:\/\/127\.0\.0\.1:\d+ answered HTTP 200/);
    expect(xdr.calls.token).toBe(before + 1);
    expect(stdout).not.toContain(SANDBOX_XDR_CLIENT_SECRET);
  });

  it('fails the token check on credentials XDR refuses, and says what to do', async () => {
    const { code, stdout } = await runCli(['doctor'], env({ XDR_CLIENT_SECRET: 'wrong-secret-value' }));
    expect(code).toBe(1);
    expect(lineOf(stdout, 'XDR API client')).toContain("FAIL  XDR API client: XDR refused the API client's credentials (HTTP 400 invalid_client)");
    expect(lineOf(stdout, 'XDR API client')).toContain('→ copy the client id and password again');
    expect(lineOf(stdout, 'XDR private intelligence')).toBeUndefined();
    expect(stdout).not.toContain('wrong-secret-value');
  });

  it('fails the intel check when the intel host cannot be reached', async () => {
    const { code, stdout } = await runCli(['doctor'], env({ XDR_INTEL_URL: closedUrl }));
    expect(code).toBe(1);
    expect(lineOf(stdout, 'XDR private intelligence')).toMatch(/^FAIL +XDR private intelligence: XDR could not be reached at 127\.0\.0\.1:\d+ \(status\): ECONNREFUSED\./);
  });

  it('fails the intel check when CTIA refuses the token (no Private Intelligence scope), and says what to do', async () => {
    // A token from another XDR (here: another sandbox) is unknown to this CTIA: 401.
    const other = await startXdrSandbox();
    try {
      const before = xdr.calls.status;
      const { code, stdout } = await runCli(['doctor'], env({ XDR_TOKEN_URL: other.tokenUrl }));
      expect(code).toBe(1);
      expect(xdr.calls.status).toBe(before + 1);
      expect(lineOf(stdout, 'XDR API client')).toMatch(/^ok /);
      expect(lineOf(stdout, 'XDR private intelligence')).toMatch(/^FAIL +XDR private intelligence: http:\/\/127\.0\.0\.1:\d+ answered HTTP 401 .*: XDR refused the API client's token/);
      expect(lineOf(stdout, 'XDR private intelligence')).toContain('→ give the API client the Private Intelligence scope (read and write)');
    } finally {
      await other.close();
    }
    xdr.failNext('status', 1, 403);
    const forbidden = await runCli(['doctor'], env());
    expect(forbidden.code).toBe(1);
    expect(lineOf(forbidden.stdout, 'XDR private intelligence')).toMatch(/answered HTTP 403 .*→ give the API client the Private Intelligence scope/);
  });

  it('fails the intel check on any other status than 2xx', async () => {
    xdr.failNext('status', 1, 404);
    const { code, stdout } = await runCli(['doctor'], env());
    expect(code).toBe(1);
    const line = lineOf(stdout, 'XDR private intelligence');
    expect(line).toMatch(/^FAIL +XDR private intelligence: http:\/\/127\.0\.0\.1:\d+ answered HTTP 404 /);
    expect(line).toContain('→ check XDR_REGION or XDR_INTEL_URL');
    expect(line).not.toContain('Private Intelligence scope');
  });

  it('fails on a bad XDR variable, and checks nothing of XDR without XDR_CLIENT_ID', async () => {
    const bad = await runCli(['doctor'], env({ XDR_REGION: 'mars' }));
    expect(bad.code).toBe(1);
    expect(lineOf(bad.stdout, 'XDR API client')).toContain('Invalid configuration: XDR_REGION must be one of us, eu, apjc, got "mars"');
    const before = xdr.standIn.seen.length;
    const none = await runCli(['doctor'], env({ XDR_CLIENT_ID: '' }));
    expect(none.code).toBe(0);
    expect(none.stdout).not.toContain('XDR API client');
    expect(xdr.standIn.seen.length).toBe(before);
  });
});
