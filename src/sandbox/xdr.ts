// The XDR sandbox: a loopback stand-in for XDR's OAuth2 token endpoint and
// CTIA's bundle import, with CTIA's semantics as RELAY.md §10 describes them —
// dedup by prefixed external id against what was stored before the bundle
// (`exists`, never updated), transient ids resolved
// and references to existing entities replaced by the stored id, a schema error
// refuses the whole bundle (400), a limit fails only its entity. Test hooks: token
// lifetime and clock, injected failures, a dropped connection, what was received
// and stored. For the demo, the tests and the bench.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, startStandIn, type Handler, type Seen, type StandIn, type StandInOptions } from './stand-in.js';

export const SANDBOX_XDR_CLIENT_ID = 'client-sandbox-spycloud-sync';
export const SANDBOX_XDR_CLIENT_SECRET = 'sandbox-xdr-secret-8f2c4e71a9d0';

const TOKEN_PATH = '/iroh/oauth2/token';
const IMPORT_PATH = '/ctia/bundle/import';
/** CTIA's default limit of entities in one bundle. */
export const MAX_BUNDLE_ENTITIES = 2000;

const TIME_MIN = Date.parse('1970-01-01T00:00:00Z');
const TIME_MAX = Date.parse('2525-01-01T00:00:00Z');
const TEXT_LIMITS: Readonly<Record<string, number>> = { title: 1024, short_description: 2048, description: 5000 };
const TLPS_ALLOWED = new Set(['green', 'amber', 'red']);
const TLPS = new Set([...TLPS_ALLOWED, 'white', 'clear']);

export interface StoredEntity {
  readonly id: string;
  readonly type: string;
  readonly entity: Readonly<Record<string, unknown>>;
}

/** One entity's outcome in CTIA's answer, as the sandbox writes it. */
interface CtiaResult {
  id?: string;
  original_id: string;
  result: 'created' | 'exists' | 'error';
  type: string;
  external_ids: unknown;
  error?: string;
}

export type XdrRoute = 'token' | 'import' | 'status';

export interface XdrSandboxOptions extends StandInOptions {
  /** client_id → client_secret (default: the sandbox's own pair). */
  clients?: Readonly<Record<string, string>>;
  /** Token lifetime (default 600 s, as XDR). */
  tokenLifetimeS?: number;
  now?: () => number;
  /** Keep every request body in `received` (default true; a bench may not want them in memory). */
  keepBodies?: boolean;
}

export interface XdrSandbox {
  url: string;
  tokenUrl: string;
  /** XDR_INTEL_URL: the CTIA base. */
  intelUrl: string;
  standIn: StandIn;
  /** Calls per route (failed and dropped ones included). */
  calls: Record<XdrRoute, number>;
  /** Every request body received, oldest first. */
  received: string[];
  /** Entities stored, by stored id, in creation order. */
  stored: ReadonlyMap<string, StoredEntity>;
  /** The next `times` calls of `route` answer `status` (401 on import: an expired token); a 429 says Retry-After `retryAfter` (default 0). */
  failNext: (route: XdrRoute, times: number, status: number, retryAfter?: string) => void;
  /** Entities `refuse` picks are answered `result "error"` (as CTIA does for an entity past a limit), until reset with undefined. */
  refuseEntities: (refuse: ((entity: Readonly<Record<string, unknown>>) => boolean) | undefined) => void;
  /** Imports after the first `bundles` are stored, then the connection is dropped without an answer (until reset with undefined). */
  dropAfter: (bundles: number | undefined) => void;
  /** The sync's variables for this sandbox (its own API client) and a SpyCloud at `spycloudUrl` with `apiKey`. */
  syncEnv: (spycloudUrl: string, apiKey: string) => Record<string, string>;
  close: () => Promise<void>;
}

type Json = Record<string, unknown>;

// ---- CTIM schema as CTIA checks it: a failure refuses the whole bundle

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown) => typeof value === 'string';
const isTextList = (value: unknown) => Array.isArray(value) && value.every(isText);
const isTime = (value: unknown) => typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value));
const oneOf = (...values: string[]) => (value: unknown) => typeof value === 'string' && values.includes(value);
const SEVERITY = oneOf('Info', 'Low', 'Medium', 'High', 'Critical', 'None', 'Unknown');
const CONFIDENCE = oneOf('Info', 'Low', 'Medium', 'High', 'None', 'Unknown');
const isObservable = (value: unknown) => isObject(value) && isText(value.type) && isText(value.value) && value.value !== '';
const isObservedTime = (value: unknown) => isObject(value) && isTime(value.start_time) && (value.end_time === undefined || isTime(value.end_time));

type Field = (value: unknown) => boolean;
interface Schema {
  required: Record<string, Field>;
  optional: Record<string, Field>;
}

