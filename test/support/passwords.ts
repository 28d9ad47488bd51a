// RELAY.md §6 password display, restated for tests on their own (never the relay's
// code): turns an expected plaintext answer into the masked or hidden one.

/** Keeps the first and last character of a longer value; a short one is all stars. */
const starred = (value: string): string =>
  value.length <= 3 ? value.replace(/./gsu, '*') : value.replace(/(?<=^.).+(?=.$)/su, (middle) => '*'.repeat([...middle].length));

const dropColumns = (sighting: any, drop: (name: string) => boolean) => {
  const kept = sighting.data.columns.map((column: { name: string }, n: number) => (drop(column.name) ? -1 : n)).filter((n: number) => n >= 0);
  sighting.data.columns = kept.map((n: number) => sighting.data.columns[n]);
  sighting.data.rows = sighting.data.rows.map((row: unknown[]) => kept.map((n: number) => row[n]));
};

/** The same answer as a relay in `masked` mode gives it. */
export function maskedAnswer(plaintextAnswer: any): any {
  const answer = structuredClone(plaintextAnswer);
  for (const sighting of answer.data?.sightings?.docs ?? []) {
    dropColumns(sighting, (name) => name === 'salt');
    sighting.data.columns.forEach((column: { name: string }, n: number) => {
      if (!column.name.startsWith('password') || column.name === 'password_type') return;
      for (const row of sighting.data.rows) row[n] = Array.isArray(row[n]) ? row[n].map(starred) : starred(String(row[n]));
    });
  }
  return answer;
}

/** The same answer as a relay in `hidden` mode gives it. */
export function hiddenAnswer(plaintextAnswer: any): any {
  const answer = structuredClone(plaintextAnswer);
  for (const sighting of answer.data?.sightings?.docs ?? []) {
    dropColumns(sighting, (name) => name === 'salt' || (name.startsWith('password') && name !== 'password_type'));
  }
  return answer;
}

/** Every password-like value in a SpyCloud answer's records. */
export const passwordsOf = (spycloudAnswer: { results: Array<Record<string, unknown>> }): string[] =>
  spycloudAnswer.results
    .flatMap((r) => [r.password, r.password_plaintext, r.salt])
    .filter((p): p is string => typeof p === 'string' && p !== '');
