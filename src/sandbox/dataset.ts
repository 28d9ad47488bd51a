// The sandbox's own synthetic dataset: Acme Corp (acme-corp.example, a reserved
// name), its employees' exposure as SpyCloud would hold it — old breaches with
// hashed and plaintext passwords, a combolist, infostealer logs with stolen
// session cookies, a catalog SpyCloud lacks — and a watchlist whose records are
// spread over the 90 days before `now`. Deterministic: a fixed seed drives every
// choice, and `now` only places the dates.
import type { BreachRecord, Catalog } from '../spycloud/types.js';
import type { SpyCloudDataset } from './spycloud.js';

export const SANDBOX_DOMAIN = 'acme-corp.example';
/** The key the demo's sandbox accepts. */
export const SANDBOX_API_KEY = 'sandbox-demo-key-acme';
/** A catalog id some records carry and the sandbox's SpyCloud does not know. */
export const MISSING_CATALOG_ID = 58890;

export interface SandboxSample {
  type: 'email' | 'domain' | 'ip' | 'ipv6' | 'user';
  value: string;
  /** Why the demo looks it up. */
  note: string;
}

export interface AcmeDataset extends SpyCloudDataset {
  /** One observable of each supported type that the dataset has records for, then a webmail domain SpyCloud refuses. */
  samples: readonly SandboxSample[];
}

const DAY_MS = 86_400_000;
const DEFAULT_SEED = 0x5c10d;

/** mulberry32: a small seeded generator, enough for synthetic data. */
function seeded(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const chars = (alphabet: string, length: number) => Array.from({ length }, () => pick([...alphabet])).join('');
  const hex = (length: number) => chars('0123456789abcdef', length);
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
  return { next, int, pick, chars, hex, uuid };
}

type Random = ReturnType<typeof seeded>;

interface Employee {
  fullName: string;
  email: string;
  /** Single sign-on login. */
  login: string;
}

const PEOPLE: ReadonlyArray<readonly [string, string]> = [
  ['Alice', 'Martin'], ['Bruno', 'Keller'], ['Chen', 'Wei'], ['Dana', 'Novak'], ['Elif', 'Yilmaz'], ['Farid', 'Haddad'],
  ['Grace', 'Okafor'], ['Hiro', 'Tanaka'], ['Isabel', 'Costa'], ['Jonas', 'Berg'], ['Kavya', 'Rao'], ['Liam', 'Walsh'],
];

const EMPLOYEES: readonly Employee[] = PEOPLE.map(([first, last]) => ({
  fullName: `${first} ${last}`,
  email: `${first}.${last}@${SANDBOX_DOMAIN}`.toLowerCase(),
  login: `${first[0]}${last}`.toLowerCase(),
}));

const employee = (index: number): Employee => EMPLOYEES[index] as Employee;

// The catalogs: id, how long before `now` SpyCloud published them, and what they are.
const SHOPNOW = 31544;
const TRAVELDEALS = 36020;
const MEALBOX = 40931;
const COMBOLIST = 52006;
const LUMMA = 48213;
const REDLINE = 49877;
const STEALC = 50112;

function catalogs(at: (daysAgo: number) => string, random: Random): Catalog[] {
  const stealer = (id: number, family: string, daysAgo: number, records: number) => ({
    id, uuid: random.uuid(), title: `${family} Stealer`,
    description: `Credentials and session cookies captured from devices infected with the ${family} infostealer.`,
    site: 'n/a', site_description: 'Malware log collection', confidence: 3, type: 'PRIVATE',
    acquisition_date: at(daysAgo + 2), spycloud_publish_date: at(daysAgo), num_records: records,
    assets: { email: Math.round(records * 0.9), password: records, infected_machine_id: records, ip_addresses: Math.round(records * 0.8), user_browser: records, target_url: records },
  });
  return [
    {
      id: SHOPNOW, uuid: random.uuid(), title: 'ShopNow Breach', description: 'Customer accounts of the ShopNow web shop, with bcrypt password hashes.',
      site: 'shopnow.example', site_description: 'Online retailer of consumer electronics', confidence: 1, type: 'PUBLIC', combo_list_flag: false,
      acquisition_date: at(1_920), spycloud_publish_date: at(1_900), num_records: 1_204_411,
      assets: { email: 1_204_411, password: 1_190_334, full_name: 1_102_231 },
    },
    {
      id: TRAVELDEALS, uuid: random.uuid(), title: 'TravelDeals Breach', description: 'Member database of the TravelDeals booking site; passwords stored in plaintext.',
      site: 'https://www.traveldeals.example', site_description: 'Travel booking site', confidence: 1, type: 'PUBLIC', combo_list_flag: false,
      acquisition_date: at(1_330), spycloud_publish_date: at(1_310), num_records: 380_122,
      assets: { email: 360_100, username: 380_122, password: 301_877, ip_addresses: 380_122 },
    },
    {
      id: MEALBOX, uuid: random.uuid(), title: 'Mealbox Breach', description: 'Subscriber accounts of the Mealbox delivery service, with salted SHA-1 password hashes.',
      site: 'mealbox.example', site_description: 'Meal kit delivery service', confidence: 2, type: 'PUBLIC', combo_list_flag: false,
      acquisition_date: at(10), spycloud_publish_date: at(6.2), num_records: 96_540,
      assets: { email: 96_540, password: 96_540, full_name: 90_112 },
    },
    {
      id: COMBOLIST, uuid: random.uuid(), title: 'Credential Stuffing Combolist', description: 'Email and password pairs circulated as a combo list on criminal forums.',
      site: 'n/a', confidence: 2, type: 'PUBLIC', combo_list_flag: 'YES',
      acquisition_date: at(9), spycloud_publish_date: at(4.6), num_records: 48_112_004,
      assets: { email: 48_112_004, password: 48_112_004 },
    },
    stealer(LUMMA, 'Lumma', 0, 2_210_044),
    stealer(REDLINE, 'RedLine', 3, 3_301_877),
    stealer(STEALC, 'StealC', 11, 804_112),
  ];
}

