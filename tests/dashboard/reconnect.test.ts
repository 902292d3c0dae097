// The dashboard when the API goes away and comes back, in a real headless Chromium: the API on
// 127.0.0.1 is closed and served again on the same port by the same Fusion (a proxy or network
// blip: the hub, its event ids and its jobs live on).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import type { Fusion } from '../../src/fusion.js';
import type { tempDir } from '../helpers/tmp.js';
import { BlackholeProxy } from '../helpers/blackhole-proxy.js';
import { closeAll, LAPTOP, launchBrowser, openSqliteHub, serve, signIn, signedInPage, skipWithoutChromium } from './browser.js';

describe('dashboard across an API outage in headless Chromium', skipWithoutChromium, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let port = 0;
  let base: string;
  let browser: Browser;
  let page: Page;

  const serveOnPort = async () => {
    ({ app, base, port } = await serve(fusion, {}, port));
  };

  before(async () => {
    ({ t, fusion } = await openSqliteHub('fusion-dash-reconnect-'));
    fusion.task('report', async () => 'ok', { queue: 'reports' });
    await serveOnPort();
    browser = await launchBrowser();
    page = await signedInPage(browser, `${base}/dashboard`, '.live[data-status="live"]');
  });

  after(() => closeAll(browser, app, fusion, t));

  test('a view opened while the API was down loads once the API is back', async () => {
    const job = await fusion.enqueue('report', { n: 1 }, { delay: 3_600_000 });
    // Its event has reached the page (the overview counts it), so none is left to replay.
    await page.waitForFunction(() => document.querySelector('tr[data-queue="reports"] td[data-state="scheduled"]')?.textContent === '1', undefined, { timeout: 10_000 });
    await app.close();
    await page.locator('.live[data-status="reconnecting"]').waitFor({ timeout: 10_000 });
    await page.evaluate((id) => { location.hash = `#/jobs/${encodeURIComponent(id)}`; }, job.id);
    // The job's load fails: nothing answers.
    await page.locator('section p.error').waitFor({ timeout: 10_000 });
    await serveOnPort();
    await page.locator('.live[data-status="live"]').waitFor({ timeout: 30_000 });
    // The job has not changed (no event about it will come): the view must load it by itself.
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'scheduled', undefined, { timeout: 10_000 })
      .catch(async () => assert.fail(`the stream is live again, but the job view still shows: ${await page.locator('main.content').innerText()}`));
  });

  test('a live stream gone silent (a NAT or firewall forgot it, no close seen) is noticed and opened again', async () => {
    // Keepalives every 300 ms: a stream quiet for several of them is dead.
    const { app: quiet, port: quietPort } = await serve(fusion, { eventsHeartbeatMs: 300 });
    const proxy = new BlackholeProxy(quietPort);
    await proxy.start();
    const p = await browser.newPage({ viewport: LAPTOP });
    try {
      await signIn(p, `http://127.0.0.1:${proxy.port}/dashboard`);
      await p.locator('.live[data-status="live"]').waitFor();
      const job = await fusion.enqueue('report', { n: 2 }, { delay: 3_600_000 });
      await p.evaluate((id) => { location.hash = `#/jobs/${encodeURIComponent(id)}`; }, job.id);
      await p.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'scheduled', undefined, { timeout: 10_000 });
      // Only the event stream's connection goes silent; new connections pass, as after a NAT's reset.
      assert.equal(proxy.blackhole((line) => line.startsWith('GET /v1/events')), 1);
      await fusion.queue.promote(job.id);
      await p.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'queued', undefined, { timeout: 20_000 })
        .catch(async () => assert.fail(`the job is queued, but 20 s on the page still shows "${await p.locator('[data-testid="job-state"]').innerText()}" and the header "${await p.locator('.live').innerText()}"`));
    } finally {
      await p.close();
      await proxy.close();
      await quiet.close();
    }
  });

  test("the overview's counts come back after every connection to the API went quiet at once", async () => {
    const { app: quiet, port: quietPort } = await serve(fusion, { eventsHeartbeatMs: 300 });
    const proxy = new BlackholeProxy(quietPort);
    await proxy.start();
    const p = await browser.newPage({ viewport: LAPTOP });
    const scheduled = () => p.locator('tr[data-queue="reports"] td[data-state="scheduled"]').innerText();
    try {
      await signIn(p, `http://127.0.0.1:${proxy.port}/dashboard`);
      await p.locator('.live[data-status="live"]').waitFor();
      await fusion.enqueue('report', { n: 3 }, { delay: 3_600_000 });
      const n = (await fusion.store.countJobs()).reports!.scheduled;
      await p.waitForFunction((want) => document.querySelector('tr[data-queue="reports"] td[data-state="scheduled"]')?.textContent === want, String(n), { timeout: 10_000 });
      // The stream and the browser's idle keep-alive connections all go quiet (a NAT's reset); new ones pass.
      assert.ok(proxy.blackhole() >= 2, 'the stream and at least one idle connection the next request may use');
      await fusion.enqueue('report', { n: 4 }, { delay: 3_600_000 });
      await p.waitForFunction((want) => document.querySelector('tr[data-queue="reports"] td[data-state="scheduled"]')?.textContent === want, String(n + 1), { timeout: 60_000 })
        .catch(async () => assert.fail(`60 s on, the overview still counts ${await scheduled()} scheduled reports, not ${n + 1}; the header says "${await p.locator('.live').innerText()}"`));
    } finally {
      await p.close();
      await proxy.close();
      await quiet.close();
    }
  });
});
