// Measurements, written against Subject only so the same rows run on any store and on BullMQ.
import { performance } from 'node:perf_hooks';
import type { Subject } from './subjects.js';
import { pct } from './shared.js';

const payload = (i: number) => ({ i });

/**
 * A rate and this process's CPU time per job (user + system, µs). Both subjects of the SQLite
 * comparison run in this process, so CPU per job compares their work where the rate also carries
 * the VM's noise (a Redis subject's server CPU is not counted).
 */
export interface Rate {
  rate: number;
  cpuUs: number;
}

function timer(n: number): () => Rate {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { rate: n / secs, cpuUs: (c.user + c.system) / n };
  };
}

export async function enqueueSingle(s: Subject, queue: string, n: number): Promise<Rate> {
  const done = timer(n);
  for (let i = 0; i < n; i++) await s.enqueue(queue, payload(i));
  return done();
}

/** n enqueues, one job per call, `inFlight` calls outstanding at any time (as a busy API would). */
export async function enqueueInFlight(s: Subject, queue: string, n: number, inFlight = 100): Promise<Rate> {
  const done = timer(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, async () => {
    while (next < n) await s.enqueue(queue, payload(next++));
  }));
  return done();
}

export async function enqueueBatch(s: Subject, queue: string, n: number, chunk = 1000): Promise<Rate> {
  const done = timer(n);
  await fill(s, queue, n, chunk);
  return done();
}

async function fill(s: Subject, queue: string, n: number, chunk = 1000): Promise<void> {
  for (let i = 0; i < n; i += chunk) {
    await s.enqueueBulk(queue, Array.from({ length: Math.min(chunk, n - i) }, (_, k) => payload(i + k)));
  }
}

/** Pre-enqueue n no-op jobs, then time from worker start to the n-th stored completion. */
export async function processed(s: Subject, queue: string, n: number, concurrency: number): Promise<Rate> {
  await fill(s, queue, n);
  const done = timer(n);
  const w = await s.work(queue, concurrency);
  await w.completed(n);
  const r = done();
  await w.stop();
  return r;
}

export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

/** Idle worker; enqueue one job at a time and time the call's start to its handler's start. */
export async function latency(
  s: Subject, queue: string, samples: number, producer: Pick<Subject, 'enqueue'> = s,
): Promise<Latency> {
  let started: () => void = () => {};
  const w = await s.work(queue, 10, () => started());
  // Let the worker start and settle into its wait first (as the lateness row does): the first sample
  // otherwise times a worker's start-up (its first claims, connections, marks) beside the job, and
  // with 50 samples the p99 is the slowest one.
  await new Promise((r) => setTimeout(r, 200));
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const begun = new Promise<number>((r) => (started = () => r(performance.now())));
    const t0 = performance.now();
    await producer.enqueue(queue, payload(i));
    ms.push((await begun) - t0);
    await w.completed(i + 1);
    // A short pause so the worker is truly idle (blocked or waiting) when the next job arrives.
    await new Promise((r) => setTimeout(r, 2));
  }
  await w.stop();
  return { p50: round(pct(ms, 50), 3), p99: round(pct(ms, 99), 3), max: round(Math.max(...ms), 3) };
}

export const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
