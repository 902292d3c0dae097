// Delays a handler asks for reach PostgreSQL as whole milliseconds of at most a year: a fractional
// snooze or a huge Retry-After once made finish_jobs refuse its bigint, and the worker retried that
// outcome batch (with every completion in it) until its leases ran out.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { Fusion } from '../../src/fusion.js';
import { MAX_DELAY_MS, RetryableError, SnoozeError } from '../../src/core/errors.js';
import { waitForState } from '../helpers/engine.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';

const skip = await pgSkip();

describe('handler delays on PostgreSQL', { skip }, () => {
  let harness: Awaited<ReturnType<typeof pgHarness>>;
  before(async () => {
    harness = await pgHarness();
  });

  it('a fractional snooze and a huge retry delay are stored rounded and capped, beside a completion', async () => {
    const fusion = await Fusion.open({ store: harness.store, channels: false });
    try {
      fusion.task('snooze-fraction', () => {
        throw new SnoozeError(1_500.5, 'a moment');
      });
      fusion.task('retry-huge', () => {
        throw new RetryableError('come back much later', 1e19);
      });
      fusion.task('ok', () => 'done');
      const jobs = await Promise.all([fusion.enqueue('snooze-fraction'), fusion.enqueue('retry-huge'), fusion.enqueue('ok')]);
      fusion.worker({ queues: ['default'], concurrency: 3 });
      const [snoozed, retried, ok] = await Promise.all([
        waitForState(harness.store, jobs[0].id, 'scheduled'),
        waitForState(harness.store, jobs[1].id, 'scheduled'),
        waitForState(harness.store, jobs[2].id, 'completed'),
      ]);
      const snoozedAt = snoozed.history.at(-1)!.endedAt!;
      assert.equal(snoozed.runAt - snoozedAt, 1_501);
      assert.equal(retried.runAt - retried.history.at(-1)!.endedAt!, MAX_DELAY_MS);
      assert.equal(ok.result, 'done');
    } finally {
      await fusion.close(500);
      await harness.cleanup();
    }
  });
});
