// Incident groups → CTIM bundles for CTIA's import (RELAY.md §10): at most
// MAX_ENTITIES each (CTIA's own limit is 2,000), an incident always in the same
// bundle as its members and their relationships. A group too large for one bundle
// is split; each part carries the incident again, in a bundle of its own (CTIA
// checks `exists` against what was stored before a bundle), which CTIA answers
// `exists` and whose references it replaces by the stored id. Pure.
import { MODULE_NAME } from './incident.js';
import type { IncidentGroup, SyncIndicator } from './mapping.js';

const MAX_ENTITIES = 1000;

export interface Bundle {
  type: 'bundle';
  source: string;
  incidents: IncidentGroup['incident'][];
  sightings: IncidentGroup['members'][number]['sighting'][];
  indicators: SyncIndicator[];
  relationships: IncidentGroup['members'][number]['relationships'][number][];
}

const entityCount = (bundle: Bundle): number =>
  bundle.incidents.length + bundle.sightings.length + bundle.indicators.length + bundle.relationships.length;

const groupSize = (group: IncidentGroup): number =>
  1 + (group.indicator === undefined ? 0 : 1) + group.members.reduce((n, m) => n + 1 + m.relationships.length, 0);

/** `group` in parts that each fit `max` entities (members of 3 entities at most). */
function parts(group: IncidentGroup, max: number): IncidentGroup[] {
  if (groupSize(group) <= max) return [group];
  const perPart = Math.max(1, Math.floor((max - 2) / 3));
  const split: IncidentGroup[] = [];
  for (let i = 0; i < group.members.length; i += perPart) split.push({ ...group, members: group.members.slice(i, i + perPart) });
  return split;
}

const emptyBundle = (): Bundle => ({ type: 'bundle', source: MODULE_NAME, incidents: [], sightings: [], indicators: [], relationships: [] });

export function bundlesOf(groups: readonly IncidentGroup[], max = MAX_ENTITIES): Bundle[] {
  const bundles: Bundle[] = [];
  let current = emptyBundle();
  let size = 0;
  for (const part of groups.flatMap((group) => parts(group, max))) {
    const needsIndicator = part.indicator !== undefined && !current.indicators.includes(part.indicator);
    const partSize = groupSize(part) - (part.indicator !== undefined && !needsIndicator ? 1 : 0);
    // Another part of the same incident starts a bundle of its own: CTIA would create the incident twice in one bundle.
    if (size > 0 && (size + partSize > max || current.incidents.includes(part.incident))) {
      bundles.push(current);
      current = emptyBundle();
    }
    current.incidents.push(part.incident);
    if (part.indicator !== undefined && !current.indicators.includes(part.indicator)) current.indicators.push(part.indicator);
    for (const member of part.members) {
      current.sightings.push(member.sighting);
      for (const relationship of member.relationships) current.relationships.push(relationship);
    }
    size = entityCount(current);
  }
  if (size > 0) bundles.push(current);
  return bundles;
}
