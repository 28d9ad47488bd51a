// Breach catalog → CTIM Indicator (RELAY.md §6). Pure; the id is stable per catalog.
import type { Catalog } from '../spycloud/types.js';
import { SCHEMA_VERSION, catalogUri, idText, isDefined, isPresent } from './common.js';
import { ctimTime } from './time.js';
import { NAMESPACE_X500, uuid5 } from './uuid.js';

export const indicatorId = (catalogId: string): string => `transient:indicator-${uuid5(NAMESPACE_X500, catalogId)}`;

// A Map, not an object: 'toString' or '1' must not find a confidence.
const CONFIDENCE: ReadonlyMap<unknown, string> = new Map([[1, 'High'], [2, 'Medium'], [3, 'Low']]);

const siteUrl = (site: string): string => (/^https?:\/\//i.test(site) ? site : `https://${site}`);

/** Only the fields the catalog has: a missing field leaves its CTIM field out, never null. */
const optional = (entries: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(entries).filter(([, value]) => isPresent(value)));

export function toIndicator(catalog: Catalog) {
  const id = String(catalog.id);
  const { site, site_description: siteDescription, description, title } = catalog;
  const uuid = idText(catalog.uuid);
  const references = [];
  if (typeof site === 'string' && site !== '' && site !== 'n/a' && isPresent(siteDescription)) {
    references.push({ source_name: 'Spycloud', description: siteDescription, url: siteUrl(site) });
  }
  const uri = catalogUri(catalog);
  if (uri !== undefined && isPresent(description)) {
    references.push({ source_name: 'Spycloud', description, url: uri, external_id: uuid });
  }
  const publishedAt = ctimTime(catalog.spycloud_publish_date);
  const assets = catalog.assets;
  return {
    type: 'indicator',
    id: indicatorId(id),
    schema_version: SCHEMA_VERSION,
    producer: 'Spycloud',
    ...optional({ title, short_description: title, description }),
    ...(publishedAt === undefined ? {} : { valid_time: { start_time: publishedAt } }),
    confidence: CONFIDENCE.get(catalog.confidence) ?? 'Low',
    external_ids: [id, uuid].filter(isDefined),
    external_references: references,
    tags: typeof assets === 'object' && assets !== null && !Array.isArray(assets) ? Object.keys(assets) : [],
  };
}

export type Indicator = ReturnType<typeof toIndicator>;

/**
 * Indicators by catalog, made once per catalog object: the catalog cache hands
 * every request the same object, so its indicator (uuid5 and all) is built once,
 * not once per answer. Weak: an evicted catalog takes its indicator along.
 */
export class IndicatorMemo {
  private readonly indicators = new WeakMap<Catalog, Indicator>();

  of(catalog: Catalog): Indicator {
    let indicator = this.indicators.get(catalog);
    if (indicator === undefined) {
      indicator = toIndicator(catalog);
      this.indicators.set(catalog, indicator);
    }
    return indicator;
  }
}
