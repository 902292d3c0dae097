// /v1/me, /v1/jobs/:id/logs, /v1/jobs/:id/stack, and the dashboard's static files.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, json, nextEvent, type Api } from './helpers.js';
import { IMPORT_MAP } from '../../src/dashboard/serve.js';

describe('reads for the dashboard', () => {
  let api: Api;
  before(async () => {
    api = await startApi({
      auth: true,
      setup: (f) => f.task('noisy', async (_p: unknown, ctx) => {
        await ctx.log('first line');
        await ctx.log('second line');
        throw new Error('boom');
      }, { queue: 'noisy', maxAttempts: 1 }),
    });
  });
  after(() => api.close());

  test('/v1/me names the key and its roles; no key is 401', async () => {
    assert.deepEqual(json(await api.call({ method: 'GET', url: '/v1/me', as: 'read' })), { name: 'fusion_api_keys#3', roles: ['read'], authEnabled: true });
    assert.deepEqual(json(await api.call({ method: 'GET', url: '/v1/me', as: 'admin' })).roles, ['admin']);
    assert.equal((await api.call({ method: 'GET', url: '/v1/me', as: null })).statusCode, 401);
    assert.equal((await api.call({ method: 'GET', url: '/v1/me', as: 'send' })).statusCode, 403);
  });

  test('logs for read keys, the stack for admin keys only', async () => {
    const failed = nextEvent(api.fusion, (e) => e.type === 'failed' && e.queue === 'noisy');
    const job = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'noisy' }, as: 'send' }));
    const w = api.fusion.worker({ queues: ['noisy'] });
    try {
      await failed;
    } finally {
      await w.stop(1000);
    }
    const logs = json(await api.call({ method: 'GET', url: `/v1/jobs/${job.id}/logs`, as: 'read' }));
    assert.deepEqual(logs.items.map((l: { message: string }) => l.message), ['first line', 'second line']);
    assert.match(logs.items[0].at, /Z$/);
    assert.equal((await api.call({ method: 'GET', url: `/v1/jobs/${job.id}/stack`, as: 'read' })).statusCode, 403);
    const stack = json(await api.call({ method: 'GET', url: `/v1/jobs/${job.id}/stack`, as: 'admin' })).stack;
    assert.match(stack, /^Error: boom\n\s+at /);
    assert.equal((await api.call({ method: 'GET', url: '/v1/jobs/nope/logs', as: 'read' })).statusCode, 404);
    assert.equal((await api.call({ method: 'GET', url: '/v1/jobs/nope/stack', as: 'admin' })).statusCode, 404);
  });

  test('the dashboard is served without a key: page, sources and vendor modules; nothing else', async () => {
    const page = await api.call({ method: 'GET', url: '/dashboard', as: null });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.ok(page.body.includes(`<script type="importmap">${JSON.stringify(IMPORT_MAP)}</script>`));
    assert.match(page.headers['content-security-policy'] as string, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    for (const url of ['/dashboard/app/main.js', '/dashboard/app/style.css', ...Object.values(IMPORT_MAP.imports), '/dashboard/vendor/uplot.css']) {
      const r = await api.call({ method: 'GET', url, as: null });
      assert.equal(r.statusCode, 200, url);
      assert.ok(r.body.length > 100, url);
    }
    assert.match((await api.call({ method: 'GET', url: '/dashboard/vendor/preact.mjs', as: null })).headers['content-type'] as string, /javascript/);
    for (const url of ['/dashboard/app/..%2F..%2Fpackage.json', '/dashboard/app/serve.ts', '/dashboard/app/nope.js', '/dashboard/vendor/react.mjs']) {
      assert.equal((await api.call({ method: 'GET', url, as: null })).statusCode, 404, url);
    }
  });
});

describe('/v1/me without keys', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());
  test('every role, auth off', async () => {
    assert.deepEqual(json(await api.call({ method: 'GET', url: '/v1/me' })), { name: null, roles: ['send', 'read', 'admin'], authEnabled: false });
  });
});
