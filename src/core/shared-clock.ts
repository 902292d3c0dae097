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
// once (the offset absorbs it), before the next read confirms. A suspend also moves it (the
// monotonic clock stops, the wall clock does not); there the boot clock moved as much, the wall clock
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
  private wallMinusMono = Date.now() - performance.now();
  /** The boot clock minus the monotonic one: it grows by the length of each suspend. */
  private bootMinusMono: number | null;
  private readonly timers = new Set<Timer>();
  private readonly listeners = new Set<OffsetListener>();
  private syncTimer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private firstRead: { promise: Promise<void>; resolve(): void } | null = null;
  /** Steps of the wall clock seen so far: a read that spans one is not taken. */
  private steps = 0;
  private started = false;
  private stopped = false;

  /** `readServer`: the server's time now, epoch ms (fractions allowed). */
  constructor(private readonly readServer: () => Promise<number>, opts: SharedClockOptions = {}) {
    this.syncMs = opts.syncMs ?? 5000;
    this.firstReadMs = opts.firstReadMs ?? 2000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 5000;
    this.bootMs = opts.bootMs ?? procUptimeMs;
    const boot = this.bootMs();
    this.bootMinusMono = boot === null ? null : boot - performance.now();
  }

  now(): number {
    const wall = Date.now();
    const moved = wall - performance.now() - this.wallMinusMono;
    if (moved > STEP_MS || moved < -STEP_MS) this.wallMoved(moved);
    return wall + this.offsetMs;
  }

  /**
   * Call `fn` once the clock reaches `at`. When a read moves the clock back, pending timers move
   * back as far: each then fires at the moment it would have before, not late by the move (every
   * user of a timer checks what is due when it fires, so early is harmless and late is not: a
   * heartbeat late by a minute loses its leases).
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
    if (this.stopped || this.synced) return this;
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
      const delay = steps !== this.steps ? 0 : this.synced ? this.syncMs : RETRY_MS;
      this.syncTimer = setTimeout(() => void this.sync(), delay);
      this.syncTimer.unref();
    });
    return this.reading;
  }

  private async read(steps: number): Promise<void> {
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
    // Follow the wall clock's slow drift from the monotonic one (platforms that slew only the wall clock).
    this.wallMinusMono = Date.now() - performance.now();
    const { offset, uncertainty } = best!;
    // Differences the read cannot tell from its own round trip are not taken: the clock then does
    // not jitter back and forth by a millisecond or two between reads.
    const next = Math.abs(offset) <= uncertainty ? 0 : Math.round(offset);
    if (Math.abs(next - this.offsetMs) > uncertainty) this.setOffset(next, true);
    this.synced = true;
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
    this.wallMinusMono += moved;
    const boot = this.bootMs();
    const bootMinusMono = boot === null ? null : boot - performance.now();
    const suspended = moved > 0 && bootMinusMono !== null && this.bootMinusMono !== null && Math.abs(bootMinusMono - this.bootMinusMono - moved) < STEP_MS;
    this.bootMinusMono = bootMinusMono;
    if (suspended) {
      // Time went on for everyone while this machine slept: the wall clock is right, so now()
      // moved ahead with it, and timers that came due meanwhile fire.
      for (const timer of this.timers) this.arm(timer);
    } else {
      // A step: now() stays where it was (timers keep their moments), until a read confirms.
      this.setOffset(this.offsetMs - Math.round(moved), false);
    }
    if (this.started && !this.stopped) void this.sync();
  }

  /** `clockMoved`: whether now() moves with the offset (a read) or stays (a step taken back). */
  private setOffset(next: number, clockMoved: boolean): void {
    const previous = this.offsetMs;
    this.offsetMs = next;
    if (clockMoved) {
      const moved = next - previous;
      for (const timer of this.timers) {
        if (moved < 0) timer.at += moved;
        this.arm(timer);
      }
    }
    for (const listener of this.listeners) listener(next, previous);
  }

  private arm(timer: Timer): void {
    clearTimeout(timer.handle);
    timer.handle = setTimeout(() => this.fire(timer), Math.min(Math.max(0, timer.at - this.now()), MAX_TIMEOUT_MS));
    timer.handle.unref();
  }

  private fire(timer: Timer): void {
    // setTimeout counts from the event loop's cached time and may fire a moment early: arm again then.
    if (timer.at > this.now()) return this.arm(timer);
    this.timers.delete(timer);
    timer.fn();
  }
}
