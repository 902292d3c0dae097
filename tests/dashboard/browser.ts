// The set-up the dashboard tests share: the Chromium they drive (and what to do when it is missing),
// a hub on a temp SQLite file, the API on 127.0.0.1, the browser, and the sign-in form.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { Fusion, type FusionOptions } from '../../src/fusion.js';
import { buildServer, type ServerOptions } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { tempDir } from '../helpers/tmp.js';
import { KEYS, KEY_SPEC } from '../api/helpers.js';

export const CHROMIUM = process.env.FUSION_CHROMIUM ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
// Loud, and fatal in CI: a quiet skip would let the browser tests stop running unnoticed.
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI needs it for the dashboard tests (apt-get install chromium)`);
if (missing) process.stderr.write(`\n*** SKIPPING the dashboard browser tests: ${CHROMIUM} is not installed (apt-get install chromium) ***\n\n`);

/** Why a browser suite is skipped (Chromium is not installed), or false. */
export const chromiumSkip: string | false = missing ? `${CHROMIUM} not installed` : false;
/** The describe option of a browser suite. */
export const skipWithoutChromium = { skip: chromiumSkip };

/** The laptop-sized viewport most pages are opened with. */
export const LAPTOP = { width: 1280, height: 860 };

/** A Fusion on a new temp SQLite file (events polled every 200 ms), and that folder to remove after. */
export async function openSqliteHub(prefix: string, options: Omit<FusionOptions, 'store'> = {}): Promise<{ t: ReturnType<typeof tempDir>; fusion: Fusion }> {
  const t = tempDir(prefix);
  try {
    return { t, fusion: await Fusion.open({ store: `sqlite:${join(t.dir, 'hub.db')}`, events: { pollMs: 200 }, ...options }) };
  } catch (e) {
    t.remove();
    throw e;
  }
}

/** The API with the test keys (KEY_SPEC) on 127.0.0.1 (any free port unless `port` is given). */
export async function serve(fusion: Fusion, options: Omit<ServerOptions, 'fusion'> = {}, port = 0): Promise<{ app: FastifyInstance; base: string; port: number }> {
  const app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC), ...options });
  try {
    await app.listen({ port, host: '127.0.0.1' });
  } catch (e) {
    await app.close();
    throw e;
  }
  const bound = (app.server.address() as { port: number }).port;
  return { app, base: `http://127.0.0.1:${bound}`, port: bound };
}

/** Headless Chromium; playwright-core is loaded only here, so a skipped suite never loads it. */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Opens `url` (a /dashboard address) and submits the sign-in form with `key`; the caller waits for the view it wants. */
export async function signIn(page: Page, url: string, key: string = KEYS.admin): Promise<void> {
  await page.goto(url);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A laptop-sized page signed in at `url` with the admin key, once `ready` (a selector) shows. */
export async function signedInPage(browser: Browser, url: string, ready: string): Promise<Page> {
  const page = await browser.newPage({ viewport: LAPTOP });
  await signIn(page, url);
  await page.locator(ready).waitFor();
  return page;
}

/** Closes what a suite opened, browser first (its page holds a stream to the API), each if it got that far. */
export async function closeAll(browser: Browser | undefined, app: FastifyInstance | undefined, fusion: Fusion | undefined, t: ReturnType<typeof tempDir> | undefined): Promise<void> {
  await browser?.close();
  await app?.close();
  await fusion?.close(500);
  t?.remove();
}

/**
 * A hub on a temp SQLite file with the tasks `register` adds, its API served, and a laptop page
 * signed in with the admin key once the live stream is up. What opened is closed again if a step fails.
 */
export async function openSignedInHub(prefix: string, register: (fusion: Fusion) => void): Promise<{
  t: ReturnType<typeof tempDir>; fusion: Fusion; app: FastifyInstance; base: string; browser: Browser; page: Page;
}> {
  const { t, fusion } = await openSqliteHub(prefix);
  let app: FastifyInstance | undefined;
  let browser: Browser | undefined;
  try {
    register(fusion);
    let base: string;
    ({ app, base } = await serve(fusion));
    browser = await launchBrowser();
    const page = await signedInPage(browser, `${base}/dashboard`, '.live[data-status="live"]');
    return { t, fusion, app, base, browser, page };
  } catch (e) {
    await closeAll(browser, app, fusion, t);
    throw e;
  }
}
