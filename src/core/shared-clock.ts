// The time every process of a shared store (Redis, PostgreSQL) agrees on: the store server's clock.
// Leases, due times and schedules are written by one process and compared by others, so a machine
// whose clock is off (minutes ahead or behind, or stepped by hand or by NTP) would otherwise take
// jobs that other workers still run (a second execution), start delayed jobs and schedules early or
// late, and see its own leases expire at once. This clock reads the server's time every few seconds
// and runs on the machine's clock in between, offset by the difference. Within the read's
// uncertainty (a same-machine server) the offset is 0, so such a store keeps the machine's time.
//
// Reads are timed on the monotonic clock, which no one steps. The wall clock's distance from it
// moves only when the wall clock is stepped: now() checks it on every call and takes a step back at
// once (the offset absorbs it), and reads again at once to confirm. A suspend also moves it (the
// monotonic clock stops, the wall clock does not); there the boot clock moved as far, the wall clock
// is right, and nothing is taken back.
import { readFileSync } from 'node:fs';
import type { Clock } from './clock.js';

export interface SharedClockOptions {
  /** Read the server again this often (ms). */
  syncMs?: number;
  /** start() waits this long at most for the first read before the machine's clock stands in (ms). */
  firstReadMs?: number;
  /** A read that takes longer than this failed (ms). */
  readTimeoutMs?: number;
  /** Time since boot including suspends, ms (default: /proc/uptime on Linux, else none). */
  bootMs?: () => number | null;
}

/** Called when the offset changes: the new one, and the one before (ms). */
export type OffsetListener = (offsetMs: number, previousMs: number) => void;

/** A move of the wall clock against the monotonic one larger than this is a step (or a suspend). */
const STEP_MS = 1000;
/** Reads per sync: the one that took the shortest round trip says the most. */
const SAMPLES = 3;
/** Until the first read succeeds, try again this often (ms). */
const RETRY_MS = 500;
/** setTimeout's longest wait. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Timer {
  at: number;
  fn: () => void;
  handle?: NodeJS.Timeout;
}

/** CLOCK_BOOTTIME in ms on Linux (/proc/uptime, 10 ms steps): it goes on through a suspend. */
function procUptimeMs(): number | null {
  try {
    return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  } catch {
    return null;
  }
}

export class SharedClock implements Clock {
  /** The server's clock minus this machine's, in ms (0 within the read's uncertainty). */
  offsetMs = 0;
  /** Whether a read has succeeded since the clock started. */
  synced = false;
  /** The last read's failure, if the last read failed. */
  lastError: Error | null = null;
  private readonly syncMs: number;
  private readonly firstReadMs: number;
  private readonly readTimeoutMs: number;
  private readonly bootMs: () => number | null;
  /** Date.now() minus performance.now(): it moves only when the wall clock is stepped (or the machine suspended). */
  private wallMinusMono = 0;
  /** The boot clock minus the monotonic one: it grows by the length of each suspend. */
  private bootMinusMono: number | null = null;
  private readonly timers = new Set<Timer>();
  private readonly listeners = new Set<OffsetListener>();
  private syncTimer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private firstRead: { promise: Promise<void>; resolve(): void } | null = null;
  /** Steps of the wall clock seen so far: a read that spans one is not taken. */
  private steps = 0;
  /** A step was taken back and no read has confirmed the time since: read again soon, not in syncMs. */
  private stepUnconfirmed = false;
  private started = false;
  private stopped = false;

  /** `readServer`: the server's time now, epoch ms (fractions allowed). */
  constructor(private readonly readServer: () => Promise<number>, opts: SharedClockOptions = {}) {
    this.syncMs = opts.syncMs ?? 5000;
    this.firstReadMs = opts.firstReadMs ?? 2000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 5000;
    this.bootMs = opts.bootMs ?? procUptimeMs;
    this.rebase();
  }

  now(): number {
    const wall = Date.now();
    const moved = wall - performance.now() - this.wallMinusMono;
    if (moved > STEP_MS || moved < -STEP_MS) this.wallMoved(moved);
    return wall + this.offsetMs;
  }

  /**
   * Call `fn` once the clock reaches `at`. When a read moves the clock back, pending timers move
   * back as far: each then fires at the moment it would have before, not late by the move (a
   * heartbeat late by a minute loses its leases). A move ahead leaves them where they are: a timer
   * for a span (an attempt's timeout) must not fire early, and one for a due time fires at most the
   * move late, after which its user looks again.
   */
  at(at: number, fn: () => void): () => void {
    const timer: Timer = { at, fn };
    this.timers.add(timer);
    this.arm(timer);
    return () => {
      clearTimeout(timer.handle);
      this.timers.delete(timer);
    };
  }

