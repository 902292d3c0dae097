// How callbacks retry (src/channels/callback-retry.ts): job callbacks and webhooks' callbacks carry
// 20 attempts, the default backoff and 10 lost leases unless `channels.webhook.callbackRetry` says otherwise, and a
// configured policy is what a failing callback follows, against a real loopback receiver on SQLite.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../src/core/job.js';
import { Fusion } from '../../src/fusion.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { tempDir } from '../helpers/tmp.js';
import { receiver } from './webhook-server.js';

const LOOPBACK = { outgoing: { allow: ['127.0.0.1/32'] } };

describe('callback retries', () => {
  it('by default a job callback and a webhook callback each get 20 attempts, the default backoff and 10 lost leases', async () => {
    const rx = await receiver();
    const { fusion, store, cleanup } = await sqliteFusion(undefined, LOOPBACK);
    try {
      fusion.task('work', () => 'done');
      fusion.worker({ queues: ['default', 'callbacks', 'webhook'], concurrency: 4 });
      const job = await fusion.enqueue('work', null, { callbacks: { onSuccess: `${rx.base}/done` } });
      const hook = await fusion.enqueue('webhook', { url: `${rx.base}/hook`, method: 'GET', callback: 1, callback_url: `${rx.base}/called-back` });
      const jobCallback = await waitForState(store, `${job.id}:completed-callback`, ['completed', 'failed']);
      const hooked = await waitForState(store, hook.id, ['completed', 'failed']);
      const hookCallback = await waitForState(store, (hooked.result as { callback: { jobId: string } }).callback.jobId, ['completed', 'failed']);
      for (const cb of [jobCallback, hookCallback]) {
        assert.equal(cb.state, 'completed');
        assert.equal(cb.maxAttempts, 20, cb.id);
        assert.deepEqual(cb.backoff, DEFAULTS.backoff, cb.id);
        assert.equal(cb.maxStalls, 10, cb.id);
      }
      assert.equal(job.maxAttempts, DEFAULTS.maxAttempts, 'the job itself keeps the job default');
    } finally {
      await cleanup();
      await rx.close();
    }
  });

  it('a configured policy: a callback answered 503 every time is tried maxAttempts times, that far apart, then fails', async () => {
    const rx = await receiver((_h, res) => res.writeHead(503).end());
    const { fusion, store, cleanup } = await sqliteFusion(undefined, {
      ...LOOPBACK, channels: { webhook: { callbackRetry: { maxAttempts: 3, backoff: { type: 'fixed', delay: 150 }, maxStalls: 1 } } },
    });
    try {
      fusion.task('work', () => 'done');
      fusion.worker({ queues: ['default', 'callbacks'], concurrency: 4 });
      const job = await fusion.enqueue('work', null, { callbacks: { onSuccess: `${rx.base}/down` } });
      const cb = await waitForState(store, `${job.id}:completed-callback`, ['completed', 'failed'], 20_000);
      assert.equal(cb.state, 'failed');
      assert.equal(cb.attempts, 3);
      assert.equal(rx.hits.length, 3, 'three requests, no more');
      assert.deepEqual(cb.backoff, { type: 'fixed', delay: 150 });
      assert.equal(cb.maxStalls, 1);
      const starts = cb.history.map((h) => h.startedAt);
      for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - cb.history[i - 1]!.endedAt! >= 150, `attempt ${i + 1} came ${starts[i]! - cb.history[i - 1]!.endedAt!} ms after the one before`);
    } finally {
      await cleanup();
      await rx.close();
    }
  });

  it('a bad policy given to the library is refused at open, naming the field', async () => {
    const t = tempDir();
    const store = new SqliteStore(`${t.dir}/fusion.db`);
    try {
      await assert.rejects(
        Fusion.open({ store, config: { channels: { webhook: { callbackRetry: { backoff: { type: 'exponential', cap: -5 } } } } } }),
        (err: Error) => err instanceof TypeError && /channels\.webhook\.callbackRetry\.backoff: backoff\.cap must be a non-negative number/.test(err.message),
      );
      await assert.rejects(
        Fusion.open({ store, config: { channels: { webhook: { callbackRetry: { maxAttempts: 1.5 } } } } }),
        /channels\.webhook\.callbackRetry\.maxAttempts: must be an integer from 1 to 1000/,
      );
      await assert.rejects(
        Fusion.open({ store, config: { channels: { webhook: { callbackRetry: { maxStalls: -1 } } } } }),
        /channels\.webhook\.callbackRetry\.maxStalls: must be an integer from 0 to 1000/,
      );
    } finally {
      await store.close();
      t.remove();
    }
  });
});