const BASE: Record<string, Field> = {
  schema_version: isText,
  external_ids: isTextList,
  tlp: (value) => typeof value === 'string' && TLPS.has(value),
  title: isText,
  short_description: isText,
  description: isText,
  source: isText,
  source_uri: (value) => typeof value === 'string' && URL.canParse(value),
  timestamp: isTime,
  language: isText,
  revision: Number.isInteger,
  external_references: (value) => Array.isArray(value) && value.every((ref) => isObject(ref) && isText(ref.source_name)
    && (ref.url === undefined || (isText(ref.url) && URL.canParse(ref.url as string))) && (ref.description === undefined || isText(ref.description))
    && (ref.external_id === undefined || isText(ref.external_id))),
};

const SCHEMAS: Readonly<Record<string, Schema>> = {
  incident: {
    required: {
      confidence: CONFIDENCE,
      status: oneOf('New', 'Open', 'Stalled', 'Containment Achieved', 'Restoration Achieved', 'Incident Reported', 'Closed', 'Rejected', 'Hold'),
      incident_time: (value) => isObject(value) && Object.values(value).every(isTime),
    },
    optional: { ...BASE, severity: SEVERITY, promotion_method: oneOf('Manual', 'Automated'), categories: isTextList, assignees: isTextList },
  },
  sighting: {
    required: { confidence: CONFIDENCE, count: (value) => Number.isInteger(value) && (value as number) >= 0, observed_time: isObservedTime },
    optional: {
      ...BASE, severity: SEVERITY, internal: (value) => typeof value === 'boolean',
      observables: (value) => Array.isArray(value) && value.every(isObservable),
      targets: (value) => Array.isArray(value) && value.every((t) => isObject(t) && isText(t.type) && Array.isArray(t.observables) && t.observables.every(isObservable) && isObservedTime(t.observed_time)),
      relations: (value) => Array.isArray(value) && value.every((r) => isObject(r) && isText(r.origin) && isText(r.relation) && isObservable(r.source) && isObservable(r.related)),
      data: (value) => isObject(value) && Array.isArray(value.columns) && value.columns.every((c) => isObject(c) && isText(c.name) && isText(c.type)) && Array.isArray(value.rows) && value.rows.every(Array.isArray),
    },
  },
  indicator: {
    required: { producer: isText, valid_time: (value) => isObject(value) && Object.values(value).every(isTime) },
    optional: { ...BASE, confidence: CONFIDENCE, tags: isTextList, severity: SEVERITY },
  },
  relationship: {
    required: { relationship_type: isText, source_ref: isText, target_ref: isText },
    optional: BASE,
  },
};

const COLLECTIONS: Readonly<Record<string, string>> = { incidents: 'incident', sightings: 'sighting', indicators: 'indicator', relationships: 'relationship' };

/** Where `value` holds a null at any depth (`''` for itself), or undefined: CTIM allows none. */
function nullAt(value: unknown): string | undefined {
  if (value === null) return '';
  if (typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const inner = nullAt(item);
    if (inner !== undefined) return `.${key}${inner}`;
  }
  return undefined;
}

/** Why `entity` (found in `collection`) breaks CTIM's schema, or undefined. */
function schemaProblem(entity: unknown, type: string): string | undefined {
  if (!isObject(entity)) return `a ${type} that is not an object`;
  if (entity.type !== type) return `a ${type} with type ${JSON.stringify(entity.type)}`;
  if (!isText(entity.id)) return `a ${type} without an id`;
  const schema = SCHEMAS[type] as Schema;
  for (const name of Object.keys(schema.required)) if (!(name in entity)) return `${entity.id}: missing required key ${name}`;
  for (const [name, value] of Object.entries(entity)) {
    if (name === 'type' || name === 'id') continue;
    const nullPath = nullAt(value);
    if (nullPath !== undefined) return `${entity.id}: ${name}${nullPath} is null`;
    const check = schema.required[name] ?? schema.optional[name];
    if (check === undefined) return `${entity.id}: disallowed key ${name}`;
    if (!check(value)) return `${entity.id}: invalid ${name}`;
  }
  return undefined;
}

/** Why `entity` passes a CTIM limit (fails alone), or undefined. */
function limitProblem(entity: Json): string | undefined {
  for (const [name, max] of Object.entries(TEXT_LIMITS)) {
    const value = entity[name];
    if (typeof value === 'string' && value.length > max) return `${name} longer than ${max} characters`;
  }
  if (typeof entity.tlp === 'string' && !TLPS_ALLOWED.has(entity.tlp)) return `tlp ${entity.tlp} is below green`;
  const times: unknown[] = [];
  const collect = (value: unknown, key: string) => {
    if (key.endsWith('_time') || key === 'opened' || key === 'discovered' || key === 'timestamp') {
      if (typeof value === 'string') times.push(value);
    }
    if (Array.isArray(value)) value.forEach((item) => collect(item, ''));
    else if (isObject(value) && key !== 'data') for (const [k, v] of Object.entries(value)) collect(v, k);
  };
  collect(entity, '');
  for (const time of times) {
    const ms = Date.parse(time as string);
    if (ms < TIME_MIN || ms > TIME_MAX) return `time ${String(time)} outside 1970–2525`;
  }
  return undefined;
}

