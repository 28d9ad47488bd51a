// The incident's description (RELAY.md §10): what it says of passwords, whatever
// the case of SpyCloud's field names.
import { describe, expect, it } from 'vitest';
import { toIncident } from '../src/sync/incident.js';

const T = '2026-06-01T00:00:00.000000Z';
const incidentOf = (records: Array<Record<string, unknown>>) => toIncident({
  id: 'transient:incident-1', identity: 'j@x.example', sourceId: '7', catalog: undefined, records,
  severities: ['High'], discovered: T, opened: T,
});

describe('the incident of a sync', () => {
  it('counts records with a password, in any case of the field name, but not a password type alone', () => {
    expect(incidentOf([{ document_id: 'a', Password_Type: 'plaintext' }]).description).not.toContain('**Passwords:**');
    expect(incidentOf([{ document_id: 'a', PASSWORD_TYPE: 'bcrypt' }]).description).not.toContain('**Passwords:**');
    const both = incidentOf([{ document_id: 'a', Password_Plaintext: 'x', Password_Type: 'plaintext' }, { document_id: 'b', password: 'y' }]);
    expect(both.description).toContain('- **Passwords:** 2 records with a password');
  });

  it('counts infected machines whether SpyCloud gives their ids as strings or numbers', () => {
    const incident = incidentOf([
      { document_id: 'a', infected_machine_id: 'm-1' },
      { document_id: 'b', infected_machine_id: 4711 },
      { document_id: 'c', infected_machine_id: 4711 },
    ]);
    expect(incident.description).toContain('- **Infected machines:** 2');
    expect(incident.short_description).toContain('infostealer log');
  });
});
