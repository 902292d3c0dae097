// The dashboard's shared snapshot (queues and workers) when one of its reads fails, in a real
// headless Chromium: the page talks to the API through a loopback HTTP proxy (a load balancer)
// that can answer GET /v1/workers with a 503 while everything else passes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import type { Fusion } from '../../src/fusion.js';
import type { Worker } from '../../src/core/worker.js';
import type { tempDir } from '../helpers/tmp.js';
import { deferred, until } from '../helpers/await.js';
import { launchBrowser, openSqliteHub, serve, signedInPage, skipWithoutChromium } from './browser.js';

describe('dashboard snapshot with a failing read in headless Chromium', skipWithoutChromium, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let worker: Worker;
  let proxy: Server;
  let base: string;
  let browser: Browser;
  let page: Page;
  let failWorkers = false;
  let refused = 0;
  const release = deferred();

  before(async () => {
    ({ t, fusion } = await openSqliteHub('fusion-dash-snapshot-'));
    // One running at a time, held until the end: the rest of the queue waits, served.
    fusion.task('report', () => release.promise.then(() => 'ok'), { queue: 'reports' });
    const served = await serve(fusion);
    app = served.app;
    const target = served.port;
    proxy = createServer((req, res) => {
      if (failWorkers && req.url === '/v1/workers') {
        refused++;
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'unavailable', message: 'upstream busy', details: {} } }));
        return;
      }
      const up = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    worker = fusion.worker({ queues: ['reports'], concurrency: 1 });
    for (let i = 0; i < 3; i++) await fusion.enqueue('report', { n: i });
    await until(async () => (await fusion.store.countJobs()).reports?.active === 1, 10_000, 'one report running');
    browser = await launchBrowser();
    page = await signedInPage(browser, `${base}/dashboard`, '[data-testid="queues"]');
  });

  after(async () => {
    release.resolve();
    await browser?.close();
    proxy?.closeAllConnections();
    await new Promise((r) => proxy?.close(r));
    await worker?.stop(1000);
    await app?.close();
    await fusion?.close(500);
    t?.remove();
  });

  test('a failed read of the workers does not flag served queues "no worker"', async () => {
    const queued = () => page.locator('tr[data-queue="reports"] td[data-state="queued"]').innerText();
    await page.waitForFunction(() => document.querySelector('tr[data-queue="reports"] td[data-state="queued"]')?.textContent === '2', undefined, { timeout: 10_000 });
    assert.equal(await page.locator('tr[data-queue="reports"] .badge.bad').count(), 0, 'served: no flag');
    failWorkers = true;
    // A new job: its event makes the page read queues and workers again; the workers read fails.
    await fusion.enqueue('report', { n: 3 });
    await page.waitForFunction(() => document.querySelector('tr[data-queue="reports"] td[data-state="queued"]')?.textContent === '3', undefined, { timeout: 10_000 })
      .catch(async () => assert.fail(`queued shows ${await queued()}`));
    assert.ok(refused > 0, 'the workers read was refused');
    assert.equal(await page.locator('tr[data-queue="reports"] .badge.bad').count(), 0,
      `the worker still serves reports, but the page says "${await page.locator('tr[data-queue="reports"] .flags').innerText()}"`);
    assert.equal(await page.locator('.tile', { hasText: 'workers' }).locator('.n').innerText(), '1');
  });
});
