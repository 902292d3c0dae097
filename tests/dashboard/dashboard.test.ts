// The dashboard end to end in a real headless Chromium (Debian's chromium, driven by playwright-core)
// against a running hub: a Fusion on a temp SQLite file, the API on 127.0.0.1:0, a worker, seeded
// jobs. Screenshots of the main views go to test-artifacts/dashboard/.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import type { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { NonRetryableError, SnoozeError } from '../../src/core/errors.js';
import { snoozesInARow } from '../../src/core/job.js';
import type { Worker } from '../../src/core/worker.js';
import type { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';
import { KEYS } from '../api/helpers.js';
import { NUM, ProviderServer, loopFactory } from '../channels/sms-fixtures.js';
import { LAPTOP, launchBrowser, openSqliteHub, serve, signIn, skipWithoutChromium } from './browser.js';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'dashboard');

describe('dashboard in headless Chromium', skipWithoutChromium, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let worker: Worker;
  let base: string;
  let browser: Browser;
  let page: Page;
  let healthy = false;
  let srv: ProviderServer;
  const PROVIDER_TOKEN = 'dash-provider-token-77ab';
  const pageErrors: string[] = [];

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(base + path, {
      method, headers: { authorization: `Bearer ${KEYS.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return r.status === 204 ? null : r.json();
  };
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const cell = (queue: string, state: string) => page.locator(`tr[data-queue="${queue}"] td[data-state="${state}"]`);

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Two SMS providers played by a loopback server, for the providers view.
    srv = await new ProviderServer().start();
    ({ t, fusion } = await openSqliteHub('fusion-dash-', {
      providers: [loopFactory],
      config: {
        outgoing: { allow: ['127.0.0.1/32'] },
        channels: { sms: {
          providers: { 'loop-in': { type: 'loop', url: srv.url('/a'), authToken: PROVIDER_TOKEN, countries: ['+91'], ratePerSecond: 100 }, 'loop-intl': { type: 'loop', url: srv.url('/b') } },
          routes: { '+91': ['loop-in', 'loop-intl'], default: ['loop-intl'] },
          failover: { threshold: 2, windowMs: 60_000, cooldownMs: 600_000 },
        } },
      },
    }));
    fusion.task('send-email', async (p: { to: string }, ctx) => {
      await ctx.log(`sending to ${p.to}`);
      await ctx.progress(100);
      return { provider: 'dry-run', messageId: `m-${p.to}` };
    }, { queue: 'emails' });
    fusion.task('charge', async () => {
      if (!healthy) throw new NonRetryableError('card declined by the test gateway');
      return { charged: true };
    }, { queue: 'payments' });
    fusion.task('crunch', (_p: unknown, ctx) => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
    }), { queue: 'slow' });
    fusion.task('report', async () => 'ok', { queue: 'reports' });
    // Put off three times (no attempt spent), then done.
    fusion.task('nap', async (_p: unknown, ctx) => {
      if (snoozesInARow(ctx.job) < 3) throw new SnoozeError(1, 'not yet');
      return 'rested';
    }, { queue: 'slow' });
    ({ app, base } = await serve(fusion));

    // Seeds: completed emails, failed payments, scheduled emails, and reports nobody serves.
    worker = fusion.worker({ queues: ['emails', 'payments', 'slow'], concurrency: 5, leaseMs: 5000 });
    for (let i = 0; i < 6; i++) await fusion.enqueue('send-email', { to: `user${i}@example.com`, password: 'hunter2' });
    for (let i = 0; i < 3; i++) await fusion.enqueue('charge', { amount: 10 + i, token: 'tok_secret' });
    for (let i = 0; i < 2; i++) await fusion.enqueue('send-email', { to: `later${i}@example.com` }, { delay: 3_600_000 });
    for (let i = 0; i < 4; i++) await fusion.enqueue('report', { n: i });
    await until(async () => {
      const c = await fusion.store.countJobs();
      return c.emails?.completed === 6 && c.payments?.failed === 3;
    }, 15_000, 'the seeds to settle');

    browser = await launchBrowser();
    page = await browser.newPage({ viewport: LAPTOP, colorScheme: 'light' });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The first look at /v1/me without a key answers 401 (that is how the page learns to ask for one).
    page.on('console', (m) => m.type() === 'error' && !/status of 401/.test(m.text()) && pageErrors.push(m.text()));
    page.on('dialog', (d) => void d.accept());
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await fusion?.close(500);
    await srv?.close();
    t?.remove();
  });

  test('sign in with an admin key; the overview counts match the API', async () => {
    await signIn(page, `${base}/dashboard`);
    await page.locator('[data-testid="queues"]').waitFor();
    await page.locator('.live[data-status="live"]').waitFor();
    const api = (await call('GET', '/v1/queues')) as { items: { name: string; counts: Record<string, number> }[] };
    for (const q of api.items) {
      for (const [state, n] of Object.entries(q.counts)) {
        assert.equal(await cell(q.name, state).innerText(), n.toLocaleString('en-US'), `${q.name} ${state}`);
      }
    }
    assert.equal(await page.locator('[data-total="failed"]').innerText(), '3');
    // Reports wait and no worker serves them: flagged.
    assert.equal(await page.locator('tr[data-queue="reports"] .badge.bad').innerText(), 'no worker');
    assert.equal(await page.locator('tr[data-queue="emails"] .badge.bad').count(), 0);
    await shot('overview');
  });

  test('a new job appears without a reload', async () => {
    const before = Number(await cell('reports', 'queued').innerText());
    await call('POST', '/v1/jobs', { task: 'report', payload: { n: 99 } });
    await page.waitForFunction((n) => document.querySelector('tr[data-queue="reports"] td[data-state="queued"]')?.textContent === String(n), before + 1, { timeout: 10_000 });
  });

  test('queue view lists failed jobs; retry one from its page and see it complete', async () => {
    await page.locator('tr[data-queue="payments"] a').click();
    await page.locator('[data-tab="failed"]').click();
    await page.locator('[data-testid="jobs"] tbody tr').first().waitFor();
    assert.equal(await page.locator('[data-testid="jobs"] tbody tr').count(), 3);
    assert.match(await page.locator('[data-testid="jobs"] td.err').first().innerText(), /card declined/);
    await shot('queue-failed');
    await page.locator('[data-testid="jobs"] td.id a').first().click();
    await page.locator('[data-testid="job-state"]').waitFor();
    assert.equal(await page.locator('[data-testid="job-state"]').innerText(), 'failed');
    assert.ok((await page.locator('pre.code').first().innerText()).includes('[redacted]'), 'the card token is masked');
    assert.ok(!(await page.content()).includes('tok_secret'), 'no secret on the page');
    await page.getByRole('button', { name: 'Show stack trace' }).click();
    await page.locator('pre.stack').waitFor();
    await shot('job-failed');
    healthy = true;
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'completed', undefined, { timeout: 15_000 });
    assert.ok((await page.locator('table.grid tbody tr').count()) >= 2, 'both attempts are listed');
    await shot('job-completed');
  });

  test('cancel a running job', async () => {
    const job = (await call('POST', '/v1/jobs', { task: 'crunch', payload: {} })) as { id: string };
    await until(async () => (await fusion.store.getJob({ id: job.id }))?.state === 'active', 10_000, 'the job to start');
    await page.goto(`${base}/dashboard#/jobs/${encodeURIComponent(job.id)}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'active', undefined, { timeout: 10_000 });
    // A dispatched click: the job view re-renders as the running job's events arrive, and a click
    // that waits for the button to hold still can miss it on a loaded machine.
    await page.getByRole('button', { name: 'Cancel' }).dispatchEvent('click');
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'cancelled', undefined, { timeout: 15_000 });
    assert.equal((await fusion.store.getJob({ id: job.id }))?.state, 'cancelled');
  });

  test('a snoozed job lists its run of snoozes as one attempt row, counted', async () => {
    const job = (await call('POST', '/v1/jobs', { task: 'nap', payload: {} })) as { id: string };
    await until(async () => (await fusion.store.getJob({ id: job.id }))?.state === 'completed', 10_000, 'the nap to end');
    await page.goto(`${base}/dashboard#/jobs/${encodeURIComponent(job.id)}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'completed', undefined, { timeout: 10_000 });
    assert.deepEqual(await page.locator('table.grid tbody tr td:nth-child(5)').allInnerTexts(), ['snoozed ×3', 'completed']);
    await shot('job-snoozed');
  });

  test("a job view left while its reload waits on an event does not come back over the next job's", async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const a = (await call('POST', '/v1/jobs', { task: 'report', payload: { n: 1 }, runAt: later })) as { id: string };
    const b = (await call('POST', '/v1/jobs', { task: 'report', payload: { n: 2 }, runAt: later })) as { id: string };
    await page.goto(`${base}/dashboard#/jobs/${encodeURIComponent(a.id)}`);
    const title = (id: string) => page.waitForFunction((want) => document.querySelector('.id-title')?.textContent === want, id, { timeout: 10_000 });
    await title(a.id);
    // An event for A (its reload follows 150 ms later, state.js's bus), then straight to B.
    await page.evaluate(async ([idA, idB]) => {
      // The page's own module instance (same URL); a variable keeps tsc from resolving it here.
      const stateModule = '/dashboard/app/state.js';
      const { bus } = await import(stateModule);
      bus.emit({ type: 'progress', jobId: idA });
      location.hash = `#/jobs/${encodeURIComponent(idB)}`;
    }, [a.id, b.id]);
    await title(b.id);
    // Nothing to await but the absence of a stale render: past A's 150 ms the view must still be B's.
    await page.waitForTimeout(600);
    assert.equal(await page.locator('.id-title').innerText(), b.id);
  });

  test('create a schedule, preview and see its next runs', async () => {
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByRole('button', { name: 'New schedule' }).click();
    const form = page.locator('[data-testid="create-schedule"]');
    await form.locator('input[name="id"]').fill('standup');
    await form.locator('input[name="task"]').fill('send-email');
    await form.locator('input[name="value"]').fill('0 9 * * 1-5');
    await form.locator('input[name="tz"]').fill('Asia/Kolkata');
    await form.locator('textarea[name="payload"]').fill('{"to": "team@example.com"}');
    await form.getByRole('button', { name: 'Preview next runs' }).click();
    await form.locator('[data-testid="preview"] li').nth(4).waitFor();
    assert.match(await form.innerText(), /every weekday at 09:00 Asia\/Kolkata/);
    await form.getByRole('button', { name: 'Create schedule' }).click();
    const card = page.locator('[data-schedule="standup"]');
    await card.locator('[data-testid="next-runs"] li').nth(4).waitFor();
    assert.equal(await card.locator('[data-testid="next-runs"] li').count(), 5);
    assert.match(await card.locator('.words').innerText(), /every weekday at 09:00 Asia\/Kolkata/);
    const s = (await call('GET', '/v1/schedules/standup')) as { trigger: { cron: string; tz: string } };
    assert.deepEqual(s.trigger, { cron: '0 9 * * 1-5', tz: 'Asia/Kolkata' });
    await shot('schedules');
  });

  test('edit a schedule in place: trigger and template, with a preview', async () => {
    const card = page.locator('[data-schedule="standup"]');
    const runsBefore = await card.locator('[data-testid="next-runs"] li').first().innerText();
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = card.locator('[data-testid="edit-schedule"]');
    await form.waitFor();
    // The form opens with the schedule as stored.
    assert.equal(await form.locator('input[name="value"]').inputValue(), '0 9 * * 1-5');
    assert.equal(await form.locator('input[name="tz"]').inputValue(), 'Asia/Kolkata');
    assert.equal(await form.locator('input[name="task"]').inputValue(), 'send-email');
    await form.locator('input[name="value"]').fill('30 10 * * 1-5');
    await form.locator('textarea[name="payload"]').fill('{"to": "leads@example.com"}');
    await form.getByRole('button', { name: 'Preview next runs' }).click();
    await form.locator('[data-testid="preview"] li').nth(4).waitFor();
    assert.match(await form.innerText(), /every weekday at 10:30 Asia\/Kolkata/);
    await shot('schedule-edit');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.waitFor({ state: 'detached' });
    await page.waitForFunction(() => /10:30/.test(document.querySelector('[data-schedule="standup"] .words')?.textContent ?? ''), undefined, { timeout: 10_000 });
    // The open list of next runs follows the edit.
    await page.waitForFunction((before) => {
      const li = document.querySelector('[data-schedule="standup"] [data-testid="next-runs"] li');
      return li !== null && li.textContent !== before;
    }, runsBefore, { timeout: 10_000 });
    const s = (await call('GET', '/v1/schedules/standup')) as { trigger: { cron: string; tz: string }; template: { task: string; payload: unknown }; nextRunAt: string };
    assert.deepEqual(s.trigger, { cron: '30 10 * * 1-5', tz: 'Asia/Kolkata' });
    assert.equal(s.template.task, 'send-email');
    assert.deepEqual(s.template.payload, { to: 'leads@example.com' });
    // The next run follows the new trigger: 10:30 in Kolkata is 05:00 UTC.
    assert.equal(new Date(s.nextRunAt).getUTCHours() * 60 + new Date(s.nextRunAt).getUTCMinutes(), 5 * 60);
  });

  test('pause a queue', async () => {
    await page.goto(`${base}/dashboard#/queues/emails`);
    await page.getByRole('button', { name: 'Pause queue' }).click();
    await page.getByRole('button', { name: 'Resume queue' }).waitFor();
    const q = ((await call('GET', '/v1/queues')) as { items: { name: string; paused: boolean }[] }).items.find((x) => x.name === 'emails');
    assert.equal(q?.paused, true);
    await page.locator('h1 .badge.warn').waitFor();
    await shot('queue-paused');
  });

  test('workers view, a phone in dark mode, and a read-only key sees no actions', async () => {
    // The overview again, now with an hour-chart of several samples (one every 5 s, and on events).
    await page.locator('header nav a', { hasText: 'Overview' }).click();
    await page.locator('.chart canvas').waitFor();
    await shot('overview-later');
    await page.getByRole('link', { name: 'Workers' }).click();
    await page.locator(`[data-worker="${worker.id}"]`).waitFor();
    await shot('workers');

    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', deviceScaleFactor: 2 });
    phone.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(phone, `${base}/dashboard`, KEYS.read);
    await phone.locator('[data-testid="queues"]').waitFor();
    await phone.locator('.badge', { hasText: 'read-only' }).waitFor();
    await phone.screenshot({ path: join(ARTIFACTS, 'phone-dark-overview.png'), fullPage: true });
    await phone.goto(`${base}/dashboard#/queues/payments?state=completed`);
    await phone.locator('[data-testid="jobs"]').waitFor();
    assert.equal(await phone.getByRole('button', { name: 'Pause queue' }).count(), 0, 'no actions for a read key');
    await phone.screenshot({ path: join(ARTIFACTS, 'phone-dark-queue.png'), fullPage: true });
    await phone.close();
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });

  test('providers view: sent, delivered, failed, latency per provider; a demotion shows without a reload', async () => {
    const smsWorker = fusion.worker({ queues: ['sms'], concurrency: 4 });
    try {
      const settled = (ids: string[]) => until(async () => (await Promise.all(ids.map((id) => fusion.store.getJob({ id })))).every((j) => j?.state === 'completed' || j?.state === 'failed'), 15_000, 'sms jobs settled');
      const ok = await Promise.all([1, 2, 3, 4].map((i) => fusion.enqueue('sms', { to: NUM.in, text: `hello ${i}` })));
      const intl = await fusion.enqueue('sms', { to: NUM.uk, text: 'hello uk' });
      await settled([...ok.map((j) => j.id), intl.id]);
      await page.getByRole('link', { name: 'Providers' }).click();
      const row = page.locator('tr[data-provider="sms/loop-in"]');
      await row.waitFor();
      assert.equal(await row.locator('td[data-k="sent"]').innerText(), '4');
      assert.equal(await page.locator('tr[data-provider="sms/loop-intl"] td[data-k="sent"]').innerText(), '1');
      assert.match(await row.locator('td[data-k="latency"]').innerText(), /\d+ ms/);
      assert.equal(await row.getAttribute('data-demoted'), 'false');
      assert.match(await row.innerText(), /\+91/);
      // Two retryable failures demote loop-in: the page shows it from the event stream.
      srv.answer('/a', 503, { error: 'down' });
      const bad = await Promise.all([1, 2].map((i) => fusion.enqueue('sms', { to: NUM.in, text: `down ${i}` }, { maxAttempts: 1 })));
      await settled(bad.map((j) => j.id));
      await page.waitForFunction(() => document.querySelector('tr[data-provider="sms/loop-in"]')?.getAttribute('data-demoted') === 'true', undefined, { timeout: 9_000 });
      assert.equal(await row.locator('.badge.bad').innerText(), 'demoted');
      await page.waitForFunction(() => document.querySelector('tr[data-provider="sms/loop-in"] td[data-k="failed"]')?.textContent?.startsWith('2'), undefined, { timeout: 9_000 });
      const content = await page.content();
      assert.ok(!content.includes(PROVIDER_TOKEN) && !content.includes(srv.url('/a')), 'no provider config beyond type, countries and rate on the page');
      // Webhooks to an endpoint that cuts every connection before answering: five connection
      // failures open that host's breaker, and the page lists it under the destination hosts.
      assert.equal(await page.getByTestId('breakers-none').innerText(), 'No destination host has failed lately.');
      const cutter = createServer((req) => req.socket.destroy());
      await new Promise<void>((r) => cutter.listen(0, '127.0.0.1', r));
      const port = (cutter.address() as AddressInfo).port;
      const hooks = await Promise.all([1, 2, 3, 4, 5].map(() => fusion.enqueue('webhook', { url: `http://127.0.0.1:${port}/hook`, method: 'POST' }, { maxAttempts: 1 })));
      const hookWorker = fusion.worker({ queues: ['webhook'], concurrency: 2 });
      try {
        await settled(hooks.map((j) => j.id));
      } finally {
        await hookWorker.stop(1000);
        cutter.closeAllConnections();
        await new Promise((r) => cutter.close(r));
      }
      const host = page.locator(`tr[data-host="127.0.0.1:${port}"]`);
      await host.waitFor({ timeout: 9_000 });
      assert.equal(await host.getAttribute('data-state'), 'open');
      assert.equal(await host.locator('.badge.bad').innerText(), 'open');
      assert.match(await page.getByTestId('hosts-title').innerText(), /1 failing/i);
      await shot('providers');
      assert.deepEqual(pageErrors, [], 'no errors in the page');
    } finally {
      await smsWorker.stop(1000);
    }
  });

  test('laptop in dark mode and phone in light mode: the theme follows the system, text keeps its contrast, the page fits (overview, a job, providers)', async () => {
    const failed = (await call('GET', '/v1/jobs?queue=payments&state=failed')) as { items: { id: string }[] };
    const jobId = failed.items[0]!.id;
    const looks = [
      { name: 'laptop-dark', viewport: { width: 1280, height: 860 }, colorScheme: 'dark' as const, dark: true },
      { name: 'phone-light', viewport: { width: 390, height: 844 }, colorScheme: 'light' as const, dark: false },
    ];
    for (const look of looks) {
      const p = await browser.newPage({ viewport: look.viewport, colorScheme: look.colorScheme, deviceScaleFactor: 2 });
      try {
        p.on('pageerror', (e) => pageErrors.push(e.message));
        await signIn(p, `${base}/dashboard`);
        await p.locator('[data-testid="queues"]').waitFor();
        for (const view of ['overview', 'job', 'providers']) {
          if (view === 'job') {
            await p.goto(`${base}/dashboard#/jobs/${encodeURIComponent(jobId)}`);
            await p.getByText('card declined by the test gateway').first().waitFor();
          }
          if (view === 'providers') {
            // The providers view with its destination hosts (a breaker the providers test opened).
            await p.goto(`${base}/dashboard#/providers`);
            await p.locator('[data-testid="breakers"] tr[data-host]').first().waitFor();
          }
          // WCAG relative luminance and contrast of the page's own colours, read from the browser.
          const colours = await p.evaluate(() => {
            const rgb = (el: Element, prop: 'color' | 'backgroundColor') => getComputedStyle(el)[prop].match(/\d+(\.\d+)?/g)!.slice(0, 3).map(Number);
            const muted = document.querySelector('.muted, h2') ?? document.body;
            return { bg: rgb(document.body, 'backgroundColor'), text: rgb(document.body, 'color'), muted: rgb(muted, 'color'), overflow: document.documentElement.scrollWidth - window.innerWidth };
          });
          const lum = ([r, g, b]: number[]) => [r!, g!, b!].map((c) => { const v = c / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
            .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i]!, 0);
          const contrast = (a: number[], b: number[]) => { const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x); return (hi! + 0.05) / (lo! + 0.05); };
          assert.equal(lum(colours.bg) < 0.1, look.dark, `${look.name} ${view}: background ${colours.bg} follows the ${look.colorScheme} scheme`);
          assert.ok(contrast(colours.text, colours.bg) >= 7, `${look.name} ${view}: body text contrast ${contrast(colours.text, colours.bg).toFixed(1)}`);
          assert.ok(contrast(colours.muted, colours.bg) >= 4.5, `${look.name} ${view}: muted text contrast ${contrast(colours.muted, colours.bg).toFixed(1)}`);
          // Wide tables scroll inside their own box; the page itself never scrolls sideways.
          assert.ok(colours.overflow <= 1, `${look.name} ${view}: the page is ${colours.overflow}px wider than the screen`);
          await p.screenshot({ path: join(ARTIFACTS, `${look.name}-${view}.png`), fullPage: true });
        }
      } finally {
        await p.close();
      }
    }
    assert.deepEqual(pageErrors, [], 'no errors in the page');
  });

  test('a server without keys opens straight on the overview, no sign-in, and acts', async () => {
    const open = await buildServer({ fusion, processMetrics: false });
    await open.listen({ port: 0, host: '127.0.0.1' });
    const p = await browser.newPage();
    try {
      p.on('pageerror', (e) => pageErrors.push(e.message));
      await p.goto(`http://127.0.0.1:${(open.server.address() as { port: number }).port}/dashboard`);
      await p.locator('[data-testid="queues"]').waitFor();
      assert.equal(await p.getByLabel('API key').count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Sign out' }).count(), 0);
      // Its own requests (same origin: keyless access refuses other sites' pages) reach the API:
      // the live stream, and an action.
      await p.locator('.live[data-status="live"]').waitFor();
      await p.goto(`http://127.0.0.1:${(open.server.address() as { port: number }).port}/dashboard#/queues/reports`);
      await p.getByRole('button', { name: 'Pause queue' }).click();
      await p.getByRole('button', { name: 'Resume queue' }).waitFor();
      assert.equal((await fusion.store.listQueues()).find((q) => q.name === 'reports')?.paused, true);
      await p.getByRole('button', { name: 'Resume queue' }).click();
      await p.getByRole('button', { name: 'Pause queue' }).waitFor();
      assert.deepEqual(pageErrors, []);
    } finally {
      await p.close();
      await open.close();
    }
  });
});
