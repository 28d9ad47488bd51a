// Caps concurrent upstream calls per API key (RELAY.md §4.2) so one busy tenant
// cannot exhaust its own SpyCloud rate limit or starve the others. The cap adapts
// (AIMD): it starts low, grows while SpyCloud answers without throttling (one
// more slot per answer until the first throttling, then one per window of answers),
// and halves on a throttling 429 or a Retry-After.
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Keys whose learned limit is remembered while idle; the least recently used are forgotten. */
const REMEMBERED_KEYS = 10_000;

/** What one call's answer says about the key's limit. */
export type Feedback = 'grow' | 'shrink' | 'hold';

interface Lane {
  active: number;
  waiting: Array<() => void>;
  limit: number;
  /** Answers counted towards the next additive step, after the first throttling. */
  credit: number;
  throttled: boolean;
  /** Bumped on every halving: answers to calls started before it do not halve again. */
  epoch: number;
}

/** Thrown by `run` when no slot came free within the wait it was allowed. */
export class QueueTimeout extends Error {
  constructor() {
    super('no free slot in time');
    this.name = 'QueueTimeout';
  }
}

export class KeyLimiter {
  private readonly lanes = new Map<string, Lane>();

  /** `maxConcurrent` is the ceiling; a key starts at `initial` calls in flight. */
  constructor(
    private readonly maxConcurrent: number,
    private readonly initial = Math.min(8, maxConcurrent),
  ) {}

  /** Calls `key` may have in flight now. */
  limit(key: string): number {
    return this.lanes.get(key)?.limit ?? this.initial;
  }

  /**
   * Runs `task` once `key` has a free slot; waits at most `maxWaitMs` for one (a
   * request's budget is finite). `feedback` reads the task's result for the AIMD limit.
   */
  async run<T>(key: string, task: () => Promise<T>, maxWaitMs = Number.POSITIVE_INFINITY, feedback?: (result: T) => Feedback): Promise<T> {
    const lane = this.lane(key);
    if (lane.active >= lane.limit) await this.slot(lane, maxWaitMs);
    else lane.active += 1;
    const epoch = lane.epoch;
    try {
      const result = await task();
      if (feedback !== undefined) this.adapt(lane, feedback(result), epoch);
      return result;
    } finally {
      lane.active -= 1;
      this.wake(lane);
      this.forgetIdle(key, lane);
    }
  }

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { active: 0, waiting: [], limit: this.initial, credit: 0, throttled: false, epoch: 0 };
    }
    // Re-insert: the first key of the Map is then the least recently used.
    this.lanes.delete(key);
    this.lanes.set(key, lane);
    if (this.lanes.size > REMEMBERED_KEYS) {
      for (const [oldKey, old] of this.lanes) {
        if (old.active === 0 && old.waiting.length === 0) {
          this.lanes.delete(oldKey);
          break;
        }
      }
    }
    return lane;
  }

  private adapt(lane: Lane, feedback: Feedback, epoch: number): void {
    if (feedback === 'shrink') {
      if (epoch !== lane.epoch) return;
      lane.limit = Math.max(1, Math.floor(lane.limit / 2));
      lane.throttled = true;
      lane.credit = 0;
      lane.epoch += 1;
    } else if (feedback === 'grow' && lane.limit < this.maxConcurrent) {
      // Before any throttling: one more slot per answer (doubling per round trip); after: one per window.
      lane.credit += 1;
      if (!lane.throttled || lane.credit >= lane.limit) {
        lane.limit += 1;
        lane.credit = 0;
      }
    }
  }

  /** Hands free slots to waiters, in arrival order. */
  private wake(lane: Lane): void {
    while (lane.active < lane.limit && lane.waiting.length > 0) {
      lane.active += 1;
      (lane.waiting.shift() as () => void)();
    }
  }

  /** An idle key at its starting limit carries nothing worth keeping. */
  private forgetIdle(key: string, lane: Lane): void {
    if (lane.active === 0 && lane.waiting.length === 0 && lane.limit === this.initial && !lane.throttled) this.lanes.delete(key);
  }

  private slot(lane: Lane, maxWaitMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // Beyond a timer's range (about 24.8 days) setTimeout would fire at once: treat as no limit.
      const timer = maxWaitMs < MAX_TIMER_MS
        ? setTimeout(() => {
            lane.waiting.splice(lane.waiting.indexOf(take), 1);
            reject(new QueueTimeout());
          }, Math.max(0, maxWaitMs))
        : undefined;
      const take = () => {
        clearTimeout(timer);
        resolve();
      };
      lane.waiting.push(take);
    });
  }
}
