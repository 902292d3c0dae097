// An outcome's follow-up jobs (success and failure callbacks) are stored with the outcome, in the
// same atomic step, but prepared like every other job: the callback task's defaults apply.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TaskRegistry } from '../../src/core/registry.js';
import { CALLBACK_QUEUE, CALLBACK_TASK, callbackJobs } from '../../src/core/callbacks.js';
import { resolveSpec } from '../../src/core/spec.js';
import { DEFAULTS, newJobView } from '../../src/core/job.js';

const NOW = Date.UTC(2026, 0, 1);
const done = { ...newJobView(resolveSpec({ task: 'sms', id: 'j1', priority: 'high', callbacks: { onSuccess: 'http://127.0.0.1:9/ok' } }, NOW), 'completed'), attempts: 1 };

describe('follow-up jobs of an outcome', () => {
  it("take the callback task's registered defaults, as any enqueue does", () => {
    const registry = new TaskRegistry().register(CALLBACK_TASK, () => undefined, { maxAttempts: 4, backoff: { type: 'fixed', delay: 250 } });
    const [cb] = callbackJobs(done, 'completed', NOW + 5, { id: 'm1' }, undefined, registry);
    assert.equal(cb!.id, 'j1:completed-callback');
    assert.equal(cb!.queue, CALLBACK_QUEUE);
    assert.equal(cb!.maxAttempts, 4);
    assert.deepEqual(cb!.backoff, { type: 'fixed', delay: 250 });
    assert.equal(cb!.priority, 2, 'the job’s own priority');
    assert.equal(cb!.createdAt, NOW + 5);
  });

  it('fall back to the engine defaults when the task has none', () => {
    const [cb] = callbackJobs(done, 'completed', NOW, null);
    assert.equal(cb!.maxAttempts, DEFAULTS.maxAttempts);
    assert.equal(cb!.timeout, 30_000);
    assert.deepEqual(callbackJobs(done, 'failed', NOW), [], 'no onFailure URL: no job');
  });

  it('are made for a job stored with a priority past what enqueue now takes (SQLite and Redis kept one before)', () => {
    // Refused by resolveSpec, the callback job failed the outcome's store call, on every attempt.
    const [cb] = callbackJobs({ ...done, priority: 2 ** 40 }, 'completed', NOW, null);
    assert.equal(cb!.priority, 2 ** 31 - 1);
    assert.equal(callbackJobs({ ...done, priority: -(2 ** 40) }, 'completed', NOW, null)[0]!.priority, -(2 ** 31));
  });
});
