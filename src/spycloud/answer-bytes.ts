// A relay-wide cap on SpyCloud answer bytes held at once (RELAY.md §4.2): many
// tenants' large answers together must not exhaust the process's memory.
// Bytes are held as they arrive (a declared length that trickles in holds only
// what came; the transport takes a small declared answer, up to 64 KiB, whole
// when it fits), and released once the answer has been read
// (the caller parses it at once and keeps only the records it shows).
// Fair under pressure: room goes to whichever waiting chunk fits, so
// a small answer never waits behind a larger one; an answer that finds no room
// pauses its reading; and when every answer holding bytes is paused (none could
// ever release room), a paused answer of the key holding the most is failed, so
// the tenant pressing the cap loses, not the others.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thrown by `take` when no room came free in time, or when this answer had to give way. */
export class NoRoom extends Error {
  constructor() {
    super('no room for more SpyCloud answer bytes');
    this.name = 'NoRoom';
  }
}

/** The bytes one answer holds; from `open`, given back with `close`. */
export interface AnswerHold {
  readonly bytes: number;
}

interface Hold extends AnswerHold {
  readonly key: string;
  bytes: number;
  waiter: Waiter | undefined;
}

interface Waiter {
  hold: Hold;
  bytes: number;
  grant: () => void;
  fail: () => void;
}

export class AnswerBytes {
  private held = 0;
  /** Answers holding bytes now. */
  private readonly holders = new Set<Hold>();
  /** Bytes held per API key, for choosing who gives way. */
  private readonly byKey = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** An account for one answer of `key`, holding nothing yet. */
  open(key: string): AnswerHold {
    const hold: Hold = { key, bytes: 0, waiter: undefined };
    return hold;
  }

  /** Adds `bytes` to `hold` if they fit now, waiters or not (a call that fits never waits); never waits. */
  tryTake(answer: AnswerHold, bytes: number): boolean {
    if (this.held + bytes > this.capacity) return false;
    this.add(answer as Hold, bytes);
    return true;
  }

  /**
   * Adds `bytes` to `hold`, waiting at most `maxWaitMs` for room. Fails at once
   * when the answer would pass the whole cap (it could never fit).
   */
  take(answer: AnswerHold, bytes: number, maxWaitMs: number): Promise<void> {
    const hold = answer as Hold;
    if (hold.bytes + bytes > this.capacity) return Promise.reject(new NoRoom());
    if (this.tryTake(hold, bytes)) return Promise.resolve();
    if (maxWaitMs <= 0) return Promise.reject(new NoRoom());
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.unqueue(waiter);
        reject(new NoRoom());
      }, Math.min(maxWaitMs, MAX_TIMER_MS));
      const waiter: Waiter = {
        hold,
        bytes,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: () => {
          clearTimeout(timer);
          reject(new NoRoom());
        },
      };
      hold.waiter = waiter;
      this.waiting.push(waiter);
      this.settle();
    });
  }

  /** Gives back everything `hold` holds. */
  close(answer: AnswerHold): void {
    // Its reader closes it only once its last wait has ended, so it is never queued here.
    const hold = answer as Hold;
    if (hold.bytes > 0) {
      this.held -= hold.bytes;
      const left = (this.byKey.get(hold.key) ?? 0) - hold.bytes;
      if (left > 0) this.byKey.set(hold.key, left);
      else this.byKey.delete(hold.key);
      hold.bytes = 0;
      this.holders.delete(hold);
    }
    this.settle();
  }

  /** Bytes held now (for tests and the bench). */
  get inUse(): number {
    return this.held;
  }

  private add(hold: Hold, bytes: number): void {
    if (bytes === 0) return;
    this.held += bytes;
    hold.bytes += bytes;
    this.byKey.set(hold.key, (this.byKey.get(hold.key) ?? 0) + bytes);
    this.holders.add(hold);
  }

  private unqueue(waiter: Waiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
    waiter.hold.waiter = undefined;
  }

  /**
   * Grants every waiter that fits, those of keys holding the least first (so room
   * an answer gave back goes to the others before its own key), skipping those
   * that do not fit; then breaks a standstill.
   */
  private settle(): void {
    if (this.waiting.length === 0) return;
    const held = (waiter: Waiter) => this.byKey.get(waiter.hold.key) ?? 0;
    // Stable: equals keep their arrival order.
    const turns = this.waiting.length === 1 ? this.waiting.slice() : this.waiting.slice().sort((a, b) => held(a) - held(b));
    for (const waiter of turns) {
      if (this.held + waiter.bytes > this.capacity) continue;
      this.unqueue(waiter);
      this.add(waiter.hold, waiter.bytes);
      waiter.grant();
    }
    if (this.waiting.length === 0) return;
    // Room comes free only when an answer holding bytes finishes; if all of them wait, none will.
    for (const hold of this.holders) if (hold.waiter === undefined) return;
    // A standstill has a waiter holding bytes: with nothing held, any waiter would fit.
    const loser = this.waiting.reduce((worst, waiter) => (this.presses(waiter, worst) ? waiter : worst));
    this.unqueue(loser);
    // It gives its bytes back when its reader closes the hold; until then it counts as not waiting.
    loser.fail();
  }

  /** Whether `a` presses the cap more than `b`: its key holds more, or (same key total) it does. */
  private presses(a: Waiter, b: Waiter): boolean {
    const keyA = this.byKey.get(a.hold.key) ?? 0;
    const keyB = this.byKey.get(b.hold.key) ?? 0;
    return keyA !== keyB ? keyA > keyB : a.hold.bytes > b.hold.bytes;
  }
}
