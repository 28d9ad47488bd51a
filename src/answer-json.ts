// The JSON text of an /observe/observables answer, written the way its shape
// allows: a 5,000-sighting answer is megabytes, and one JSON.stringify of it would
// stall every other tenant's requests, so long `docs` lists are written in slices
// with a turn for other requests between slices. A small answer is one
// JSON.stringify. The text is exactly JSON.stringify's.
import type { Envelope } from './errors.js';

/** Entities written between two pauses. */
const SLICE = 250;

export type Pause = () => Promise<void>;

/** Gives other requests (and their I/O) a turn: setImmediate runs after pending I/O callbacks. */
export const nextTurn: Pause = () => new Promise((resolve) => setImmediate(resolve));


const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';

const written = (value: unknown): boolean =>
  value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';

/** Whether some entity list of `data` is long enough to be written in slices. */
function hasLongList(data: unknown): boolean {
  if (!isPlainObject(data)) return false;
  return Object.values(data).some((list) => isPlainObject(list) && Array.isArray(list.docs) && list.docs.length > SLICE);
}

/**
 * Writes into `parts`; yields where a pause is due (between slices of a long list),
 * so a small answer is written in one go without a single await.
 */
class AnswerWriter {
  readonly parts: string[] = [];

  /** `{"k":v,…}`, each value written by `write`. */
  *object(value: Record<string, unknown>, write: (key: string, item: unknown) => Generator<void>): Generator<void> {
    this.parts.push('{');
    let first = true;
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (!written(item)) continue;
      this.parts.push(first ? '' : ',', JSON.stringify(key), ':');
      first = false;
      yield* write(key, item);
    }
    this.parts.push('}');
  }

  // A generator so that it fits `write`; it never pauses.
  // eslint-disable-next-line require-yield
  *plain(value: unknown): Generator<void> {
    this.parts.push(JSON.stringify(value));
  }

  /** `data`: each entity list (`{"count","docs"}`) with its docs written in slices. */
  *data(value: unknown): Generator<void> {
    if (!isPlainObject(value)) return yield* this.plain(value);
    yield* this.object(value, (_key, list) => (isPlainObject(list)
      ? this.object(list, (name, docs) => (name === 'docs' && Array.isArray(docs) ? this.docs(docs) : this.plain(docs)))
      : this.plain(list)));
  }

  private *docs(docs: readonly unknown[]): Generator<void> {
    this.parts.push('[');
    for (let start = 0; start < docs.length; start += SLICE) {
      if (start > 0) {
        this.parts.push(',');
        yield;
      }
      const slice = docs.length <= SLICE ? docs : docs.slice(start, start + SLICE);
      this.parts.push(JSON.stringify(slice).slice(1, -1));
    }
    this.parts.push(']');
  }
}

/** JSON.stringify(body) for the answer envelope, pausing between slices of long entity lists. */
export async function answerJson(body: Envelope, pause: Pause = nextTurn): Promise<string> {
  // Most answers are small: one JSON.stringify is then the fastest way, with nothing to copy after.
  if (!hasLongList(body.data)) return JSON.stringify(body);
  const writer = new AnswerWriter();
  const steps = writer.object(body as Record<string, unknown>, (key, item) => (key === 'data' ? writer.data(item) : writer.plain(item)));
  for (let step = steps.next(); step.done !== true; step = steps.next()) await pause();
  return writer.parts.join('');
}
