// The API's attempt-duration histogram when the store turns an attempt's retry into a cancel (a
// cancel request made while the job ran): the duration this process's worker reported for that
// attempt is dropped with the job's cancelled event, not kept and read for a later attempt of the
// job that another process's worker runs after a manual retry. A real SQLite file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ApiMetrics } from '../../src/api/metrics.js';
import { RetryableError } from '../../src/core/errors.js';
import { Lifecycle } from '../../src/core/lifecycle.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { Worker } from '../../src/core/worker.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { deferred, withFusion, waitForState } from '../helpers/engine.js';

/** The count and the sum (s) of the observed durations of attempts with this outcome. */
async function durations(m: ApiMetrics, outcome: string): Promise<{ count: number; sum: number }> {
  const { values } = await m.attemptDuration.get();
  const total = (suffix: string) => values.filter((v) => v.metricName?.endsWith(suffix) && v.labels.outcome === outcome).reduce((n, v) => n + v.value, 0);
  return { count: total('_count'), sum: total('_sum') };
}

describe('API metrics: a retry the store turned into a cancel', () => {
  it('drops the attempt duration its worker reported, so a later attempt run elsewhere is timed by its own events', async () => {
    await withFusion(async ({ fusion, store, dir }) => {
      const metrics = new ApiMetrics(store, { defaultMetrics: false, lifecycle: fusion.lifecycle }).start();
      // The cancel request comes from another connection, as an API process's would.
      const operator = new SqliteStore(join(dir, 'fusion.db'));
      const started = deferred();
      const fail = deferred();
      fusion.task('slow-then-fail', async () => {
        started.resolve();
        await fail.promise;
        throw new RetryableError('provider answered 503');
      });
      const w = fusion.worker({ queues: ['default'] });
      try {
        const job = await fusion.enqueue('slow-then-fail', null, { maxAttempts: 3 });
        await started.promise;
        // The attempt runs a while, so its reported duration stands out from the next one's.
        await new Promise((r) => setTimeout(r, 300));
        await operator.cancelJob({ id: job.id, now: Date.now() });
        fail.resolve();
        assert.equal((await waitForState(store, job.id, 'cancelled')).history.at(-1)?.outcome, 'cancelled');
        await w.stop();
        // Retried by hand and run by a worker of its own lifecycle: this process's metrics hear only
        // the store's events of that attempt.
        await store.retryJob({ id: job.id, now: Date.now() });
        const elsewhere = new Worker(store, new TaskRegistry().register('slow-then-fail', () => 'done'), { queues: ['default'], lifecycle: new Lifecycle() });
        elsewhere.start();
        await waitForState(store, job.id, 'completed');
        await elsewhere.stop();
        const { count, sum } = await durations(metrics, 'completed');
        assert.equal(count, 1, 'the completed attempt was timed');
        assert.ok(sum < 0.2, `the completed attempt timed at ${sum} s: the cancelled attempt's 0.3 s or more was read for it`);
      } finally {
        metrics.stop();
        await operator.close();
      }
    });
  });
});
