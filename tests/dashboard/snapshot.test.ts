// The dashboard's shared snapshot (queues and workers) when one of its reads fails, in a real
// headless Chromium: the page talks to the API through a loopback HTTP proxy (a load balancer)
// that can answer GET /v1/workers with a 503 while everything else passes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import type { Worker } from '../../src/core/worker.js';
import { tempDir } from '../helpers/tmp.js';
import { deferred, until } from '../helpers/await.js';
import { KEYS, KEY_SPEC } from '../api/helpers.js';

const CHROMIUM = process.env.FUSION_CHROMIUM ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI needs it for the dashboard tests (apt-get install chromium)`);
if (missing) process.stderr.write(`\n*** SKIPPING the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium) ***\n\n`);

describe('dashboard snapshot with a failing read in headless Chromium', { skip: missing ? `${CHROMIUM} not installed` : false }, () => {
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
    t = tempDir('fusion-dash-snapshot-');
    fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'hub.db')}`, events: { pollMs: 200 } });
    // One running at a time, held until the end: the rest of the queue waits, served.
    fusion.task('report', () => release.promise.then(() => 'ok'), { queue: 'reports' });
    app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const target = (app.server.address() as AddressInfo).port;
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
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(`${base}/dashboard`);
    await page.getByLabel('API key').fill(KEYS.admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="queues"]').waitFor();
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
