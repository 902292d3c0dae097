// Pure core logic: backoff policies and job spec validation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, retrySpanMs } from '../../src/core/backoff.js';
import { DEFAULTS } from '../../src/core/job.js';
import { resolveSpec } from '../../src/core/queue.js';
import { FusionError } from '../../src/core/errors.js';
import { TaskRegistry } from '../../src/core/registry.js';

describe('backoff', () => {
  it('exponential without jitter doubles from the base up to the cap', () => {
    const p = { type: 'exponential', base: 100, cap: 1000, jitter: false } as const;
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(p, a)), [100, 200, 400, 800, 1000, 1000]);
  });

  it('exponential with full jitter stays within [0, ceiling) and spreads', () => {
    const p = { type: 'exponential', base: 1000, cap: 60_000 } as const;
    const xs = Array.from({ length: 2000 }, () => backoffDelay(p, 4));
    assert.ok(xs.every((x) => x >= 0 && x < 8000));
    assert.ok(new Set(xs).size > 1000, 'jitter spreads retries');
    assert.equal(backoffDelay(p, 30, () => 0.999999), 59_999, 'never past the cap');
  });

  it('fixed and list policies', () => {
    assert.equal(backoffDelay({ type: 'fixed', delay: 250 }, 7), 250);
    const l = { type: 'list' as const, delays: [10, 20, 30] };
    assert.deepEqual([1, 2, 3, 4, 9].map((a) => backoffDelay(l, a)), [10, 20, 30, 30, 30]);
  });

  it('retrySpanMs: the delays between every attempt summed, on average and at most', () => {
    // Exponential, full jitter: each delay uniform in [0, ceiling), so the mean is half the ceiling.
    assert.deepEqual(retrySpanMs({ type: 'exponential', base: 100, cap: 1000 }, 6), { expectedMs: 1250, maxMs: 2500 });
    assert.deepEqual(retrySpanMs({ type: 'exponential', base: 100, cap: 1000, jitter: false }, 6), { expectedMs: 2500, maxMs: 2500 });
    assert.deepEqual(retrySpanMs({ type: 'list', delays: [10, 20] }, 4), { expectedMs: 50, maxMs: 50 });
    assert.deepEqual(retrySpanMs({ type: 'fixed', delay: 7 }, 1), { expectedMs: 0, maxMs: 0 }, 'one attempt: no retry');
    // A job's defaults give up after ~4 minutes of failures; the callbacks' (20 attempts) after ~4 hours.
    assert.equal(retrySpanMs(DEFAULTS.backoff, DEFAULTS.maxAttempts).expectedMs, 255_500);
    assert.deepEqual(retrySpanMs(DEFAULTS.backoff, 20), { expectedMs: 14_647_500, maxMs: 29_295_000 });
    // The mean holds for the real jittered delays: 2,000 runs of 10 attempts within 5% of it.
    let sum = 0;
    for (let run = 0; run < 2000; run++) for (let a = 1; a < 10; a++) sum += backoffDelay(DEFAULTS.backoff, a);
    assert.ok(Math.abs(sum / 2000 / 255_500 - 1) < 0.05, `mean ${sum / 2000}`);
  });
});

describe('resolveSpec', () => {
  const now = 1_000_000;
  const fieldOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof FusionError);
      assert.equal(e.code, 'invalid_job');
      assert.equal(e.status, 400);
      return e.details.field;
    }
    assert.fail('expected a FusionError');
  };

  it('fills defaults: moderate priority, 10 attempts, exponential backoff, default queue', () => {
    const j = resolveSpec({ task: 'sms' }, now);
    assert.equal(j.priority, 1);
    assert.equal(j.maxAttempts, 10);
    assert.equal(j.backoff.type, 'exponential');
    assert.equal(j.queue, 'default');
    assert.equal(j.runAt, now);
    assert.match(j.id, /^[0-9a-f-]{36}$/);
  });

  it('refuses an id with a lone surrogate (no UTF-8 form: a store would give back another id), takes paired ones', () => {
    assert.equal(fieldOf(() => resolveSpec({ task: 't', id: 'ls\ud800x' }, now)), 'id');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', id: 'x\udc00' }, now)), 'id');
    assert.equal(resolveSpec({ task: 't', id: 'emoji-\ud83d\ude00' }, now).id, 'emoji-😀');
  });

  it('makes time-ordered ids', () => {
    const ids = Array.from({ length: 100 }, () => resolveSpec({ task: 't' }, now).id);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, 100);
  });

  it('takes task defaults from the registry, and the spec wins over them', () => {
    const reg = new TaskRegistry().register('otp', () => {}, { queue: 'sms', priority: 'high', maxAttempts: 3, maxStalls: 7 });
    const a = resolveSpec({ task: 'otp' }, now, reg);
    assert.deepEqual([a.queue, a.priority, a.maxAttempts, a.maxStalls], ['sms', 2, 3, 7]);
    const b = resolveSpec({ task: 'otp', queue: 'other', priority: 'low', maxAttempts: 1, maxStalls: 0 }, now, reg);
    assert.deepEqual([b.queue, b.priority, b.maxAttempts, b.maxStalls], ['other', 0, 1, 0]);
  });

  it('uses declared defaults of a task with no handler yet, and the handler\'s once registered', () => {
    const reg = new TaskRegistry().declare('sms', { queue: 'sms' });
    assert.equal(resolveSpec({ task: 'sms' }, now, reg).queue, 'sms');
    assert.equal(reg.has('sms'), false, 'declaring is not a handler');
    reg.register('sms', () => {}, { queue: 'sms-fast' });
    assert.equal(resolveSpec({ task: 'sms' }, now, reg).queue, 'sms-fast');
  });

  it('resolves runAt and delay', () => {
    assert.equal(resolveSpec({ task: 't', delay: 500 }, now).runAt, now + 500);
    assert.equal(resolveSpec({ task: 't', runAt: new Date(now + 9) }, now).runAt, now + 9);
    assert.equal(resolveSpec({ task: 't', runAt: now + 7, delay: 500 }, now).runAt, now + 7);
  });

  it('names the field of each bad input', () => {
    assert.equal(fieldOf(() => resolveSpec({ task: '' }, now)), 'task');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', queue: 'has space' }, now)), 'queue');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', priority: 'urgent' as never }, now)), 'priority');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', priority: 1.5 }, now)), 'priority');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', maxAttempts: 0 }, now)), 'maxAttempts');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', delay: -1 }, now)), 'delay');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', runAt: new Date('nope') }, now)), 'runAt');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', timeout: -5 }, now)), 'timeout');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', backoff: { type: 'fixed', delay: -1 } }, now)), 'backoff');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', id: '' }, now)), 'id');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', tags: [1] as never }, now)), 'tags');
  });

  it('refuses a due time no Date can hold, or before 1970 (it would fail every answer that lists the job)', () => {
    assert.equal(fieldOf(() => resolveSpec({ task: 't', delay: Number.MAX_SAFE_INTEGER }, now)), 'delay');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', runAt: 1e20 }, now)), 'runAt');
    assert.equal(fieldOf(() => resolveSpec({ task: 't', runAt: -5 }, now)), 'runAt');
    assert.equal(resolveSpec({ task: 't', runAt: 0 }, now).runAt, 0, 'due at once');
  });
});