/** Where employees' infostealer logs sent their credentials and cookies. */
const TARGETS = [
  'https://sso.acme-corp.example/login', 'https://mail.acme-corp.example/owa/', 'https://vpn.acme-corp.example/remote/login',
  'https://crm.acme-corp.example/', 'https://git.acme-corp.example/users/sign_in', 'https://payroll.partner.example/signin',
  'https://shopnow.example/account', 'https://www.traveldeals.example/login',
];
const WORDS = ['Winter', 'Summer', 'Falcon', 'Coffee', 'Acme', 'Tiger', 'Rocket', 'Harbor', 'Maple', 'Orbit'];
const BROWSERS = ['Google Chrome', 'Microsoft Edge', 'Mozilla Firefox', 'Opera'];
const SYSTEMS = ['Windows 10 Pro', 'Windows 11 Pro', 'Windows 11 Home'];
const COUNTRIES = ['Germany', 'United States', 'Portugal', 'India', 'Japan'];
const OFFICE_IP = '203.0.113.10';

interface Infection {
  who: number;
  catalog: number;
  /** Days before `now` its log was published. */
  daysAgo: number;
  ips: readonly string[];
}

// Spread over the watchlist's 90 days, most in the last week (the tiles' default period), one inside the last 24 hours.
const INFECTIONS: readonly Infection[] = [
  { who: 1, catalog: LUMMA, daysAgo: 0.4, ips: [OFFICE_IP, '198.51.100.23'] },
  { who: 10, catalog: STEALC, daysAgo: 1.8, ips: ['192.0.2.77'] },
  { who: 5, catalog: REDLINE, daysAgo: 3.2, ips: [OFFICE_IP, '2001:db8:4a1c::17'] },
  { who: 7, catalog: STEALC, daysAgo: 11.5, ips: ['198.51.100.77'] },
  { who: 9, catalog: LUMMA, daysAgo: 33.1, ips: ['192.0.2.145', '2001:db8:77::5'] },
  { who: 3, catalog: REDLINE, daysAgo: 57.6, ips: [OFFICE_IP] },
  { who: 11, catalog: STEALC, daysAgo: 81.9, ips: ['198.51.100.201'] },
];

