// The rules a worker's options must meet, checked when it is made (fusion.worker, new Worker) and by
// the CLI for its flags, so both refuse the same values. Each option goes straight into claims and
// timers: unchecked, a NaN lease was stored as no lease at all, a 0 poll or heartbeat spun a core
// against the store, a NaN one never fired, and a NaN batch size never claimed a job.
import { MAX_DELAY_MS, invalidRequest } from './errors.js';
import { QUEUE_NAME } from './spec.js';
import { DEFAULTS } from './job.js';

/**
 * The shortest lease: a lease shorter than this lapses between heartbeats (a third of it) on a busy
 * process, its jobs are recovered and run again while they still run here (a second SMS for one OTP).
 */
export const MIN_LEASE_MS = 1000;
/** Slots, claim sizes, jobs claimed ahead, batches in flight: as a queue's own concurrency limit. */
export const MAX_WORKER_SLOTS = 100_000;
/** The shortest idle poll and heartbeat period: anything shorter keeps a core busy asking the store. */
export const MIN_PERIOD_MS = 10;

/** The options a worker's number rules apply to, as the CLI's flags name them too. */
export interface WorkerNumbers {
  concurrency?: number;
  leaseMs?: number;
  heartbeatMs?: number;
  pollMs?: number;
  batchSize?: number;
  prefetch?: number;
  pipeline?: number;
}

const RULES: Record<keyof WorkerNumbers, { min: number; max: number; why?: string }> = {
  concurrency: { min: 1, max: MAX_WORKER_SLOTS },
  leaseMs: { min: MIN_LEASE_MS, max: MAX_DELAY_MS, why: 'a shorter lease lapses while its job runs and the job runs twice' },
  heartbeatMs: { min: MIN_PERIOD_MS, max: MAX_DELAY_MS },
  pollMs: { min: MIN_PERIOD_MS, max: MAX_DELAY_MS },
  batchSize: { min: 1, max: MAX_WORKER_SLOTS },
  prefetch: { min: 0, max: MAX_WORKER_SLOTS },
  pipeline: { min: 1, max: MAX_WORKER_SLOTS },
};

/** What is wrong with one number option ("must be ..."), or undefined when it is fine. */
export function workerNumberProblem(field: keyof WorkerNumbers, value: unknown): string | undefined {
  const { min, max, why } = RULES[field];
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return undefined;
  return `must be a whole number from ${min} to ${max}${why ? `: ${why}` : ''}`;
}

const invalid = (field: string, message: string, value: unknown) =>
  invalidRequest(field, `${field} ${message}, got ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`, value);

/** Throws an invalid_request FusionError naming the first option that breaks its rule. */
export function checkWorkerOptions(opts: WorkerNumbers & { queues?: unknown; weights?: unknown }): void {
  const { queues, weights } = opts;
  // A string would be spread into one queue per letter, a name no enqueue takes would never be claimed.
  if (!Array.isArray(queues) || queues.length === 0) throw invalid('queues', 'must be a list of at least one queue name', queues);
  for (const q of queues) {
    if (typeof q !== 'string' || !QUEUE_NAME.test(q)) throw invalid('queues', 'must hold queue names of 1-100 letters, digits, _ . : -, not . or ..', q);
  }
  if (new Set(queues).size !== queues.length) throw invalid('queues', 'must name each queue once', queues);
  for (const field of Object.keys(RULES) as (keyof WorkerNumbers)[]) {
    const value = opts[field];
    if (value === undefined) continue;
    const problem = workerNumberProblem(field, value);
    if (problem) throw invalid(field, problem, value);
  }
  const lease = opts.leaseMs ?? DEFAULTS.leaseMs;
  // A heartbeat that comes after half the lease leaves no room for one late beat: the lease lapses
  // and the job runs again beside itself.
  if (opts.heartbeatMs !== undefined && opts.heartbeatMs > lease / 2) {
    throw invalid('heartbeatMs', `must be at most half the lease (${lease} ms)`, opts.heartbeatMs);
  }
  if (weights !== undefined) {
    if (weights === null || typeof weights !== 'object') throw invalid('weights', 'must be an object of queue name to weight', weights);
    for (const [q, w] of Object.entries(weights)) {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw invalid('weights', `must give each queue a finite weight of at least 0 (${q})`, w);
    }
  }
}
