// The queue view's bulk retry and its paging, in a real headless Chromium against a running hub
// (a Fusion on a temp SQLite file, the API on 127.0.0.1:0, a worker whose jobs fail at once).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import type { Fusion } from '../../src/fusion.js';
import { NonRetryableError } from '../../src/core/errors.js';
import type { Worker } from '../../src/core/worker.js';
import type { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';
import { LAPTOP, launchBrowser, openSqliteHub, serve, signIn, skipWithoutChromium } from './browser.js';

describe('dashboard queue view in headless Chromium', skipWithoutChromium, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let worker: Worker;
  let base: string;
  let browser: Browser;
  let page: Page;
  let charges = 0;
  const FAILED = 120;
  const failedCount = async () => (await fusion.store.countJobs()).payments?.failed ?? 0;

  before(async () => {
    ({ t, fusion } = await openSqliteHub('fusion-dash-queue-'));
    // Every attempt fails at once and for good: a retried job is back in the failed list within milliseconds.
    fusion.task('charge', async () => {
      charges++;
      throw new NonRetryableError('card declined by the test gateway');
    }, { queue: 'payments' });
    ({ app, base } = await serve(fusion));
    worker = fusion.worker({ queues: ['payments'], concurrency: 20 });
    for (let i = 0; i < FAILED; i++) await fusion.enqueue('charge', { amount: i });
    // Three cancelled ones too, ended after every failure.
    await until(async () => (await failedCount()) === FAILED, 30_000, 'the seeds to fail');
    for (let i = 0; i < 3; i++) await fusion.queue.cancel((await fusion.enqueue('charge', { amount: -i }, { delay: 3_600_000 })).id);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: LAPTOP });
    page.on('dialog', (d) => void d.accept());
    await signIn(page, `${base}/dashboard`);
    await page.locator('[data-testid="queues"]').waitFor();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await worker?.stop(1000);
    await fusion?.close(500);
    t?.remove();
  });

  test('a page of one list left by the back button does not carry its cursor to another state', async () => {
    await page.goto(`${base}/dashboard#/queues/payments?state=cancelled`);
    await page.locator('[data-testid="jobs"] tbody tr').first().waitFor();
    await page.locator('[data-tab="failed"]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="jobs"] td.err').length === 25, undefined, { timeout: 10_000 });
    await page.getByRole('button', { name: 'Next ›' }).click();
    await page.getByText('page 2').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="jobs"] td.err').length === 25, undefined, { timeout: 10_000 });
    // Back to the cancelled tab: its own first page, not the failed list's second.
    await page.goBack();
    await page.locator('[data-tab="cancelled"][aria-selected="true"]').waitFor();
    await page.waitForFunction(() => document.querySelector('.pager .small')?.textContent === 'page 1'
      && document.querySelectorAll('[data-testid="jobs"] tbody tr').length === 3, undefined, { timeout: 10_000 })
      .catch(async () => assert.fail(`the cancelled tab shows "${await page.locator('.pager .small').innerText()}" and ${await page.locator('[data-testid="jobs"] tbody tr').count()} rows, not page 1 with its 3 jobs: ${await page.locator('.card').last().innerText()}`));
  });

  test('retry all failed retries each failed job once, even when the retries fail again at once', async () => {
    assert.equal(await failedCount(), FAILED);
    const before = charges;
    await page.goto(`${base}/dashboard#/queues/payments?state=failed`);
    await page.locator('[data-testid="jobs"] tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'Retry all failed' }).click();
    const note = page.locator('.note', { hasText: /^Retried \d+ failed jobs?/ });
    await note.waitFor({ timeout: 30_000 }).catch(async () =>
      assert.fail(`retry all did not end: the note says "${await page.locator('.note').innerText()}" and the handler ran ${charges - before} times for ${FAILED} failed jobs`));
    // Every retried job fails again; then the handler must have run once per failed job, no more.
    await until(async () => (await failedCount()) === FAILED, 30_000, 'the retried jobs to fail again');
    assert.equal(await note.innerText(), `Retried ${FAILED} failed jobs.`);
    assert.equal(charges - before, FAILED, 'each failed job was run once more');
  });
});
