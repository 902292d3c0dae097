// Event-loop lag: how late a timer runs. One process runs the API, the worker and the scheduler
// (`fusion start`), so a blocked loop stalls all three; /readyz reports it so a balancer sends
// traffic elsewhere, and /metrics shows it whether or not Node's process metrics are on.

/** Sampling period of the lag timer. */
const TICK_MS = 100;
/** The lag reported is the worst sample of this recent window, so a short stall is still seen by a poll. */
const WINDOW_MS = 1000;

export class LoopLag {
  private timer: NodeJS.Timeout | null = null;
  private last = 0;
  private samples: { at: number; lag: number }[] = [];
  private measuring = false;

  start(): this {
    if (this.timer) return this;
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const now = performance.now();
    if (!this.measuring) {
      // The first tick only sets the baseline: the process's own start-up work is not lag to report.
      this.measuring = true;
      this.last = now;
      return;
    }
    const lag = Math.max(0, now - this.last - TICK_MS);
    this.last = now;
    this.samples.push({ at: now, lag });
    while (this.samples.length > 0 && this.samples[0]!.at < now - WINDOW_MS) this.samples.shift();
  }

  /** Current lag in ms: the worst recent sample, or how overdue the next sample is (the loop was just blocked). */
  lagMs(): number {
    if (!this.timer || !this.measuring) return 0;
    const now = performance.now();
    let worst = Math.max(0, now - this.last - TICK_MS);
    for (const s of this.samples) if (s.at >= now - WINDOW_MS && s.lag > worst) worst = s.lag;
    return worst;
  }
}
