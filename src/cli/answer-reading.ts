// Reading a relay answer back for a person (the `lookup` and `demo` summaries):
// the pieces both need, so that they never tell the same answer two ways.

/** §6's severity levels, worst first (Unknown: no usable severity). */
export const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'Unknown'] as const;

/** Counts of equal items, in order of first appearance. */
export function tally(items: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

type Doc = Record<string, unknown>;
const docsOf = (data: unknown, key: string): Doc[] => {
  const list = (data as Record<string, { docs?: unknown }> | undefined)?.[key]?.docs;
  return Array.isArray(list) ? list.filter((d): d is Doc => typeof d === 'object' && d !== null) : [];
};

/**
 * The breach title of each sighting of an answer's `data`, by sighting id: the
 * title of the indicator its relationship points at (`catalog <id>` when the
 * catalog has none); undefined for a sighting without catalog.
 */
export function breachTitles(data: unknown): (sightingId: unknown) => string | undefined {
  const titles = new Map(docsOf(data, 'indicators').map((i) => {
    const ids = Array.isArray(i.external_ids) ? i.external_ids : [];
    return [i.id, typeof i.title === 'string' && i.title !== '' ? i.title : `catalog ${String(ids[0])}`];
  }));
  const bySighting = new Map(docsOf(data, 'relationships').map((r) => [r.source_ref, titles.get(r.target_ref)]));
  return (sightingId) => bySighting.get(sightingId);
}
