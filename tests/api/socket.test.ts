// Over a real TCP socket: what inject cannot show (Content-Length limits on the wire, aborted
// long-polls, keep-alive, form posts from a plain HTTP client).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startApi, KEYS, type Api } from './helpers.js';
import { until } from '../helpers/await.js';

describe('API over a socket', () => {
  let api: Api;
  let base: string;
  before(async () => {
    api = await startApi({ auth: true, setup: (f) => f.task('slow', async () => new Promise((r) => setTimeout(r, 50, 'done')), { queue: 'slow' }) });
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
  });
  after(() => api.close());

  const auth = (k: keyof typeof KEYS) => ({ authorization: `Bearer ${KEYS[k]}` });

  test('POST /v1/jobs then long-poll it to completion', async () => {
    const r = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth('send'), 'content-type': 'application/json' }, body: JSON.stringify({ task: 'slow' }) });
    assert.equal(r.status, 201);
    const { id } = (await r.json()) as { id: string };
    const poll = fetch(`${base}/v1/jobs/${id}?wait=10`, { headers: auth('read') });
    const w = api.fusion.worker({ queues: ['slow'] });
    try {
      const done = (await (await poll).json()) as { state: string; result: string };
      assert.equal(done.state, 'completed');
      assert.equal(done.result, 'done');
    } finally {
      await w.stop(1000);
    }
  });

  test('an aborted long-poll releases its waiter', async () => {
    const r = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth('admin'), 'content-type': 'application/json' }, body: JSON.stringify({ task: 'sms', queue: 'idle' }) });
    const { id } = (await r.json()) as { id: string };
    const ac = new AbortController();
    const poll = fetch(`${base}/v1/jobs/${id}?wait=30`, { headers: auth('read'), signal: ac.signal }).catch((e) => e);
    const gauge = async () => {
      const m = await (await fetch(`${base}/metrics`, { headers: auth('read') })).text();
      return Number(/fusion_api_long_polls (\d+)/.exec(m)?.[1]);
    };
    // The request reaches the server and starts waiting; observe it rather than sleep.
    await until(async () => (await gauge()) === 1, 5000, 'the long-poll waiting', 1);
    ac.abort();
    assert.equal((await poll).name, 'AbortError');
    await until(async () => (await gauge()) === 0, 5000, 'the waiter released', 1);
    assert.equal(await gauge(), 0);
  });

  test('a body over 1 MiB is refused with 413 by Content-Length, and the server keeps serving', async () => {
    const big = JSON.stringify({ task: 'sms', payload: 'x'.repeat(1024 * 1024 + 10) });
    const r = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth('send'), 'content-type': 'application/json' }, body: big });
    assert.equal(r.status, 413);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'payload_too_large');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  test('a chunked body over the limit is cut off with 413 too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth('send'), 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"task":"sms","payload":"');
      for (let i = 0; i < 20; i++) req.write('y'.repeat(64 * 1024));
      req.end('"}');
    });
    assert.equal(status, 413);
  });

  test('legacy form post from a plain client', async () => {
    const body = new URLSearchParams({ payload: JSON.stringify({ task: 2, to: 'a@example.com', subject: 's', message: 'm' }), priority: '1', task_type: 'REPORT' });
    const r = await fetch(`${base}/queue/`, { method: 'POST', headers: { 'x-api-key': KEYS.send }, body });
    assert.equal(r.status, 200);
    const { job_id, status } = (await r.json()) as { job_id: string; status: string };
    assert.equal(status, 'queued');
    assert.equal((await api.fusion.store.getJob({ id: job_id }))?.queue, 'email');
  });

  test('no credentials over the wire: 401 with WWW-Authenticate', async () => {
    const r = await fetch(`${base}/v1/jobs`);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /Bearer/);
  });
});
