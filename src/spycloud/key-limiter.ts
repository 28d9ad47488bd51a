// Caps concurrent upstream calls per API key (RELAY.md §4.2) so one busy tenant
// cannot exhaust its own SpyCloud rate limit or starve the others.
interface Lane {
  active: number;
  waiting: Array<() => void>;
}

export class KeyLimiter {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly maxConcurrent: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { active: 0, waiting: [] };
      this.lanes.set(key, lane);
    }
    if (lane.active >= this.maxConcurrent) await new Promise<void>((resolve) => lane.waiting.push(resolve));
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
}
