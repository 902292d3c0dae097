// An OTP behind a campaign on one provider with a send rate: the campaign's messages may reserve
// send slots only a short way ahead (snoozed beyond it), so the OTP, which may wait longer, finds
// the next free slot near. A real Fusion on a SQLite file, its sms channel, a loopback provider.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fusion } from '../../src/fusion.js';
import type { Job } from '../../src/core/job.js';
import { tempDir } from '../helpers/tmp.js';
import { waitForState } from '../helpers/engine.js';
import { until } from '../helpers/await.js';
import { NUM, ProviderServer, loopFactory } from './sms-fixtures.js';
import { join } from 'node:path';

const RATE = 20;
const SLOTS = 60;
const CAMPAIGN = 120;

describe('an OTP behind a campaign over its provider\'s send rate', () => {
  it('waits for about one short reservation horizon, not for the campaign\'s slots ahead of it', async () => {
    const srv = await new ProviderServer().start();
    const t = tempDir();
    const fusion = await Fusion.open({
      store: `sqlite:${join(t.dir, 'f.db')}`,
      config: { outgoing: { allow: ['127.0.0.1/32'] }, channels: { sms: { providers: { p: { type: 'loop', url: srv.url('/p'), ratePerSecond: RATE } } } } },
      providers: [loopFactory],
    });
    try {
      const campaign: Job[] = [];
      for (let n = 0; n < CAMPAIGN; n++) campaign.push(await fusion.enqueue('sms', { to: NUM.in, text: `sale ${n}` }, { maxAttempts: 1 }));
      // Many slots, as many worker processes would have: each may hold a campaign message waiting for its send slot.
      fusion.worker({ queues: ['sms'], concurrency: SLOTS, pollMs: 25 });
      await until(async () => srv.received.length >= 30, 30_000, 'the campaign under way', 5);
      const added = Date.now();
      const otp = await fusion.enqueue('sms.otp', { to: NUM.in, text: 'code 123456' }, { maxAttempts: 1 });
      const done = await waitForState(fusion.store, otp.id, ['completed', 'failed'], 30_000);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      const otpSent = srv.received.find((r) => r.body.text === 'code 123456')!.at;
      const waitedMs = otpSent - added;
      const campaignSentBefore = srv.received.filter((r) => r.body.text.startsWith('sale') && r.at <= otpSent).length;
      const sentAfterAdded = srv.received.filter((r) => r.at > added && r.at < otpSent).length;
      // Count-based: campaign messages sent between the OTP's add and its send. Each of the SLOTS
      // waiting may hold a slot ahead of it (SLOTS / RATE = 3 s of them) unless bulk messages hold
      // them only a short way ahead (1 s: RATE of them), as they do.
      assert.ok(sentAfterAdded <= RATE * 1.5, `${sentAfterAdded} campaign messages went out while the OTP waited (${waitedMs} ms)`);
      const ends = await Promise.all(campaign.map((j) => waitForState(fusion.store, j.id, ['completed', 'failed'], 60_000)));
      assert.ok(ends.every((j) => j.state === 'completed' && j.attempts === 1), 'every campaign message sent, on its one attempt');
      assert.equal(srv.received.length, CAMPAIGN + 1);
      const at = srv.received.map((r) => r.at);
      const snoozes = ends.reduce((n, j) => n + j.history.filter((h) => h.outcome === 'snoozed').reduce((m, h) => m + (h.snoozes ?? 1), 0), 0);
      // About one snooze a message past the first second's worth, not one a second each while it waits.
      assert.ok(snoozes <= CAMPAIGN * 2, `${snoozes} snoozes for ${CAMPAIGN} messages`);
      console.log(JSON.stringify({ test: 'otp-rate', waitedMs, campaignSentBefore, campaignSentWhileOtpWaited: sentAfterAdded, allSentInMs: Math.max(...at) - Math.min(...at), snoozes }));
    } finally {
      await fusion.close(200);
      await srv.close();
      t.remove();
    }
  });
});
