// The job view when its job changes under it from elsewhere, in a real headless Chromium against a
// running hub (a Fusion on a temp SQLite file, the API on 127.0.0.1:0).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import type { Fusion } from '../../src/fusion.js';
import type { tempDir } from '../helpers/tmp.js';
import { closeAll, LAPTOP, openSignedInHub, signIn, skipWithoutChromium } from './browser.js';

describe('dashboard job view in headless Chromium', skipWithoutChromium, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    ({ t, fusion, app, base, browser, page } = await openSignedInHub('fusion-dash-job-', (hub) => { hub.task('report', async () => 'ok', { queue: 'reports' }); }));
  });

  after(() => closeAll(browser, app, fusion, t));

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
    const p = await browser.newPage({ viewport: LAPTOP });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    try {
      await signIn(p, `${base}/dashboard#/jobs/otp-%E0%A4%A`);
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
