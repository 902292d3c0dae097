import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { canonicalJson, IdempotencyCache } from '../../src/api/idempotency.js';
import { tempDir } from '../helpers/tmp.js';
import { startApi, json, type Api } from './helpers.js';

describe('Idempotency-Key', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ auth: true });
  });
  after(() => api.close());

  const post = (key: string, payload: unknown, as: 'admin' | 'send' = 'send', url = '/v1/jobs') =>
    api.call({ method: 'POST', url, payload: payload as object, headers: { 'idempotency-key': key }, as });

  test('the same key and body replay the first answer; one job is made', async () => {
    const before = await api.totalJobs();
    const a = await post('order-1', { task: 'sms', payload: { to: 1 } });
    assert.equal(a.statusCode, 201);
    assert.equal(a.headers['idempotency-replay'], undefined);
    const b = await post('order-1', { payload: { to: 1 }, task: 'sms' });
    assert.equal(b.statusCode, 201);
    assert.equal(b.headers['idempotency-replay'], 'true');
    assert.equal(b.body, a.body);
    assert.equal(await api.totalJobs(), before + 1);
  });

  test('the same key with another body answers 422', async () => {
    await post('order-2', { task: 'sms', payload: 1 });
    const r = await post('order-2', { task: 'sms', payload: 2 });
    assert.equal(r.statusCode, 422);
    assert.equal(json(r).error.code, 'idempotency_key_reused');
    assert.equal(json(r).error.details.field, 'Idempotency-Key');
  });

  test('keys are scoped per API key', async () => {
    const a = json(await post('shared', { task: 'sms' }, 'send'));
    const b = json(await post('shared', { task: 'sms' }, 'admin'));
    assert.notEqual(a.id, b.id);
  });

  test('concurrent duplicates make one job', async () => {
    const before = await api.totalJobs();
    const rs = await Promise.all(Array.from({ length: 10 }, () => post('burst', { task: 'email', payload: { n: 1 } })));
    assert.ok(rs.every((r) => r.statusCode === 201));
    assert.equal(new Set(rs.map((r) => json(r).id)).size, 1);
    assert.equal(rs.filter((r) => r.headers['idempotency-replay'] === 'true').length, 9);
    assert.equal(await api.totalJobs(), before + 1);
  });

  test('a refused request does not burn the key', async () => {
    const bad = await post('fix-me', { task: 'sms', priority: 'urgent' });
    assert.equal(bad.statusCode, 400);
    const good = await post('fix-me', { task: 'sms', priority: 'high' });
    assert.equal(good.statusCode, 201);
  });

  test('id and Idempotency-Key together are refused', async () => {
    const r = await post('with-id', { task: 'sms', id: 'mine' });
    assert.equal(r.statusCode, 400);
    assert.equal(json(r).error.details.field, 'id');
  });

  test('bulk: replay returns the same jobs, no new ones', async () => {
    const body = { jobs: [{ task: 'sms' }, { task: 'email' }] };
    const before = await api.totalJobs();
    const a = await post('bulk-1', body, 'send', '/v1/jobs/bulk');
    const b = await post('bulk-1', body, 'send', '/v1/jobs/bulk');
    assert.equal(a.statusCode, 201);
    assert.equal(b.headers['idempotency-replay'], 'true');
    assert.deepEqual(json(b).jobs.map((j: { id: string }) => j.id), json(a).jobs.map((j: { id: string }) => j.id));
    assert.equal(await api.totalJobs(), before + 2);
  });

  test('keys on other POSTs replay too (cancel)', async () => {
    const j = json(await post('c-1', { task: 'sms', delay: 60_000 }));
    const h = { 'idempotency-key': 'cancel-c-1' };
    const a = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/cancel`, headers: h });
    const b = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/cancel`, headers: h });
    assert.equal(a.statusCode, 200);
    assert.equal(b.statusCode, 200, 'a replay, not a 409 "already cancelled"');
    assert.equal(b.headers['idempotency-replay'], 'true');
  });

  test('a malformed key is refused', async () => {
    const r = await post('has space', { task: 'sms' });
    assert.equal(r.statusCode, 400);
    assert.equal(json(r).error.details.field, 'Idempotency-Key');
  });

  test('replays survive a restart: the key decides the job id in the store', async () => {
    const t = tempDir('fusion-idem-');
    const url = `sqlite:${join(t.dir, 'f.db')}`;
    const body = { task: 'sms', payload: { n: 42 } };
    const open = async () => {
      const fusion = await Fusion.open({ store: url, channels: false });
      const app = await buildServer({ fusion, processMetrics: false });
      return { fusion, app };
    };
    try {
      const one = await open();
      const a = await one.app.inject({ method: 'POST', url: '/v1/jobs', payload: body, headers: { 'idempotency-key': 'durable' } });
      await one.app.close();
      await one.fusion.close(100);
      const two = await open();
      const b = await two.app.inject({ method: 'POST', url: '/v1/jobs', payload: body, headers: { 'idempotency-key': 'durable' } });
      const c = await two.app.inject({ method: 'POST', url: '/v1/jobs', payload: { ...body, payload: { n: 43 } }, headers: { 'idempotency-key': 'durable' } });
      const total = (await two.fusion.store.countJobs())['sms']!.queued;
      await two.app.close();
      await two.fusion.close(100);
      assert.equal(a.statusCode, 201);
      assert.equal(b.statusCode, 201);
      assert.equal(b.headers['idempotency-replay'], 'true');
      assert.equal(json(b).id, json(a).id);
      assert.equal(c.statusCode, 422);
      assert.equal(total, 1);
    } finally {
      t.remove();
    }
  });

  test('a DELETE (204, no body) replays as it was answered, not 404', async () => {
    const j = json(await post('del-job', { task: 'sms', delay: 100_000 }));
    const del = () => api.call({ method: 'DELETE', url: `/v1/jobs/${j.id}`, headers: { 'idempotency-key': 'del-1' }, as: 'admin' });
    const first = await del();
    const again = await del();
    assert.deepEqual([first.statusCode, again.statusCode, again.headers['idempotency-replay'], again.body], [204, 204, 'true', '']);
  });

  test('bulk, once the answer is forgotten: the same key with more or fewer jobs answers 422 and creates nothing', async () => {
    // An answer cache of one entry stands in for a restart or another process.
    const forgetful = await startApi({ auth: true, idempotency: { maxEntries: 1 } });
    try {
      const bulk = (key: string, jobs: unknown[]) => forgetful.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs } as never, headers: { 'idempotency-key': key }, as: 'send' });
      assert.equal((await bulk('BK', [{ task: 'sms', payload: 'x' }, { task: 'sms', payload: 'y' }])).statusCode, 201);
      await bulk('other', [{ task: 'sms' }]); // pushes BK out of the answer cache
      const more = await bulk('BK', [{ task: 'sms', payload: 'x' }, { task: 'sms', payload: 'y' }, { task: 'sms', payload: 'EXTRA' }]);
      const fewer = await bulk('BK', [{ task: 'sms', payload: 'x' }]);
      const same = await bulk('BK', [{ task: 'sms', payload: 'x' }, { task: 'sms', payload: 'y' }]);
      assert.deepEqual([more.statusCode, json(more).error?.code, fewer.statusCode, same.statusCode, same.headers['idempotency-replay']], [422, 'idempotency_key_reused', 422, 201, 'true']);
      assert.equal(await forgetful.totalJobs(), 3, 'the first two and the other key\'s one');
    } finally {
      await forgetful.close();
    }
  });

  test('canonicalJson ignores key order; the LRU stays bounded', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), canonicalJson({ a: [{ c: 2, d: 1 }], b: 1 }));
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: '1' }));
    const cache = new IdempotencyCache({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) cache.claim(`k${i}`, 'f');
    assert.equal(cache.size, 3);
    let now = 0;
    const ttl = new IdempotencyCache({ ttlMs: 10, now: () => now });
    assert.equal(ttl.claim('k', 'f').owner, true);
    assert.equal(ttl.claim('k', 'f').owner, false);
    now = 11;
    assert.equal(ttl.claim('k', 'f').owner, true);
    const small = new IdempotencyCache({ maxBytes: 1600 });
    for (let i = 0; i < 20; i++) {
      const { entry } = small.claim(`b${i}`, 'f');
      small.settle(`b${i}`, entry, { status: 201, body: 'x'.repeat(90), contentType: 'application/json' });
    }
    assert.ok(small.storedBytes <= 1600, `${small.storedBytes} bytes kept`);
    assert.ok(small.size < 20);
    const { entry: huge } = small.claim('huge', 'f');
    small.settle('huge', huge, { status: 201, body: 'y'.repeat(200), contentType: 'application/json' });
    assert.equal(small.claim('huge', 'f').owner, true, 'an answer over a sixteenth of the budget is not kept');
  });
});
