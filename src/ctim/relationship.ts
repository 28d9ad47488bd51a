// Sighting → Indicator link that XDR draws as an edge (RELAY.md §6). Pure.
import { SCHEMA_VERSION } from './common.js';

export const toRelationship = (id: string, sightingId: string, indicatorId: string) => ({
  type: 'relationship',
  id: `transient:relationship-${id}`,
  schema_version: SCHEMA_VERSION,
  relationship_type: 'sighting-of',
  source_ref: sightingId,
  target_ref: indicatorId,
});

export type Relationship = ReturnType<typeof toRelationship>;
