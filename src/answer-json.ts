// An answer as JSON text without blocking the event loop: a 5,000-sighting
// answer is megabytes, and one JSON.stringify of it would stall every other
// tenant's requests. Long arrays near the top are written in slices with a pause
// between slices; the text is exactly what JSON.stringify would give.

/** Elements written between two pauses. */
const SLICE = 250;
/** Objects deeper than this are small (one CTIM entity and below): one JSON.stringify each. */
const MAX_SPLIT_DEPTH = 4;

export type Pause = () => Promise<void>;

/** Gives other requests (and their I/O) a turn: setImmediate runs after pending I/O callbacks. */
export const nextTurn: Pause = () => new Promise((resolve) => setImmediate(resolve));

const skipped = (value: unknown): boolean =>
  value === undefined || typeof value === 'function' || typeof value === 'symbol';

async function write(value: unknown, depth: number, out: string[], pause: Pause, budget: { left: number }): Promise<void> {
  if (depth >= MAX_SPLIT_DEPTH || typeof value !== 'object' || value === null || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    out.push(JSON.stringify(value) ?? 'null');
    budget.left -= 1;
    return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      const item: unknown = value[i];
      if (skipped(item)) out.push('null');
      else await write(item, depth + 1, out, pause, budget);
      if (budget.left <= 0) {
        await pause();
        budget.left = SLICE;
      }
    }
    out.push(']');
    return;
  }
  out.push('{');
  let first = true;
  for (const [key, item] of Object.entries(value)) {
    if (skipped(item)) continue;
    out.push(first ? '' : ',', JSON.stringify(key), ':');
    first = false;
    await write(item, depth + 1, out, pause, budget);
  }
  out.push('}');
}

/** JSON.stringify(value), pausing after every few hundred entities. */
export async function stringifyYielding(value: unknown, pause: Pause = nextTurn): Promise<string> {
  const out: string[] = [];
  await write(value, 0, out, pause, { left: SLICE });
  return out.join('');
}
