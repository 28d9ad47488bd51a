// Breach catalog → CTIM Indicator (RELAY.md §6). Pure; the id is stable per catalog.
import type { Catalog } from '../spycloud/types.js';
import {
  MAX_DESCRIPTION, MAX_SHORT_DESCRIPTION, MAX_TITLE, SCHEMA_VERSION, catalogUri, cut, idText, isDefined, textOf,
} from './common.js';
import { siteUrl } from './site.js';
import { ctimTime } from './time.js';
import { NAMESPACE_X500, uuid5 } from './uuid.js';

export const indicatorId = (catalogId: string): string => `transient:indicator-${uuid5(NAMESPACE_X500, catalogId)}`;

// A Map, not an object: 'toString' or '1' must not find a confidence.
const CONFIDENCE: ReadonlyMap<unknown, string> = new Map([[1, 'High'], [2, 'Medium'], [3, 'Low']]);

/** Only the fields the catalog has: a missing field leaves its CTIM field out, never null. */
const optional = (entries: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as Record<string, string>;

const within = (text: string | undefined, max: number) => (text === undefined ? undefined : cut(text, max));

/** The keys of `assets`, each a CTIM tag (a short string, once). */
function tags(assets: unknown): string[] {
  if (typeof assets !== 'object' || assets === null || Array.isArray(assets)) return [];
  const keys = Object.keys(assets);
  return keys.every((key) => key.length <= MAX_TITLE) ? keys : [...new Set(keys.map((key) => cut(key, MAX_TITLE)))];
}

/**
 * `requestTime` is the valid time of a catalog without a usable publish date
 * (CTIM requires one), as it is the observed time of a record without one.
 */
export function toIndicator(catalog: Catalog, requestTime: string) {
  const id = String(catalog.id);
  const title = textOf(catalog.title);
  const description = textOf(catalog.description);
  const siteDescription = textOf(catalog.site_description);
  const uuid = idText(catalog.uuid);
  const references = [];
  const url = siteDescription === undefined ? undefined : siteUrl(catalog.site);
  if (url !== undefined && siteDescription !== undefined) {
    references.push({ source_name: 'Spycloud', description: cut(siteDescription, MAX_DESCRIPTION), url });
  }
  const uri = catalogUri(catalog);
  if (uri !== undefined && description !== undefined) {
    references.push({ source_name: 'Spycloud', description: cut(description, MAX_DESCRIPTION), url: uri, external_id: uuid });
  }
  return {
    type: 'indicator',
    id: indicatorId(id),
    schema_version: SCHEMA_VERSION,
    producer: 'Spycloud',
    ...optional({
      title: within(title, MAX_TITLE),
      short_description: within(title, MAX_SHORT_DESCRIPTION),
      description: within(description, MAX_DESCRIPTION),
    }),
    valid_time: { start_time: ctimTime(catalog.spycloud_publish_date) ?? requestTime },
    confidence: CONFIDENCE.get(catalog.confidence) ?? 'Low',
    external_ids: [id, uuid].filter(isDefined),
    external_references: references,
    tags: tags(catalog.assets),
  };
}

export type Indicator = ReturnType<typeof toIndicator>;

/**
 * Indicators by catalog, made once per catalog object: the catalog cache hands
 * every request the same object, so its indicator (uuid5 and all) is built once,
 * not once per answer. Weak: an evicted catalog takes its indicator along. A
 * catalog without a publish date is not kept: its valid time is each request's.
 */
export class IndicatorMemo {
  private readonly indicators = new WeakMap<Catalog, Indicator>();

  of(catalog: Catalog, requestTime: string): Indicator {
    let indicator = this.indicators.get(catalog);
    if (indicator === undefined) {
      indicator = toIndicator(catalog, requestTime);
      if (ctimTime(catalog.spycloud_publish_date) !== undefined) this.indicators.set(catalog, indicator);
    }
    return indicator;
  }
}
