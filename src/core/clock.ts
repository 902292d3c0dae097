// Time is passed in, never read deep inside logic, so tests can move it.

export interface Clock {
  now(): number;
  /** Call `fn` once the clock reaches `at` (epoch ms). Returns a cancel function. */
  at(at: number, fn: () => void): () => void;
  /**
   * Optional: false while the clock does not know the time it stands for yet (a shared store's,
   * before its first read of the server: shared-clock.ts). Workers, lease recovery and the
   * scheduler wait for ready() then, as their times would be compared with other processes'.
   */
  readonly synced?: boolean;
  ready?(): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    // setTimeout caps near 24.8 days; re-arm for longer waits. It also counts from the event loop's
    // cached time, which may lag the wall clock by a millisecond or more, so it can fire before
    // Date.now() reaches `at`: re-arm then, or a worker woken for a delayed job's due time would
    // claim a moment early, find the job not yet due and need a second timer and claim.
    const MAX = 2 ** 31 - 1;
    let t: NodeJS.Timeout;
    // `fn` never runs before at() returns (callers keep the cancel function first).
    const arm = (first: boolean) => {
      const d = at - Date.now();
      if (d <= 0 && !first) return fn();
      t = setTimeout(arm, Math.min(Math.max(0, d), MAX), false);
      t.unref?.();
    };
    arm(true);
    return () => clearTimeout(t);
  },
};

/** A clock that only moves when told to. Timers fire, in order, as it passes them. */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void; seq: number }[] = [];
  private seq = 0;
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  at(at: number, fn: () => void): () => void {
    const timer = { at, fn, seq: this.seq++ };
    this.timers.push(timer);
    if (at <= this.t) queueMicrotask(() => this.fireDue());
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  advance(ms: number): void {
    this.set(this.t + ms);
  }
  set(t: number): void {
    this.t = Math.max(this.t, t);
    this.fireDue();
  }
  private fireDue(): void {
    const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }
}
