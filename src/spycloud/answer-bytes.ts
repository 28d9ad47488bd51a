// A relay-wide cap on SpyCloud answer bytes held at once (issue 7): many
// tenants' large answers together must not exhaust the process's memory. Bytes
// are reserved as an answer arrives and released once it has been read (the
// caller parses it at once and keeps only the records it shows), so a request
// never holds room while it waits for more.
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Waiter {
  bytes: number;
  grant: () => void;
}

/** Thrown by `reserve` when no room came free within the wait it was allowed. */
export class NoRoom extends Error {
  constructor() {
    super('no room for more SpyCloud answer bytes');
    this.name = 'NoRoom';
  }
}

export class AnswerBytes {
  private held = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly capacity: number) {}

  /** Reserves `bytes`, waiting at most `maxWaitMs` for room; first come, first served. */
  reserve(bytes: number, maxWaitMs: number): Promise<void> {
    if (this.waiting.length === 0 && this.held + bytes <= this.capacity) {
      this.held += bytes;
      return Promise.resolve();
    }
    if (maxWaitMs <= 0) return Promise.reject(new NoRoom());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new NoRoom());
        // The head may have been what blocked the others.
        this.grantWaiting();
      }, Math.min(maxWaitMs, MAX_TIMER_MS));
      this.waiting.push(waiter);
    });
  }

  /**
   * Reserves `bytes` now if they fit, waiters or not: for an answer already being
   * read, which must never wait while it holds room (two such could wait on each other).
   */
  tryReserve(bytes: number): boolean {
    if (this.held + bytes > this.capacity) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
    this.grantWaiting();
  }

  /** Bytes reserved now (for tests and the bench). */
  get inUse(): number {
    return this.held;
  }

  private grantWaiting(): void {
    while (this.waiting.length > 0) {
      const head = this.waiting[0] as Waiter;
      if (this.held + head.bytes > this.capacity) return;
      this.waiting.shift();
      this.held += head.bytes;
      head.grant();
    }
  }
}
