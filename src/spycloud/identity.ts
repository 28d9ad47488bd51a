// Whose credentials a breach record holds: the case-folded email, else the
// username. The sync's incidents and the tiles' "exposed identities" count alike.
import type { Observable } from '../observe.js';
import type { BreachRecord } from './types.js';

export function identityOf(record: BreachRecord): Observable | undefined {
  const { email, username } = record;
  if (typeof email === 'string' && email.trim() !== '') return { type: 'email', value: email.trim().toLowerCase() };
  if (typeof username === 'string' && username.trim() !== '') return { type: 'user', value: username.trim() };
  return undefined;
}
