// A burst bigger than a provider's send rate allows within the longest wait for a slot (a campaign
// on many workers): the jobs past it are snoozed, not failed, and every message goes out once, at
// the provider's rate, through the real delivery pipeline, a real SQLite store's shared state and a
// loopback provider. Each job has one attempt: a snooze must not spend it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryPipeline } from '../../src/channels/delivery.js';
import type { SmsMessage } from '../../src/channels/sms/message.js';
import type { Job } from '../../src/core/job.js';
import { silentLogger } from '../../src/core/logger.js';
import { sqliteFusion, waitForState } from '../helpers/engine.js';
import { loopFactory, ProviderServer } from './sms-fixtures.js';

const RATE = 20;
const MAX_WAIT_MS = 1_000;
const JOBS = 60;

describe('a provider send rate under a burst', () => {
  it('jobs past the longest wait are snoozed, not failed: each message goes out once, at the rate, on one attempt', async () => {
    const srv = await new ProviderServer().start();
    const kit = await sqliteFusion();
    try {
      const pipeline = new DeliveryPipeline<SmsMessage>({
        channel: 'sms',
        config: { providers: { r: { type: 'loop', url: srv.url('/r'), ratePerSecond: RATE } } },
        factories: [loopFactory],
        deps: { dispatcher: kit.fusion.guard.dispatcher(), store: kit.store, clock: kit.fusion.clock, logger: silentLogger },
        dryRun: { name: 'dry-run', type: 'dry-run', send: async () => ({ messageId: 'dry', status: 'sent' }) },
        maxRateWaitMs: MAX_WAIT_MS,
      });
      kit.fusion.task('burst', (p: { n: number }, ctx) =>
        pipeline.deliver({ to: '+919876543210', callingCode: '91', nationalNumber: '9876543210', text: `burst ${p.n}`, otp: false }, { country: '+91' }, ctx));
      const jobs: Job[] = [];
      for (let n = 0; n < JOBS; n++) jobs.push(await kit.fusion.enqueue('burst', { n }, { maxAttempts: 1 }));
      kit.fusion.worker({ queues: ['default'], concurrency: JOBS, pollMs: 25 });
      const ends = await Promise.all(jobs.map((j) => waitForState(kit.store, j.id, ['completed', 'failed'], 30_000)));
      assert.deepEqual(ends.map((j) => [j.state, j.attempts]), jobs.map(() => ['completed', 1]));
      const snoozed = ends.filter((j) => j.history.some((h) => h.outcome === 'snoozed'));
      // RATE x MAX_WAIT_MS slots (and the one at once) can be waited for; the rest of the burst is put off.
      assert.ok(snoozed.length >= JOBS - RATE * (MAX_WAIT_MS / 1000) - 5, `${snoozed.length} of ${JOBS} snoozed`);
      // Each comes back when its turn in the line is near: about once, not once a second while it waits.
      const snoozes = ends.reduce((n, j) => n + j.history.filter((h) => h.outcome === 'snoozed').reduce((m, h) => m + (h.snoozes ?? 1), 0), 0);
      assert.ok(snoozes <= snoozed.length * 2, `${snoozes} snoozes for ${snoozed.length} jobs`);
      const sent = srv.received.filter((r) => r.path === '/r');
      assert.equal(sent.length, JOBS, 'each message sent once');
      assert.deepEqual(new Set(sent.map((r) => r.body.text)).size, JOBS);
      // Count-based: no one-second window holds more than the rate (plus the edge and scheduling jitter).
      const at = sent.map((r) => r.at).sort((a, b) => a - b);
      let busiest = 0;
      for (const t of at) busiest = Math.max(busiest, at.filter((x) => x >= t && x < t + 1000).length);
      // Arrival times bunch a little on a loaded machine: a margin of a few sends.
      assert.ok(busiest <= RATE + 5, `a one-second window held ${busiest} sends`);
      console.log(JSON.stringify({ test: 'rate-snooze', jobs: JOBS, snoozed: snoozed.length, snoozes, spanMs: at.at(-1)! - at[0]!, busiestSecond: busiest }));
    } finally {
      await kit.cleanup();
      await srv.close();
    }
  });
});
