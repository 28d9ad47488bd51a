// Caps concurrent upstream calls per API key (RELAY.md §4.2) so one busy tenant
// cannot exhaust its own SpyCloud rate limit or starve the others.
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Lane {
  active: number;
  waiting: Array<() => void>;
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

  constructor(private readonly maxConcurrent: number) {}

  /** Runs `task` once `key` has a free slot; waits at most `maxWaitMs` for one (a request's budget is finite). */
  async run<T>(key: string, task: () => Promise<T>, maxWaitMs = Number.POSITIVE_INFINITY): Promise<T> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { active: 0, waiting: [] };
      this.lanes.set(key, lane);
    }
    if (lane.active >= this.maxConcurrent) await this.slot(lane, maxWaitMs);
    else lane.active += 1;
    try {
      return await task();
    } finally {
      const next = lane.waiting.shift();
      // Hand the slot straight to the next waiter; forget idle keys so the map stays small.
      if (next !== undefined) next();
      else if (--lane.active === 0) this.lanes.delete(key);
    }
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
