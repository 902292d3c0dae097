// Retry delays. Exponential with full jitter is the default (AWS architecture blog's
// "full jitter": spreads retries of a failed provider so they do not arrive together).
import type { BackoffPolicy } from './job.js';

/** An exponential policy's base and cap where it gives none. */
export const EXPONENTIAL_DEFAULTS = { base: 1000, cap: 3_600_000 } as const;

/** Delay in ms before attempt `attempt + 1`, given `attempt` attempts already made (>= 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = delayCeiling(policy, attempt);
  return policy.type === 'exponential' && policy.jitter !== false ? Math.floor(random() * ceiling) : ceiling;
}

/** The delay before attempt `attempt + 1` without jitter: the most it can be. */
function delayCeiling(policy: BackoffPolicy, attempt: number): number {
  switch (policy.type) {
    case 'fixed':
      return Math.max(0, policy.delay);
    case 'list': {
      const d = policy.delays;
      if (d.length === 0) return 0;
      return Math.max(0, d[Math.min(attempt - 1, d.length - 1)]!);
    }
    case 'exponential': {
      const base = policy.base ?? EXPONENTIAL_DEFAULTS.base;
      const cap = policy.cap ?? EXPONENTIAL_DEFAULTS.cap;
      return Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
    }
  }
}

/**
 * How long a job keeps being retried when every attempt fails at once: the sum of the delays between
 * its maxAttempts attempts, on average (full jitter halves each exponential delay) and at most.
 */
export function retrySpanMs(policy: BackoffPolicy, maxAttempts: number): { expectedMs: number; maxMs: number } {
  let expectedMs = 0;
  let maxMs = 0;
  for (let attempt = 1; attempt < maxAttempts; attempt++) {
    const ceiling = delayCeiling(policy, attempt);
    maxMs += ceiling;
    expectedMs += policy.type === 'exponential' && policy.jitter !== false ? ceiling / 2 : ceiling;
  }
  return { expectedMs: Math.round(expectedMs), maxMs: Math.round(maxMs) };
}

export function validateBackoff(p: unknown): string | null {
  if (!p || typeof p !== 'object') return 'backoff must be an object';
  const b = p as Record<string, unknown>;
  const nonNeg = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  switch (b.type) {
    case 'exponential':
      if (b.base !== undefined && !nonNeg(b.base)) return 'backoff.base must be a non-negative number';
      if (b.cap !== undefined && !nonNeg(b.cap)) return 'backoff.cap must be a non-negative number';
      if (b.jitter !== undefined && typeof b.jitter !== 'boolean') return 'backoff.jitter must be a boolean';
      return null;
    case 'fixed':
      return nonNeg(b.delay) ? null : 'backoff.delay must be a non-negative number';
    case 'list':
      return Array.isArray(b.delays) && b.delays.every(nonNeg) ? null : 'backoff.delays must be a list of non-negative numbers';
    default:
      return 'backoff.type must be exponential, fixed or list';
  }
}
