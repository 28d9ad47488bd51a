// CTIM's rules (RELAY.md §6, after threatgrid/ctim and XDR's CTIA), restated for
// tests on their own (never the relay's code): what XDR needs of every document
// the relay hands it. `ctimViolations` lists what a `data` object breaks, so that a
// failing test says which document and field; an empty list is a pass.

export const SCHEMA_VERSION = '1.3.30';

const SEVERITIES = new Set(['Info', 'Low', 'Medium', 'High', 'Critical', 'None', 'Unknown']);
const CONFIDENCES = new Set(['Info', 'Low', 'Medium', 'High', 'None', 'Unknown']);
const RELATIONSHIP_TYPES = new Set([
  'attributed-to', 'based-on', 'derived-from', 'detects', 'duplicate-of', 'element-of', 'exploits',
  'found-in', 'indicates', 'member-of', 'mitigates', 'related-to', 'sighting-of', 'targets', 'uses', 'variant-of',
]);
const OBSERVABLE_TYPES = new Set([
  'amp_computer_guid', 'certificate_common_name', 'certificate_issuer', 'certificate_serial', 'cisco_mid',
  'cisco_uc_id', 'device', 'domain', 'email', 'email_messageid', 'email_subject', 'file_name', 'file_path',
  'hostname', 'imei', 'imsi', 'ip', 'ipv6', 'mac_address', 'md5', 'ms_machine_id', 'mutex', 'ngfw_id',
  'ngfw_name', 'odns_identity', 'odns_identity_label', 'orbital_node_id', 'pki_serial', 's1_agent_id',
  'sha1', 'sha256', 'swc_device_id', 'url', 'user', 'user_agent',
]);

export const LIMITS = { title: 1024, short_description: 2048, description: 5000, tag: 1024 } as const;

const CTIM_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const MIN_MS = 0;
const MAX_MS = Date.UTC(2525, 0, 1);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

type Doc = Record<string, unknown>;

class Checker {
  readonly violations: string[] = [];

  constructor(private readonly where: string) {}

  fail(path: string, what: string, value?: unknown): void {
    const shown = value === undefined ? '' : `: ${JSON.stringify(value)?.slice(0, 120)}`;
    this.violations.push(`${this.where}${path} ${what}${shown}`);
  }

  string(doc: Doc, field: string, max?: number, required = true): string | undefined {
    const value = doc[field];
    if (value === undefined) {
      if (required) this.fail(`.${field}`, 'is missing');
      return undefined;
    }
    if (typeof value !== 'string' || value === '') {
      this.fail(`.${field}`, 'is not a non-empty string', value);
      return undefined;
    }
    if (max !== undefined && value.length > max) this.fail(`.${field}`, `is longer than ${max} (${value.length})`);
    return value;
  }

  oneOf(doc: Doc, field: string, allowed: ReadonlySet<string>): void {
    if (!allowed.has(doc[field] as string)) this.fail(`.${field}`, 'is not in its vocabulary', doc[field]);
  }

  time(value: unknown, path: string): void {
    if (typeof value !== 'string' || !CTIM_TIME.test(value)) {
      this.fail(path, 'is not a CTIM time', value);
      return;
    }
    const ms = Date.parse(value);
    if (!(ms >= MIN_MS && ms <= MAX_MS)) this.fail(path, 'is outside 1970–2525', value);
  }

  url(value: unknown, path: string, schemes: readonly string[]): void {
    let url: URL | undefined;
    try {
      // Only printable ASCII: the URL parser would quietly drop tabs and line breaks.
      url = typeof value === 'string' && /^[\x21-\x7e]+$/.test(value) ? new URL(value) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || !schemes.includes(url.protocol) || url.hostname === '') this.fail(path, `is not an absolute ${schemes.join(' or ')} URL`, value);
  }

  observable(value: unknown, path: string): void {
    const o = value as Doc;
    if (typeof o !== 'object' || o === null) return this.fail(path, 'is not an observable', value);
    if (!OBSERVABLE_TYPES.has(o.type as string)) this.fail(`${path}.type`, 'is not an observable type', o.type);
    if (typeof o.value !== 'string' || o.value === '') this.fail(`${path}.value`, 'is not a non-empty string', o.value);
  }

  list(doc: Doc, field: string, each: (item: unknown, path: string) => void, required = true): void {
    const value = doc[field];
    if (value === undefined && !required) return;
    if (!Array.isArray(value)) return this.fail(`.${field}`, 'is not a list', value);
    value.forEach((item, n) => each(item, `.${field}[${n}]`));
  }

  /** No null, no undefined, no lone surrogate, anywhere. */
  clean(value: unknown, path: string): void {
    if (value === null || value === undefined) return this.fail(path, `is ${String(value)}`);
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) this.fail(path, 'holds half a surrogate pair');
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) this.fail(path, 'is not a finite number', String(value));
    } else if (Array.isArray(value)) {
      value.forEach((item, n) => this.clean(item, `${path}[${n}]`));
    } else if (typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) this.clean(item, `${path}.${key}`);
    }
  }
}

function common(c: Checker, doc: Doc, type: string): void {
  if (doc.type !== type) c.fail('.type', `is not "${type}"`, doc.type);
  c.string(doc, 'id');
  if (doc.schema_version !== SCHEMA_VERSION) c.fail('.schema_version', `is not "${SCHEMA_VERSION}"`, doc.schema_version);
  c.string(doc, 'title', LIMITS.title, false);
  c.string(doc, 'short_description', LIMITS.short_description, false);
  c.string(doc, 'description', LIMITS.description, false);
  c.list(doc, 'external_ids', (id, path) => {
    if (typeof id !== 'string' || id === '') c.fail(path, 'is not a non-empty string', id);
  }, false);
  c.clean(doc, '');
}

