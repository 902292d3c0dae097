// Editing a schedule in the dashboard, in a real headless Chromium against a running hub (a Fusion
// on a temp SQLite file, the API on 127.0.0.1:0): what the form does not show stays as stored.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import type { Fusion } from '../../src/fusion.js';
import type { tempDir } from '../helpers/tmp.js';
import { KEYS } from '../api/helpers.js';
import { closeAll, openSignedInHub, skipWithoutChromium } from './browser.js';

describe('dashboard schedule editing in headless Chromium', skipWithoutChromium, () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let page: Page;

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(base + path, {
      method, headers: { authorization: `Bearer ${KEYS.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${await r.clone().text()}`);
    return r.json();
  };

  before(async () => {
    ({ t, fusion, app, base, browser, page } = await openSignedInHub('fusion-dash-sched-', (hub) => { hub.task('lab-result', async () => 'sent', { queue: 'labs' }); }));
  });

  after(() => closeAll(browser, app, fusion, t));

  test("a new trigger saved from the form keeps the template's other fields (attempts, timeout, tags, priority)", async () => {
    const template = {
      task: 'lab-result', queue: 'labs', payload: { patient: 'p-17' }, priority: 5,
      maxAttempts: 7, timeout: 30_000, tags: ['lab', 'nightly'], description: 'nightly lab results',
    };
    await call('POST', '/v1/schedules', { id: 'nightly-labs', trigger: { cron: '0 2 * * *', tz: 'UTC' }, template });
    const before = ((await call('GET', '/v1/schedules/nightly-labs')) as { template: Record<string, unknown> }).template;
    await page.getByRole('link', { name: 'Schedules' }).click();
    const card = page.locator('[data-schedule="nightly-labs"]');
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = card.locator('[data-testid="edit-schedule"]');
    await form.locator('input[name="value"]').fill('30 2 * * *');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.waitFor({ state: 'detached' });
    const s = (await call('GET', '/v1/schedules/nightly-labs')) as { trigger: unknown; template: Record<string, unknown> };
    assert.deepEqual(s.trigger, { cron: '30 2 * * *', tz: 'UTC' });
    assert.deepEqual(s.template, before, 'only the trigger was changed');
  });

  test("saving an edit from a browser in another time zone keeps a schedule's time zone (none: UTC)", async () => {
    await call('POST', '/v1/schedules', { id: 'morning-otp-report', trigger: { cron: '0 9 * * *' }, template: { task: 'lab-result', payload: { to: 'ops' } } });
    const before = (await call('GET', '/v1/schedules/morning-otp-report')) as { trigger: unknown; nextRunAt: string };
    const p = await browser.newPage({ viewport: { width: 1280, height: 860 }, timezoneId: 'Asia/Kolkata' });
    try {
      await p.goto(`${base}/dashboard#/schedules`);
      await p.getByLabel('API key').fill(KEYS.admin);
      await p.getByRole('button', { name: 'Sign in' }).click();
      const card = p.locator('[data-schedule="morning-otp-report"]');
      assert.match(await card.locator('.words').innerText(), /every day at 09:00 UTC/);
      await card.getByRole('button', { name: 'Edit' }).click();
      const form = card.locator('[data-testid="edit-schedule"]');
      // Only the payload changes.
      await form.locator('textarea[name="payload"]').fill('{"to": "ops-oncall"}');
      await form.getByRole('button', { name: 'Save changes' }).click();
      await form.waitFor({ state: 'detached' });
      const s = (await call('GET', '/v1/schedules/morning-otp-report')) as { trigger: unknown; nextRunAt: string; template: { payload: unknown } };
      assert.deepEqual(s.template.payload, { to: 'ops-oncall' });
      assert.deepEqual(s.trigger, before.trigger, 'the trigger was not touched');
      assert.equal(s.nextRunAt, before.nextRunAt, 'it still fires at 09:00 UTC');
    } finally {
      await p.close();
    }
  });

  test('saving an edit of a one-off schedule keeps its instant to the millisecond', async () => {
    // A lab result due tomorrow at an instant with seconds (the form's datetime field shows minutes).
    const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 86_400_000 + 42_500).toISOString();
    await call('POST', '/v1/schedules', { id: 'result-p17', trigger: { at }, template: { task: 'lab-result', payload: { patient: 'p-17' } } });
    const before = (await call('GET', '/v1/schedules/result-p17')) as { trigger: unknown; nextRunAt: string };
    await page.goto(`${base}/dashboard#/schedules`);
    const card = page.locator('[data-schedule="result-p17"]');
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = card.locator('[data-testid="edit-schedule"]');
    await form.locator('textarea[name="payload"]').fill('{"patient": "p-17", "copy": "gp"}');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.waitFor({ state: 'detached' });
    const s = (await call('GET', '/v1/schedules/result-p17')) as { trigger: unknown; nextRunAt: string; template: { payload: unknown } };
    assert.deepEqual(s.template.payload, { patient: 'p-17', copy: 'gp' });
    assert.deepEqual(s.trigger, before.trigger, 'the trigger was not touched');
    assert.equal(s.nextRunAt, before.nextRunAt);
  });
});
