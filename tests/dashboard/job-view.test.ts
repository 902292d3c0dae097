// The job view when its job changes under it from elsewhere, in a real headless Chromium against a
// running hub (a Fusion on a temp SQLite file, the API on 127.0.0.1:0).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { tempDir } from '../helpers/tmp.js';
import { KEYS, KEY_SPEC } from '../api/helpers.js';

const CHROMIUM = process.env.FUSION_CHROMIUM ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI needs it for the dashboard tests (apt-get install chromium)`);
if (missing) process.stderr.write(`\n*** SKIPPING the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium) ***\n\n`);

describe('dashboard job view in headless Chromium', { skip: missing ? `${CHROMIUM} not installed` : false }, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    t = tempDir('fusion-dash-job-');
    fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'hub.db')}`, events: { pollMs: 200 } });
    fusion.task('report', async () => 'ok', { queue: 'reports' });
    app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill(KEYS.admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('.live[data-status="live"]').waitFor();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await fusion?.close(500);
    t?.remove();
  });

  test('a job deleted elsewhere while its page is open is shown as gone, not as still scheduled', async () => {
    const job = await fusion.enqueue('report', { n: 1 }, { delay: 3_600_000 });
    await page.evaluate((id) => { location.hash = `#/jobs/${encodeURIComponent(id)}`; }, job.id);
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'scheduled', undefined, { timeout: 10_000 });
    await fusion.queue.remove(job.id);
    await page.getByText('No such job').waitFor({ timeout: 10_000 }).catch(async () =>
      assert.fail(`the job is deleted, but its page still shows it: state "${await page.locator('[data-testid="job-state"]').innerText()}", buttons ${JSON.stringify(await page.locator('.actions button').allInnerTexts())}`));
    assert.equal(await page.locator('[data-testid="job-state"]').count(), 0);
  });

  test('a link cut short in the middle of an escape (%E0%A4%A) opens a page that still works', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    try {
      await p.goto(`${base}/dashboard#/jobs/otp-%E0%A4%A`);
      await p.getByLabel('API key').fill(KEYS.admin);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByText('No such job').waitFor({ timeout: 10_000 }).catch(async () =>
        assert.fail(`after sign-in the page shows "${await p.locator('#app').innerText()}", errors ${JSON.stringify(errors)}`));
      assert.equal(await p.locator('h1.page').innerText(), 'otp-%E0%A4%A');
      await p.getByRole('link', { name: 'Schedules' }).click();
      await p.locator('h1.page', { hasText: 'Schedules' }).waitFor({ timeout: 10_000 });
      assert.deepEqual(errors, []);
    } finally {
      await p.close();
    }
  });
});