/** Builds the dataset for `now`; the same seed and `now` always give the same dataset. */
export function acmeDataset(options: { now: number; seed?: number }): AcmeDataset {
  const random = seeded(options.seed ?? DEFAULT_SEED);
  // Whole seconds, as SpyCloud writes its dates.
  const at = (daysAgo: number) => new Date(Math.floor((options.now - daysAgo * DAY_MS) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const password = () => `${random.pick(WORDS)}${random.int(10, 2025)}${random.pick(['!', '#', '?', ''])}`;
  const identity = (e: Employee) => {
    const [user, domain] = e.email.split('@') as [string, string];
    return { email: e.email, email_domain: domain, email_username: user, domain };
  };
  const ids = (source: number) => ({ document_id: random.uuid(), source_id: source });
  const records: BreachRecord[] = [];

  for (const who of [0, 1, 2, 4, 6, 9]) {
    const e = employee(who);
    records.push({
      ...identity(e), ...ids(SHOPNOW), severity: 5, full_name: e.fullName,
      password: `$2a$10$${random.chars('./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 53)}`, password_type: 'bcrypt',
      spycloud_publish_date: at(1_900),
    });
  }
  for (const who of [1, 3, 5, 7, 10]) {
    const e = employee(who);
    const plaintext = who !== 3 && who !== 10;
    records.push({
      ...identity(e), ...ids(TRAVELDEALS), severity: plaintext ? 20 : 2, username: `${e.login}${random.int(70, 99)}`,
      ...(plaintext ? { password: password(), password_type: 'plaintext' } : {}),
      ip_addresses: [`198.51.100.${random.int(2, 250)}`], spycloud_publish_date: at(1_310),
    });
  }
  // Accounts with a user name and no email: found by username and IP only.
  records.push(
    { ...ids(TRAVELDEALS), severity: 20, username: employee(1).login, password: password(), password_type: 'plaintext', ip_addresses: [OFFICE_IP], spycloud_publish_date: at(1_310) },
    { ...ids(TRAVELDEALS), severity: 2, username: employee(5).login, ip_addresses: [OFFICE_IP], spycloud_publish_date: at(1_310) },
  );
  for (const who of [1, 2, 8, 11]) {
    const e = employee(who);
    records.push({
      ...identity(e), ...ids(MEALBOX), severity: 5, full_name: e.fullName,
      password: random.hex(40), password_type: 'sha1', salt: random.hex(16), spycloud_publish_date: at(6.2 + random.next() / 4),
    });
  }
  for (const who of [1, 3, 4, 9, 10]) {
    const e = employee(who);
    const secret = password();
    records.push({
      ...identity(e), ...ids(COMBOLIST), severity: 20, password: secret, password_plaintext: secret, password_type: 'plaintext',
      spycloud_publish_date: at(4.6 + random.next() / 4),
    });
  }
  for (const infection of INFECTIONS) {
    const e = employee(infection.who);
    const machine = {
      infected_machine_id: random.uuid(),
      infected_path: `C:/Users/${e.login}/AppData/Local/Temp/${random.pick(['setup_x64.exe', 'invoice_viewer.exe', 'chrome_update.exe'])}`,
      infected_time: at(infection.daysAgo + 1 + random.next()).replace('T', ' ').replace('Z', ''),
      user_browser: random.pick(BROWSERS),
      user_os: random.pick(SYSTEMS),
      ip_addresses: [...infection.ips],
    };
    const country = random.pick(COUNTRIES);
    const targets = TARGETS.filter(() => random.next() < 0.7);
    for (const [n, target] of targets.entries()) {
      const published = at(infection.daysAgo + random.next() / 24);
      const base = { ...identity(e), ...ids(infection.catalog) };
      // Every other target lost its session cookie (severity 30), the rest a saved password (25).
      if (n % 2 === 1) {
        records.push({ ...base, severity: 30, ...machine, target_url: target, target_domain: new URL(target).hostname, country, spycloud_publish_date: published });
      } else {
        const secret = password();
        records.push({
          ...base, severity: 25, ...(random.next() < 0.3 ? { sighting: 2 } : {}), ...machine, target_url: target, target_domain: new URL(target).hostname,
          username: target.includes(SANDBOX_DOMAIN) ? e.login : e.email, password: secret, password_plaintext: secret, password_type: 'plaintext',
          country, spycloud_publish_date: published,
        });
      }
    }
  }
  // A stealer log from a source SpyCloud's catalog does not list (yet): the relay warns and still shows it.
  for (const daysAgo of [45.2, 45.3]) {
    const secret = password();
    records.push({
      ...identity(employee(1)), ...ids(MISSING_CATALOG_ID), severity: 25, target_url: 'https://vpn.acme-corp.example/remote/login',
      username: employee(1).login, password: secret, password_plaintext: secret, password_type: 'plaintext', spycloud_publish_date: at(daysAgo),
    });
  }

  return {
    records,
    catalogs: catalogs(at, random),
    watchlist: [{ identifier_type: 'domain', identifier_name: SANDBOX_DOMAIN, status: 'ACTIVE', verified: 'YES' }],
    samples: [
      { type: 'email', value: employee(1).email, note: 'an employee with infostealer logs, breaches, a combolist and an unknown source' },
      { type: 'domain', value: SANDBOX_DOMAIN, note: 'the whole company' },
      { type: 'ip', value: OFFICE_IP, note: 'the office egress address seen on infected machines' },
      { type: 'ipv6', value: '2001:db8:4a1c::17', note: 'a home address of an infected machine' },
      { type: 'user', value: employee(1).login, note: 'a single sign-on login found in stealer logs and a breach' },
      { type: 'domain', value: 'gmail.com', note: 'a webmail domain: SpyCloud refuses a query this broad' },
    ],
  };
}
