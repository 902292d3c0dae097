// The queue view's bulk retry and its paging, in a real headless Chromium against a running hub
// (a Fusion on a temp SQLite file, the API on 127.0.0.1:0, a worker whose jobs fail at once).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { NonRetryableError } from '../../src/core/errors.js';
import type { Worker } from '../../src/core/worker.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';
import { KEYS, KEY_SPEC } from '../api/helpers.js';

const CHROMIUM = process.env.FUSION_CHROMIUM ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI needs it for the dashboard tests (apt-get install chromium)`);
if (missing) process.stderr.write(`\n*** SKIPPING the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium) ***\n\n`);

describe('dashboard queue view in headless Chromium', { skip: missing ? `${CHROMIUM} not installed` : false }, () => {
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
    t = tempDir('fusion-dash-queue-');
    fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'hub.db')}`, events: { pollMs: 200 } });
    // Every attempt fails at once and for good: a retried job is back in the failed list within milliseconds.
    fusion.task('charge', async () => {
      charges++;
      throw new NonRetryableError('card declined by the test gateway');
    }, { queue: 'payments' });
    app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    worker = fusion.worker({ queues: ['payments'], concurrency: 20 });
    for (let i = 0; i < FAILED; i++) await fusion.enqueue('charge', { amount: i });
    // Three cancelled ones too, ended after every failure.
    await until(async () => (await failedCount()) === FAILED, 30_000, 'the seeds to fail');
    for (let i = 0; i < 3; i++) await fusion.queue.cancel((await fusion.enqueue('charge', { amount: -i }, { delay: 3_600_000 })).id);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill(KEYS.admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
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
