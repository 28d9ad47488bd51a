// Fair shares of the relay-wide SpyCloud connections (RELAY.md §4.2).
// undici's pool serves calls in arrival order, so a few busy keys (each up to
// SPYCLOUD_MAX_CONCURRENCY calls) could fill it and a light tenant would queue
// behind all their calls. In front of the pool, every SpyCloud call takes one of
// SPYCLOUD_MAX_CONNECTIONS slots first; a slot that comes free goes to the waiting
// key with the fewest calls holding slots (of those, the one whose turn is
// oldest), so a light key's call is next whatever a busy key has queued. A few
// slots (1 in 32, at most 8) stay for keys with fewer calls than that on
// connections: when busy keys' calls all started together, their slots also come
// free together, and a light key arriving in between must not wait for them.
import { QueueTimeout } from './key-limiter.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Share {
  using: number;
  waiting: Array<() => void>;
}

export class ConnectionSlots {
  private used = 0;
  /** Keys holding or waiting for slots. */
  private readonly shares = new Map<string, Share>();
  /** Keys with calls waiting, oldest turn first. */
  private readonly queued = new Map<string, Share>();

  private readonly reserve: number;

  constructor(readonly capacity: number) {
    this.reserve = Math.min(8, Math.floor(capacity / 32));
  }

  /** Whether a key holding `using` slots may take a free one now (the reserve is for light keys). */
  private mayTake(using: number): boolean {
    const free = this.capacity - this.used;
    return free > 0 && (using < this.reserve || free > this.reserve);
  }

  /** Takes a slot for a call of `key` if one may be taken now; never waits. */
  tryAcquire(key: string): boolean {
    // Release hands each freed slot on at once, so only the reserve is ever free while keys wait.
    if (!this.mayTake(this.shares.get(key)?.using ?? 0)) return false;
    this.used += 1;
    const share = this.shares.get(key);
    if (share === undefined) this.shares.set(key, { using: 1, waiting: [] });
    else share.using += 1;
    return true;
  }

  /** Takes a slot for a call of `key`, waiting at most `maxWaitMs` (QueueTimeout after that). */
  acquire(key: string, maxWaitMs: number): Promise<void> {
    if (this.tryAcquire(key)) return Promise.resolve();
    let share = this.shares.get(key);
    if (share === undefined) {
      share = { using: 0, waiting: [] };
      this.shares.set(key, share);
    }
    if (maxWaitMs <= 0) {
      this.forgetIdle(key, share);
      return Promise.reject(new QueueTimeout());
    }
    const waiting = share;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.waiting.splice(waiting.waiting.indexOf(take), 1);
        if (waiting.waiting.length === 0) this.queued.delete(key);
        this.forgetIdle(key, waiting);
        reject(new QueueTimeout());
      }, Math.min(maxWaitMs, MAX_TIMER_MS));
      const take = () => {
        clearTimeout(timer);
        resolve();
      };
      waiting.waiting.push(take);
      if (!this.queued.has(key)) this.queued.set(key, waiting);
    });
  }

  /** Gives back a slot of `key` and hands it to the next call by the rule above. */
  release(key: string): void {
    const share = this.shares.get(key);
    if (share === undefined) return;
    share.using -= 1;
    this.used -= 1;
    this.forgetIdle(key, share);
    let nextKey: string | undefined;
    let next: Share | undefined;
    for (const [candidateKey, candidate] of this.queued) {
      if (next === undefined || candidate.using < next.using) {
        nextKey = candidateKey;
        next = candidate;
        if (candidate.using === 0) break;
      }
    }
    // The fewest: if this key may not dip into the reserve, nobody waiting may.
    if (next === undefined || nextKey === undefined || !this.mayTake(next.using)) return;
    const take = next.waiting.shift() as () => void;
    next.using += 1;
    this.used += 1;
    // Served: its next turn comes after every other waiting key's.
    this.queued.delete(nextKey);
    if (next.waiting.length > 0) this.queued.set(nextKey, next);
    take();
  }

  /** Slots in use now (for tests). */
  get inUse(): number {
    return this.used;
  }

  private forgetIdle(key: string, share: Share): void {
    if (share.using === 0 && share.waiting.length === 0) this.shares.delete(key);
  }
}
