// RELAY.md §6/§7 password display over real HTTP: the PASSWORD_DISPLAY variable,
// the token claim that wins over it, and what each mode leaves in the answer.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_DISPLAYS } from '../src/password-display.js';
import { catalogs, exampleCatalogs } from './support/spycloud.js';
import { json } from './support/stand-in.js';
import { startXdrWorld, type XdrWorld } from './support/xdr.js';

const USER = { type: 'user', value: 'jdoe77' };
const SECRETS = {
  password: 'Correct-Horse-9',
  password_plaintext: 'Correct-Horse-9',
  salt: 'NaCl-5e3d',
};
const RECORD = {
  username: 'jdoe77',
  source_id: 4242,
  severity: 20,
  password: SECRETS.password,
  password_plaintext: SECRETS.password_plaintext,
  password_type: 'plaintext',
  salt: SECRETS.salt,
  target_url: 'https://sso.acme-corp.example/login',
  spycloud_publish_date: '2022-06-15T00:00:00Z',
};

// Each mode's table for RECORD, written out by hand from §6.
const columns = (...names: string[]) => names.map((name) => ({ name, type: 'string' }));
const TABLES = {
  plaintext: {
    columns: columns('username', 'password', 'password_plaintext', 'password_type', 'salt', 'target_url'),
    rows: [['jdoe77', 'Correct-Horse-9', 'Correct-Horse-9', 'plaintext', 'NaCl-5e3d', 'https://sso.acme-corp.example/login']],
  },
  masked: {
    columns: columns('username', 'password', 'password_plaintext', 'password_type', 'target_url'),
    rows: [['jdoe77', 'C*************9', 'C*************9', 'plaintext', 'https://sso.acme-corp.example/login']],
  },
  hidden: {
    columns: columns('username', 'password_type', 'target_url'),
    rows: [['jdoe77', 'plaintext', 'https://sso.acme-corp.example/login']],
  },
} as const;

type Mode = keyof typeof TABLES;

describe.each<[string, Record<string, string>, Array<[unknown, Mode]>]>([
  ['the default (masked)', {}, [
    [undefined, 'masked'],
    ['plaintext', 'plaintext'],
    ['hidden', 'hidden'],
    ['masked', 'masked'],
    [' Plaintext ', 'plaintext'],
    ['', 'masked'],
    [null, 'masked'],
    ['clear', 'masked'],
    [42, 'masked'],
    [['plaintext'], 'masked'],
  ]],
  ['PASSWORD_DISPLAY=plaintext', { PASSWORD_DISPLAY: 'plaintext' }, [
    [undefined, 'plaintext'],
    ['masked', 'masked'],
    ['hidden', 'hidden'],
    // An empty optional field in XDR leaves the relay's setting.
    ['', 'plaintext'],
    // A claim asking for a mode the relay does not know gets the safe default, not the variable.
    ['bogus', 'masked'],
    [true, 'masked'],
  ]],
  ['PASSWORD_DISPLAY=hidden', { PASSWORD_DISPLAY: 'hidden' }, [
    [undefined, 'hidden'],
    ['plaintext', 'plaintext'],
    ['MASKED', 'masked'],
  ]],
])('relay with %s', (_name, env, cases) => {
  let world: XdrWorld;
  beforeAll(async () => {
    world = await startXdrWorld(env);
    world.spycloud.route('/breach/data/usernames/jdoe77', json({ cursor: '', hits: 1, results: [RECORD] }));
    world.spycloud.route('/breach/catalog/*', catalogs(exampleCatalogs()));
  });
  afterAll(() => world.close());

  it.each(cases)('a token whose PASSWORD_DISPLAY claim is %j: %s', async (claim, mode) => {
    // world.auth leaves an undefined claim out of the token.
    const { body } = await world.relay.post('/observe/observables', [USER], await world.auth({ PASSWORD_DISPLAY: claim }));
    expect(body.data.sightings.docs[0].data).toEqual(TABLES[mode]);
    const text = JSON.stringify(body);
    if (mode !== 'plaintext') for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    // The rest of the answer does not depend on the mode.
    expect(body.data.indicators.count).toBe(1);
    expect(body.errors).toBeUndefined();
  });
});

describe('the XDR field that sets the claim (module_type.json)', () => {
  it.each(['module_type.json'])('%s offers exactly the relay\'s modes, masked first', (file) => {
    const moduleType = JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));
    const field = moduleType.configuration_spec.find((f: { key: string }) => f.key === 'custom_PASSWORD_DISPLAY');
    expect(field).toMatchObject({ type: 'options', label: 'Password Display', required: false });
    expect(field.options.map((o: { value: string }) => o.value)).toEqual(['masked', 'hidden', 'plaintext']);
    expect([...PASSWORD_DISPLAYS].sort()).toEqual(field.options.map((o: { value: string }) => o.value).sort());
    expect(field.tooltip).toMatch(/masked/i);
  });

  it('module_type.self-hosted.json offers no such field: XDR sends the pasted token as it is, so it would do nothing', () => {
    const moduleType = JSON.parse(readFileSync(new URL('../module_type.self-hosted.json', import.meta.url), 'utf8'));
    expect(moduleType.configuration_spec.map((f: { key: string }) => f.key)).toEqual(['url', 'token']);
    expect(moduleType.configuration_spec.find((f: { key: string }) => f.key === 'token').tooltip).toMatch(/--password-display/);
  });
});
