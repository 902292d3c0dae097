// A partner whose endpoint hangs, in the webhook lane, through a real Fusion on SQLite with loopback
// receivers: with the breaker per host, its webhooks stop holding the lane's slots once a round of
// them timed out, and another partner's webhooks queued behind them go out at once. Without it (the
// control, threshold 0) every one of them waits for its whole timeout first. Job callbacks to a
// host that refuses connections open its breaker too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { HostBreakerConfig } from '../../src/channels/config-types.js';
import type { Job } from '../../src/core/job.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { receiver } from './webhook-server.js';

const TIMEOUT_S = 0.5;
const SLOTS = 4;
const HANGING = 24;
const HEALTHY = 4;

/** HANGING webhooks to a partner that never answers, then HEALTHY to one that does: when each healthy one was delivered (ms after it was added). */
async function healthyBehindHanging(breaker: HostBreakerConfig) {
  const hanging = await receiver(() => {});
  const healthy = await receiver();
  const kit = await sqliteFusion(undefined, { outgoing: { allow: ['127.0.0.1/32'] }, channels: { webhook: { timeoutSeconds: TIMEOUT_S, breaker } } });
  try {
    const slow: Job[] = [];
    // Three attempts: a job's last attempt is always tried, so one of a single attempt gets no help from the breaker.
    for (let k = 0; k < HANGING; k++) slow.push(await kit.fusion.enqueue('webhook', { url: `${hanging.base}/hook`, method: 'POST', data: { k } }, { maxAttempts: 3 }));
    kit.fusion.worker({ queues: ['webhook'], concurrency: SLOTS, pollMs: 25 });
    await hanging.hit(SLOTS);
    const added = Date.now();
    const fast: Job[] = [];
    for (let k = 0; k < HEALTHY; k++) fast.push(await kit.fusion.enqueue('webhook', { url: `${healthy.base}/hook`, method: 'POST', data: { k } }, { maxAttempts: 1 }));
    const delivered: number[] = [];
    for (const j of fast) {
      const done = await waitForState(kit.store, j.id, ['completed', 'failed'], 30_000);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      delivered.push(done.endedAt! - added);
    }
    // Each hanging one's first attempt ended: timed out, or not tried (then waiting out the breaker's cooldown).
    const ends = await Promise.all(slow.map((j) => waitForState(kit.store, j.id, ['scheduled', 'failed'], 30_000)));
    // The first attempt's, from its record: a job whose first attempt timed out may have been tried
    // again by now (its backoff's jitter can be a few ms) and found the breaker open, and its error
    // is that second attempt's (one run of a fresh clone's suite saw 2 timeouts of 4 so).
    const codes = ends.map((j) => {
      const first = j.history[0];
      const code = (first?.details as { code?: string } | undefined)?.code;
      if (code !== undefined) return code;
      return /timed out/.test(first?.error ?? '') ? 'timeout' : /not tried/.test(first?.error ?? '') ? 'host_unavailable' : first?.error;
    });
    return { delivered, codes, hangingHits: hanging.hits.length };
  } finally {
    await kit.cleanup();
    await hanging.close();
    await healthy.close();
  }
}

describe('webhooks: a breaker per destination host', () => {
  it('a hanging partner holds the lane for one round of timeouts, not for its whole backlog (control: breaker off)', async () => {
    const withBreaker = await healthyBehindHanging({ threshold: 2, cooldownMs: 60_000 });
    const without = await healthyBehindHanging({ threshold: 0 });
    // With: one round of SLOTS timeouts opens it; the rest fail at once, untried.
    assert.ok(Math.max(...withBreaker.delivered) * 2 < Math.min(...without.delivered),
      `healthy webhooks delivered after ${withBreaker.delivered.join(', ')} ms, against ${without.delivered.join(', ')} ms without the breaker`);
    assert.ok(withBreaker.hangingHits <= SLOTS + 1, `the hanging partner got ${withBreaker.hangingHits} requests`);
    assert.ok(withBreaker.codes.filter((c) => c === 'host_unavailable').length >= HANGING - SLOTS - 1, withBreaker.codes.join(','));
    assert.ok(withBreaker.codes.filter((c) => c === 'timeout').length >= SLOTS - 1, withBreaker.codes.join(','));
    // Without: every hanging webhook was tried and waited out its timeout, the healthy ones behind them.
    assert.ok(without.hangingHits >= HANGING, `without the breaker every one went out: ${without.hangingHits} requests`);
  });

  it('job callbacks to a host that refuses connections open its breaker: later ones are not tried', async () => {
    // A port that was free a moment ago: connections to it are refused.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const kit = await sqliteFusion(undefined, { outgoing: { allow: ['127.0.0.1/32'] }, channels: { webhook: { breaker: { threshold: 2, cooldownMs: 60_000 } } } });
    try {
      kit.fusion.task('noop', async () => 'done', { queue: 'default' });
      const jobs: Job[] = [];
      for (let k = 0; k < 6; k++) jobs.push(await kit.fusion.enqueue('noop', { k }, { callbacks: { onSuccess: `http://127.0.0.1:${port}/cb` } }));
      // One slot for callbacks: they go one at a time, in order.
      kit.fusion.worker({ queues: ['default'], concurrency: 4, pollMs: 25 });
      for (const j of jobs) await waitForState(kit.store, j.id, 'completed');
      kit.fusion.worker({ queues: ['callbacks'], concurrency: 1, pollMs: 25 });
      const callbacks = await (async () => {
        for (;;) {
          const page = await kit.store.listJobs({ queue: 'callbacks', limit: 100 });
          if (page.items.length === jobs.length && page.items.every((c) => c.attempts >= 1 && c.state !== 'active' && c.state !== 'queued')) return page.items;
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      const messages = callbacks.map((c) => c.history[0]?.error ?? c.error?.message ?? '');
      const refused = messages.filter((m) => /ECONNREFUSED|failed/.test(m) && !/not tried/.test(m)).length;
      const notTried = messages.filter((m) => /not tried, 127\.0\.0\.1:\d+ is failing/.test(m)).length;
      assert.equal(refused, 2, messages.join('\n'));
      assert.equal(notTried, jobs.length - 2, messages.join('\n'));
    } finally {
      await kit.cleanup();
    }
  });
});