  /** Listen to changes of the offset (a read that found the clocks apart, a step of the wall clock). */
  watch(listener: OffsetListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Read the server once (waiting at most firstReadMs) and keep reading it every syncMs. A server
   * that does not answer in time leaves the machine's clock standing in until it does.
   */
  async start(): Promise<this> {
    // Started already (openStore did, then Fusion.open): the first wait is not made twice.
    if (this.stopped || this.synced || this.started) return this;
    this.started = true;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([this.sync(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, this.firstReadMs)))]);
    clearTimeout(timeout);
    return this;
  }

  /** Resolves at the first read that succeeds (starting the clock if it was not). */
  ready(): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (!this.firstRead) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.firstRead = { promise, resolve };
    }
    if (!this.started) void this.start();
    return this.firstRead.promise;
  }

  stop(): void {
    this.stopped = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
  }

  /** Read the server now (one read at a time), then again after syncMs. */
  sync(): Promise<void> {
    if (this.reading) return this.reading;
    const steps = this.steps;
    this.reading = this.read(steps).finally(() => {
      this.reading = null;
      if (this.stopped) return;
      if (this.syncTimer) clearTimeout(this.syncTimer);
      // A step of the wall clock during the read voided it: read again at once.
      const delay = steps !== this.steps ? 0 : this.synced && !this.stepUnconfirmed ? this.syncMs : RETRY_MS;
      this.syncTimer = setTimeout(() => void this.sync(), delay);
      this.syncTimer.unref();
    });
    return this.reading;
  }

  private async read(steps: number): Promise<void> {
    this.now(); // takes a step since the last read, if there was one
    if (steps !== this.steps) return;
    // A move under STEP_MS (no step to now()) shows in this read instead: the baselines start
    // from the clocks as they are.
    this.rebase();
    let best: { offset: number; uncertainty: number } | null = null;
    try {
      for (let i = 0; i < SAMPLES; i++) {
        const sent = performance.now();
        const server = await this.withTimeout(this.readServer());
        const answered = performance.now();
        this.now(); // takes a step of the wall clock during the read, if there was one
        if (steps !== this.steps) return;
        // The server read its clock somewhere between sent and answered: most likely half-way.
        const uncertainty = (answered - sent) / 2 + 1;
        const wall = this.wallMinusMono + (sent + answered) / 2;
        if (!best || uncertainty < best.uncertainty) best = { offset: server - wall, uncertainty };
      }
    } catch (err) {
      this.lastError = err as Error;
      if (!best) return;
    }
    const { offset, uncertainty } = best!;
    // Differences the read cannot tell from its own round trip are not taken: the clock then does
    // not jitter back and forth by a millisecond or two between reads.
    const next = Math.abs(offset) <= uncertainty ? 0 : Math.round(offset);
    if (Math.abs(next - this.offsetMs) > uncertainty) this.setOffset(next, true);
    this.synced = true;
    this.stepUnconfirmed = false;
    this.lastError = null;
    this.firstRead?.resolve();
  }

  private withTimeout(read: Promise<number>): Promise<number> {
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => reject(new Error(`the server's time took over ${this.readTimeoutMs} ms to read`)), this.readTimeoutMs);
    });
    return Promise.race([read, late]).finally(() => clearTimeout(timeout));
  }

  /** The wall clock moved by `moved` ms against the monotonic one: a step, or a suspend. */
  private wallMoved(moved: number): void {
    this.steps++;
    const bootBefore = this.bootMinusMono;
    this.rebase();
    const suspended = moved > 0 && bootBefore !== null && this.bootMinusMono !== null && Math.abs(this.bootMinusMono - bootBefore - moved) < STEP_MS;
    // A suspend: time went on for everyone while this machine slept, and the wall clock is right
    // (now() moved ahead with it; timers keep their monotonic spans, as on the machine's clock).
    // A step: now() stays where it was, and timers keep their moments, until a read confirms.
    if (!suspended) {
      this.stepUnconfirmed = true;
      this.setOffset(this.offsetMs - Math.round(moved), false);
    }
    if (this.started && !this.stopped) void this.sync();
  }

  /** Both baselines from the clocks as they are now. */
  private rebase(): void {
    const mono = performance.now();
    this.wallMinusMono = Date.now() - mono;
    const boot = this.bootMs();
    this.bootMinusMono = boot === null ? null : boot - mono;
  }

  /** `clockMoved`: whether now() moves with the offset (a read) or stays (a step taken back). */
  private setOffset(next: number, clockMoved: boolean): void {
    const previous = this.offsetMs;
    this.offsetMs = next;
    const moved = next - previous;
    if (clockMoved && moved < 0) {
      for (const timer of this.timers) {
        timer.at += moved;
        this.arm(timer);
      }
    }
    for (const listener of this.listeners) {
      try {
        listener(next, previous);
      } catch {
        // A listener's failure is its own: the clock's callers (now(), reads) must not see it.
      }
    }
  }

  private arm(timer: Timer): void {
    // now() first: it may take a step, which must not find this timer between two handles.
    const delay = Math.min(Math.max(0, timer.at - this.now()), MAX_TIMEOUT_MS);
    clearTimeout(timer.handle);
    timer.handle = setTimeout(() => this.fire(timer), delay);
    timer.handle.unref();
  }

  private fire(timer: Timer): void {
    if (!this.timers.has(timer)) return; // cancelled
    // setTimeout counts from the event loop's cached time and may fire a moment early: arm again then.
    if (timer.at > this.now()) return this.arm(timer);
    this.timers.delete(timer);
    clearTimeout(timer.handle);
    timer.fn();
  }
}