// ---- the sandbox

const readBody = (req: IncomingMessage): Promise<string> => new Promise((resolve, reject) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  req.on('error', reject);
});

export async function startXdrSandbox(options: XdrSandboxOptions = {}): Promise<XdrSandbox> {
  const now = options.now ?? Date.now;
  const clients = options.clients ?? { [SANDBOX_XDR_CLIENT_ID]: SANDBOX_XDR_CLIENT_SECRET };
  const lifetimeS = options.tokenLifetimeS ?? 600;
  const tokens = new Map<string, number>();
  const stored = new Map<string, StoredEntity>();
  /** Prefixed external id → stored id. */
  const byExternalId = new Map<string, string>();
  const calls: Record<XdrRoute, number> = { token: 0, import: 0, status: 0 };
  const received: string[] = [];
  const keep = (body: string) => {
    if (options.keepBodies !== false) received.push(body);
  };
  const failures: Record<XdrRoute, { times: number; status: number; retryAfter?: string }> = { token: { times: 0, status: 0 }, import: { times: 0, status: 0 }, status: { times: 0, status: 0 } };
  let dropAfterBundles: number | undefined;
  let refuse: ((entity: Readonly<Record<string, unknown>>) => boolean) | undefined;
  let bundlesImported = 0;
  let baseUrl = '';

  /** An injected failure for `route`, if one is due. */
  const injected = (route: XdrRoute, res: ServerResponse): boolean => {
    const failure = failures[route];
    if (failure.times <= 0) return false;
    failure.times -= 1;
    const body = failure.status === 401 ? { error: 'jwt_expired', error_description: 'JWT expired' } : { error: `injected ${failure.status}` };
    res.writeHead(failure.status, { 'content-type': 'application/json', ...(failure.status === 429 ? { 'retry-after': failure.retryAfter ?? '0' } : {}) });
    res.end(JSON.stringify(body));
    return true;
  };

  const token: Handler = async (req, res, seen) => {
    calls.token += 1;
    const body = await readBody(req);
    keep(body);
    if (injected('token', res)) return;
    if (req.method !== 'POST') return json({ error: 'method_not_allowed' }, 405)(req, res, seen);
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [id, ...rest] = basic === undefined ? [] : Buffer.from(basic, 'base64').toString('utf8').split(':');
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') return json({ error: 'unsupported_grant_type' }, 400)(req, res, seen);
    if (id === undefined || clients[id] === undefined || clients[id] !== rest.join(':')) {
      return json({ error: 'invalid_client', error_description: 'Client authentication failed' }, 400)(req, res, seen);
    }
    const accessToken = `sandbox-xdr-token-${randomUUID()}`;
    tokens.set(accessToken, now() + lifetimeS * 1000);
    json({ access_token: accessToken, token_type: 'bearer', expires_in: lifetimeS, scope: 'private-intel' })(req, res, seen);
  };

  /** Answers 401 when the request's bearer token is unknown or expired (as CTIA does on every route). */
  const refusedBearer = (req: IncomingMessage, res: ServerResponse, seen: Seen): boolean => {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const expiresAt = bearer === undefined ? undefined : tokens.get(bearer);
    if (expiresAt !== undefined && expiresAt > now()) return false;
    const body = expiresAt === undefined ? { error: 'invalid_token', message: 'Invalid token' } : { error: 'jwt_expired', message: 'JWT expired' };
    json(body, 401)(req, res, seen);
    return true;
  };

  const bundleImport: Handler = async (req, res, seen) => {
    calls.import += 1;
    const body = await readBody(req);
    keep(body);
    if (injected('import', res)) return;
    const answer = (value: unknown, status = 200) => json(value, status)(req, res, seen);
    if (req.method !== 'POST') return answer({ error: 'method_not_allowed' }, 405);
    if (refusedBearer(req, res, seen)) return;
    const prefixes = (new URLSearchParams(seen.url.split('?')[1] ?? '').get('external-key-prefixes') ?? '').split(',').filter((p) => p !== '');
    let bundle: unknown;
    try {
      bundle = JSON.parse(body);
    } catch {
      return answer({ errors: 'Malformed JSON' }, 400);
    }
    if (!isObject(bundle) || bundle.type !== 'bundle' || !isText(bundle.source)) return answer({ errors: 'Not a bundle' }, 400);
    const entities: Array<{ entity: Json; type: string }> = [];
    for (const [key, value] of Object.entries(bundle)) {
      if (['type', 'source', 'id', 'schema_version', 'source_uri'].includes(key)) continue;
      const type = COLLECTIONS[key];
      if (type === undefined) return answer({ errors: { [key]: 'disallowed-key' } }, 400);
      if (!Array.isArray(value)) return answer({ errors: { [key]: 'not a list' } }, 400);
      for (const entity of value) {
        const problem = schemaProblem(entity, type);
        if (problem !== undefined) return answer({ errors: problem }, 400);
        entities.push({ entity: entity as Json, type });
      }
    }
    if (entities.length > MAX_BUNDLE_ENTITIES) return answer({ errors: `Bundle holds ${entities.length} entities; the limit is ${MAX_BUNDLE_ENTITIES}` }, 400);
    // Relationships last: their references resolve against the others' outcome.
    entities.sort((a, b) => Number(a.type === 'relationship') - Number(b.type === 'relationship'));
    const resolved = new Map<string, string>();
    // CTIA checks `exists` against the store as it was before the bundle: two entities
    // with one external id in a bundle are both created, so the new ids are registered after.
    const registered: Array<[string, string]> = [];
    const results: CtiaResult[] = entities.map(({ entity, type }) => {
      const originalId = entity.id as string;
      const externalIds = entity.external_ids;
      const keyed = (Array.isArray(externalIds) ? externalIds : []).filter((x): x is string => typeof x === 'string' && prefixes.some((p) => x.startsWith(p)));
      const result = (outcome: CtiaResult['result'], id?: string, error?: string): CtiaResult =>
        ({ ...(id === undefined ? {} : { id }), original_id: originalId, result: outcome, type, external_ids: externalIds, ...(error === undefined ? {} : { error }) });
      const existing = keyed.map((x) => byExternalId.get(x)).find((id) => id !== undefined);
      if (existing !== undefined) {
        resolved.set(originalId, existing);
        return result('exists', existing);
      }
      if (!originalId.startsWith('transient:')) return result('error', undefined, 'A new entity must have a transient id (403)');
      const limit = refuse?.(entity) === true ? 'refused by the test' : limitProblem(entity);
      if (limit !== undefined) return result('error', undefined, `Entity does not conform to CTIM limits: ${limit}`);
      const stored_: Json = { ...entity };
      if (type === 'relationship') {
        for (const ref of ['source_ref', 'target_ref'] as const) {
          const target = entity[ref] as string;
          if (target.startsWith('transient:')) {
            const id = resolved.get(target);
            if (id === undefined) return result('error', undefined, `Unresolvable transient reference ${target}`);
            stored_[ref] = id;
          }
        }
      }
      const id = `${baseUrl}/ctia/${type}/${type}-${randomUUID()}`;
      stored_.id = id;
      stored.set(id, { id, type, entity: stored_ });
      for (const x of keyed) registered.push([x, id]);
      resolved.set(originalId, id);
      return result('created', id);
    });
    for (const [x, id] of registered) byExternalId.set(x, id);
    bundlesImported += 1;
    if (dropAfterBundles !== undefined && bundlesImported > dropAfterBundles) {
      res.destroy();
      return;
    }
    answer({ results });
  };

  // CTIA's status route: doctor's check that the intel host answers, and takes the client's token.
  const status: Handler = (req, res, seen) => {
    calls.status += 1;
    if (injected('status', res) || refusedBearer(req, res, seen)) return;
    json({ status: 'ok' })(req, res, seen);
  };
  const standIn = await startStandIn({ [TOKEN_PATH]: token, [IMPORT_PATH]: bundleImport, '/ctia/status': status }, options);
  baseUrl = standIn.url;
  return {
    url: standIn.url,
    tokenUrl: `${standIn.url}${TOKEN_PATH}`,
    intelUrl: standIn.url,
    standIn,
    calls,
    received,
    stored,
    failNext: (route, times, status, retryAfter) => {
      failures[route] = { times, status, retryAfter };
    },
    syncEnv: (spycloudUrl, apiKey) => ({
      SPYCLOUD_API_KEY: apiKey,
      SPYCLOUD_API_URL: spycloudUrl,
      XDR_CLIENT_ID: SANDBOX_XDR_CLIENT_ID,
      XDR_CLIENT_SECRET: SANDBOX_XDR_CLIENT_SECRET,
      XDR_TOKEN_URL: `${standIn.url}${TOKEN_PATH}`,
      XDR_INTEL_URL: standIn.url,
    }),
    refuseEntities: (predicate) => {
      refuse = predicate;
    },
    dropAfter: (bundles) => {
      dropAfterBundles = bundles;
      bundlesImported = 0;
    },
    close: () => standIn.close(),
  };
}
