// The time every process of a shared store (Redis, PostgreSQL) agrees on: the store server's clock.
// Leases, due times and schedules are written by one process and compared by others, so a machine
// whose clock is off (minutes ahead or behind, or stepped by hand or by NTP) would otherwise take
// jobs that other workers still run (a second execution), start delayed jobs and schedules early or
// late, and see its own leases expire at once. This clock reads the server's time every few seconds
// and runs on the machine's clock in between, offset by the difference. Within the read's
// uncertainty (a same-machine server) the offset is 0, so such a store keeps the machine's time.
import { timerAt, type Clock } from './clock.js';

export interface SharedClockOptions {
  /** Read the server again this often (ms). */
  syncMs?: number;
  /** Fusion.open waits this long at most for the first read before it starts on the machine's clock (ms). */
  firstReadMs?: number;
}

/** A step of the machine's clock against its monotonic one larger than this is taken at once, not at the next read. */
const STEP_MS = 1000;
/** Reads per sync: the one that took the shortest round trip says the most. */
const SAMPLES = 3;
/** Until the first read succeeds, try again this often (ms). */
const RETRY_MS = 500;

export class SharedClock implements Clock {
  /** The server's clock minus this machine's, in ms (0 within the read's uncertainty). */
  offsetMs = 0;
  /** Whether a read has succeeded since the clock started. */
  synced = false;
  /** The last read's failure, if the last read failed. */
  lastError: Error | null = null;
  private readonly syncMs: number;
  private readonly firstReadMs: number;
  /** Date.now() minus performance.now() when last checked: it moves only when the wall clock is stepped. */
  private wallMinusMono = Date.now() - performance.now();
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  /** Steps of the wall clock seen so far: a read that spans one is not taken. */
  private steps = 0;
  private stopped = false;

  /** `readServer`: the server's time now, epoch ms (fractions allowed). */
  constructor(private readonly readServer: () => Promise<number>, opts: SharedClockOptions = {}) {
    this.syncMs = opts.syncMs ?? 5000;
    this.firstReadMs = opts.firstReadMs ?? 2000;
  }

  now(): number {
    const wall = Date.now();
    const step = wall - performance.now() - this.wallMinusMono;
    if (step > STEP_MS || step < -STEP_MS) this.stepped(step);
    return wall + this.offsetMs;
  }

  at(at: number, fn: () => void): () => void {
    return timerAt(() => this.now(), at, fn);
  }

  /**
   * Read the server once (waiting at most firstReadMs) and keep reading it every syncMs. A server
   * that does not answer in time leaves the machine's clock in use until it does.
   */
  async start(): Promise<this> {
    if (this.stopped || this.synced) return this;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([this.sync(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, this.firstReadMs)))]);
    clearTimeout(timeout);
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Read the server now (one read at a time), then again after syncMs. */
  sync(): Promise<void> {
    if (this.reading) return this.reading;
    const steps = this.steps;
    this.reading = this.read(steps).finally(() => {
      this.reading = null;
      if (this.stopped) return;
      if (this.timer) clearTimeout(this.timer);
      // A step of the wall clock during the read voided it: read again at once.
      const delay = steps !== this.steps ? 0 : this.synced ? this.syncMs : RETRY_MS;
      this.timer = setTimeout(() => void this.sync(), delay);
      this.timer.unref();
    });
    return this.reading;
  }

  private async read(steps: number): Promise<void> {
    let best: { offset: number; uncertainty: number } | null = null;
    try {
      for (let i = 0; i < SAMPLES; i++) {
        const sent = Date.now();
        const server = await this.readServer();
        const answered = Date.now();
        // The server read its clock somewhere between sent and answered: most likely half-way.
        const uncertainty = (answered - sent) / 2 + 1;
        if (!best || uncertainty < best.uncertainty) best = { offset: server - (sent + answered) / 2, uncertainty };
      }
    } catch (err) {
      this.lastError = err as Error;
      if (!best) return;
    }
    if (steps !== this.steps) return;
    const { offset, uncertainty } = best!;
    this.wallMinusMono = Date.now() - performance.now();
    // Differences the read cannot tell from its own round trip are not taken: the clock then does
    // not jitter back and forth by a millisecond or two between reads.
    const next = Math.abs(offset) <= uncertainty ? 0 : Math.round(offset);
    if (Math.abs(next - this.offsetMs) > uncertainty) this.offsetMs = next;
    this.synced = true;
    this.lastError = null;
  }

  /** The wall clock was stepped by `step` ms: keep the server's time steady until the next read confirms it. */
  private stepped(step: number): void {
    this.steps++;
    this.wallMinusMono += step;
    this.offsetMs -= Math.round(step);
    if (!this.stopped) void this.sync();
  }
}
