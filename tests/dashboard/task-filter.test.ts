// The queue view's task filter on a store that answers a filtered list in bounded steps (Redis looks
// at 5,000 jobs per call and may answer an empty page with a cursor to go on), in a real headless
// Chromium against a running hub on the shared Redis (a key prefix of its own, removed after).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { Fusion } from '../../src/fusion.js';
import type { JobSpec } from '../../src/core/job.js';
import { dropPrefix, redisHarness, redisSkip } from '../helpers/redis.js';
import { chromiumSkip, LAPTOP, launchBrowser, serve, signIn } from './browser.js';

const skip = chromiumSkip || await redisSkip();

describe('dashboard task filter on Redis in headless Chromium', { skip }, () => {
  let h: Awaited<ReturnType<typeof redisHarness>>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let otp: string;

  before(async () => {
    h = await redisHarness();
    fusion = await Fusion.open({ store: h.store });
    fusion.task('campaign', async () => 'sent', { queue: 'notify' });
    fusion.task('otp', async () => 'sent', { queue: 'notify' });
    // A campaign of 5,100 waiting messages, then one OTP behind it (no worker: they all wait).
    const campaign: JobSpec[] = Array.from({ length: 5100 }, (_, i) => ({ task: 'campaign', payload: { n: i } }));
    for (let i = 0; i < campaign.length; i += 1000) await fusion.queue.enqueueMany(campaign.slice(i, i + 1000));
    otp = (await fusion.enqueue('otp', { to: '+15550100' })).id;
    ({ app, base } = await serve(fusion));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    // The prefix's keys go while the store's connection is open; closing the Fusion closes the store.
    if (h) await dropPrefix(h.store.client, h.opening.prefix);
    await fusion?.close(500);
  });

  test('filtering a long queue by task finds the job past the first jobs the store looks at', async () => {
    const page = await browser.newPage({ viewport: LAPTOP });
    try {
      await signIn(page, `${base}/dashboard#/queues/notify?state=queued&task=otp`);
      await page.locator('[data-testid="jobs"], .empty').first().waitFor({ timeout: 20_000 });
      const rows = page.locator('[data-testid="jobs"] tbody tr');
      assert.equal(await rows.count(), 1, `the page says: ${await page.locator('.card').last().innerText()}`);
      assert.equal(await rows.first().getAttribute('data-job'), otp);
    } finally {
      await page.close();
    }
  });
});