function sighting(c: Checker, doc: Doc): void {
  common(c, doc, 'sighting');
  if (!(typeof doc.count === 'number' && Number.isSafeInteger(doc.count) && doc.count >= 0)) c.fail('.count', 'is not a non-negative integer', doc.count);
  c.oneOf(doc, 'confidence', CONFIDENCES);
  c.oneOf(doc, 'severity', SEVERITIES);
  c.string(doc, 'source');
  if (typeof doc.internal !== 'boolean') c.fail('.internal', 'is not a boolean', doc.internal);
  const observed = doc.observed_time as Doc | undefined;
  c.time(observed?.start_time, '.observed_time.start_time');
  if (observed?.end_time !== undefined) c.time(observed.end_time, '.observed_time.end_time');
  c.list(doc, 'observables', (o, path) => c.observable(o, path));
  c.list(doc, 'targets', (t, path) => {
    const target = t as Doc;
    if (typeof target?.type !== 'string' || target.type === '') c.fail(`${path}.type`, 'is not a non-empty string', target?.type);
    c.list(target, 'observables', (o, at) => c.observable(o, `${path}${at}`));
    c.time((target.observed_time as Doc | undefined)?.start_time, `${path}.observed_time.start_time`);
  }, false);
  c.list(doc, 'relations', (r, path) => {
    const relation = r as Doc;
    for (const field of ['origin', 'relation']) {
      if (typeof relation[field] !== 'string' || relation[field] === '') c.fail(`${path}.${field}`, 'is not a non-empty string', relation[field]);
    }
    c.observable(relation.source, `${path}.source`);
    c.observable(relation.related, `${path}.related`);
  }, false);
  if (doc.source_uri !== undefined) c.url(doc.source_uri, '.source_uri', ['https:']);
  if (doc.data !== undefined) {
    const table = doc.data as { columns?: unknown; rows?: unknown };
    const columns = Array.isArray(table.columns) ? table.columns as Doc[] : undefined;
    if (columns === undefined || columns.some((col) => typeof col?.name !== 'string' || typeof col?.type !== 'string')) {
      c.fail('.data.columns', 'are not {name, type} strings', table.columns);
    }
    if (!Array.isArray(table.rows) || table.rows.some((row) => !Array.isArray(row) || row.length !== columns?.length)) {
      c.fail('.data.rows', 'are not rows as wide as the columns');
    }
  }
}

function indicator(c: Checker, doc: Doc): void {
  common(c, doc, 'indicator');
  c.string(doc, 'producer');
  c.time((doc.valid_time as Doc | undefined)?.start_time, '.valid_time.start_time');
  c.oneOf(doc, 'confidence', CONFIDENCES);
  c.list(doc, 'external_references', (r, path) => {
    const ref = r as Doc;
    if (typeof ref?.source_name !== 'string' || ref.source_name === '') c.fail(`${path}.source_name`, 'is not a non-empty string');
    c.url(ref?.url, `${path}.url`, ['https:']);
    if (ref?.description !== undefined && (typeof ref.description !== 'string' || ref.description.length > LIMITS.description)) {
      c.fail(`${path}.description`, `is not a string of ${LIMITS.description} at most`);
    }
  }, false);
  c.list(doc, 'tags', (tag, path) => {
    if (typeof tag !== 'string' || tag.length > LIMITS.tag) c.fail(path, `is not a string of ${LIMITS.tag} at most`, tag);
  }, false);
  if (Array.isArray(doc.tags) && new Set(doc.tags).size !== doc.tags.length) c.fail('.tags', 'repeat a tag');
}

function relationship(c: Checker, doc: Doc, sightings: ReadonlySet<unknown>, indicators: ReadonlySet<unknown>): void {
  common(c, doc, 'relationship');
  c.oneOf(doc, 'relationship_type', RELATIONSHIP_TYPES);
  if (!sightings.has(doc.source_ref)) c.fail('.source_ref', 'names no sighting of the answer', doc.source_ref);
  if (!indicators.has(doc.target_ref)) c.fail('.target_ref', 'names no indicator of the answer', doc.target_ref);
}

const KINDS = { sightings: sighting, indicators: indicator, relationships: relationship } as const;

/** What the `data` of an /observe/observables answer breaks of CTIM's rules; [] when nothing. */
export function ctimViolations(data: unknown): string[] {
  const all: string[] = [];
  if (typeof data !== 'object' || data === null) return ['data is not an object'];
  const lists = data as Record<string, { count?: unknown; docs?: unknown } | undefined>;
  const ids = (key: string) => new Set(Array.isArray(lists[key]?.docs) ? (lists[key]?.docs as Doc[]).map((d) => d?.id) : []);
  const sightingIds = ids('sightings');
  const indicatorIds = ids('indicators');
  for (const [key, list] of Object.entries(lists)) {
    const check = KINDS[key as keyof typeof KINDS];
    if (check === undefined) {
      all.push(`data.${key} is not a CTIM list of this answer`);
      continue;
    }
    if (!Array.isArray(list?.docs) || list.docs.length === 0 || list.count !== list.docs.length) {
      all.push(`data.${key} is not {count, docs} with docs`);
      continue;
    }
    list.docs.forEach((doc, n) => {
      const c = new Checker(`data.${key}.docs[${n}]`);
      if (typeof doc !== 'object' || doc === null) c.fail('', 'is not an object');
      else check(c, doc as Doc, sightingIds, indicatorIds);
      all.push(...c.violations);
    });
  }
  return all;
}
