// The records of one (identity, breach source) → one CTIM Incident (RELAY.md §10):
// what was exposed, when, and what to do, as an analyst reads it in XDR's
// Incident Manager. Pure. The description is built from chosen fields only
// (types, machines, sites, dates), so no password or record secret can reach it.
import { MAX_DESCRIPTION, MAX_SHORT_DESCRIPTION, MAX_TITLE, SCHEMA_VERSION, catalogUri, cut, idText, isPresent } from '../ctim/common.js';
import { isPasswordColumn } from '../password-display.js';
import type { BreachRecord, Catalog } from '../spycloud/types.js';
import { createHash } from 'node:crypto';

export const MODULE_NAME = 'SpyCloud Employee ATO Prevention';

/** CTIM severities, least to most severe. */
const SEVERITY_RANK = ['Unknown', 'None', 'Info', 'Low', 'Medium', 'High', 'Critical'];

/** The most severe of `severities` (Unknown when none). */
function highestSeverity(severities: readonly string[]): string {
  let best = 'Unknown';
  for (const s of severities) if (SEVERITY_RANK.indexOf(s) > SEVERITY_RANK.indexOf(best)) best = s;
  return best;
}

const incidentExternalId = (sourceId: string, identity: string): string =>
  `spycloud-incident-${sourceId}-${createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 16)}`;

/** The catalog's title when it has one, else the source id SpyCloud gave. */
function sourceName(catalog: Catalog | undefined, sourceId: string): string {
  const title = catalog?.title;
  return typeof title === 'string' && title.trim() !== '' ? title.trim() : `SpyCloud source ${sourceId}`;
}

export interface IncidentInput {
  /** Transient id, `transient:incident-…`. */
  id: string;
  identity: string;
  sourceId: string;
  catalog: Catalog | undefined;
  records: readonly BreachRecord[];
  /** The §6 severity of each record's sighting. */
  severities: readonly string[];
  /** CTIM time of the earliest record (its publish date, as its sighting's). */
  discovered: string;
  /** CTIM time of the run. */
  opened: string;
}

type Kind = 'session cookies' | 'infostealer log' | 'combolist' | 'breach';

function kindOf(record: BreachRecord, catalog: Catalog | undefined): Kind {
  if (typeof record.severity === 'number' && record.severity >= 26) return 'session cookies';
  if (idText(record.infected_machine_id) !== undefined) return 'infostealer log';
  if (catalog?.combo_list_flag) return 'combolist';
  return 'breach';
}

/** Distinct short text values of `field` over `records`, at most `max`, each cut to `width`. */
function distinct(records: readonly BreachRecord[], field: string, max: number, width = 100): string[] {
  const values = new Set<string>();
  for (const record of records) {
    const value = record[field];
    if (typeof value === 'string' && value.trim() !== '') values.add(cut(value.trim().replace(/\s+/g, ' '), width));
    if (values.size >= max) break;
  }
  return [...values];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const day = (time: string) => time.slice(0, 10);

export function toIncident(input: IncidentInput) {
  const { identity, sourceId, catalog, records, discovered, opened } = input;
  const source = sourceName(catalog, sourceId);
  const kinds = [...new Set(records.map((r) => kindOf(r, catalog)))];
  const stealer = kinds.includes('infostealer log') || kinds.includes('session cookies');
  const passwordTypes = distinct(records, 'password_type', 5, 40);
  const withPassword = records.filter((r) => Object.keys(r).some((k) => isPasswordColumn(k) && isPresent(r[k]))).length;
  // SpyCloud's machine ids are strings or numbers, as the tiles count them.
  const machines = new Set(records.map((r) => idText(r.infected_machine_id)).filter((m) => m !== undefined)).size;
  const sessions = records.filter((r) => kindOf(r, catalog) === 'session cookies').length;
  const sites = distinct(records, 'target_domain', 10);
  const systems = [...distinct(records, 'user_os', 3, 60), ...distinct(records, 'user_browser', 3, 60)];
  const uri = catalogUri(catalog);
  // A uuid of anything but word characters and dashes could break out of the markdown link.
  const portal = uri !== undefined && /\/[\w-]{1,64}$/.test(uri) ? uri : undefined;

  const exposed = [
    `- **Source:** ${source}${portal === undefined ? '' : ` ([SpyCloud catalog](${portal}))`}`,
    `- **Records:** ${plural(records.length, 'record')} (${kinds.join(', ')}), published from ${day(discovered)}`,
    withPassword > 0
      ? `- **Passwords:** ${plural(withPassword, 'record')} with a password${passwordTypes.length > 0 ? ` (${passwordTypes.join(', ')})` : ''}; not shown here`
      : undefined,
    machines > 0 ? `- **Infected machines:** ${machines}${systems.length > 0 ? ` (${systems.join(', ')})` : ''}` : undefined,
    sessions > 0 ? `- **Stolen session cookies:** ${plural(sessions, 'record')}` : undefined,
    sites.length > 0 ? `- **Sites:** ${sites.join(', ')}` : undefined,
  ].filter((line) => line !== undefined);
  const todo = [
    `1. Reset the password of ${identity}, and of every account where it was reused; enforce MFA.`,
    ...(stealer
      ? [
          '2. Revoke the active sessions and tokens of the account (SSO, mail, VPN, the sites above): stolen cookies bypass passwords and MFA.',
          '3. Isolate and clean or reimage the infected device, then reset the passwords it stored.',
        ]
      : ['2. Check sign-in logs for use of the exposed credentials since they were published.']),
  ];
  const description = ['**What was exposed**', ...exposed, '', '**What to do**', ...todo].join('\n');
  const shortDescription = `${plural(records.length, 'SpyCloud record')} of ${identity} in ${source}: ${kinds.join(', ')}.`;

  return {
    type: 'incident',
    id: input.id,
    schema_version: SCHEMA_VERSION,
    external_ids: [incidentExternalId(sourceId, identity)],
    title: cut(`SpyCloud: credentials of ${identity} exposed in ${source}`, MAX_TITLE),
    short_description: cut(shortDescription, MAX_SHORT_DESCRIPTION),
    description: cut(description, MAX_DESCRIPTION),
    status: 'New',
    confidence: 'High',
    severity: highestSeverity(input.severities),
    tlp: 'amber',
    promotion_method: 'Automated',
    source: MODULE_NAME,
    incident_time: { opened, discovered },
  };
}

export type Incident = ReturnType<typeof toIncident>;
