import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, json, nextEvent, type Api } from './helpers.js';
import { until } from '../helpers/await.js';

describe('/v1/queues and /v1/workers', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ setup: (f) => f.task('quick', async (p: number) => p * 2, { queue: 'quick' }) });
  });
  after(() => api.close());

  const queue = async (name: string) => json(await api.call({ method: 'GET', url: '/v1/queues' })).items.find((q: { name: string }) => q.name === name);

  test('counts per state and the oldest queued job', async () => {
    await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', queue: 'counted' } });
    await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', queue: 'counted', delay: 60_000 } });
    const q = await queue('counted');
    assert.equal(q.counts.queued, 1);
    assert.equal(q.counts.scheduled, 1);
    assert.equal(q.paused, false);
    assert.match(q.oldestQueuedAt, /Z$/);
  });

  test('pause and resume', async () => {
    const p = json(await api.call({ method: 'POST', url: '/v1/queues/counted/pause' }));
    assert.equal(p.paused, true);
    assert.equal((await queue('counted')).paused, true);
    const r = json(await api.call({ method: 'POST', url: '/v1/queues/counted/resume' }));
    assert.equal(r.paused, false);
    assert.equal((await api.call({ method: 'POST', url: '/v1/queues/bad%20name/pause' })).statusCode, 400);
  });

  test('rate limit and concurrency are set and cleared', async () => {
    const set = await api.call({ method: 'PATCH', url: '/v1/queues/counted', payload: { rateLimit: { max: 5, windowMs: 1000 }, concurrency: 3 } });
    assert.equal(set.statusCode, 200);
    assert.deepEqual(json(set).rateLimit, { max: 5, windowMs: 1000 });
    assert.equal(json(set).concurrency, 3);
    const cleared = json(await api.call({ method: 'PATCH', url: '/v1/queues/counted', payload: { rateLimit: null, concurrency: null } }));
    assert.equal(cleared.rateLimit, null);
    assert.equal(cleared.concurrency, null);
    for (const [body, field] of [[{}, 'body'], [{ rateLimit: { max: 0, windowMs: 1000 } }, 'rateLimit.max'], [{ concurrency: 'lots' }, 'concurrency'], [{ speed: 1 }, 'speed']] as const) {
      const r = await api.call({ method: 'PATCH', url: '/v1/queues/counted', payload: body });
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.equal(json(r).error.details.field, field, r.body);
    }
  });

  test('clean removes finished jobs only', async () => {
    const done = nextEvent(api.fusion, (e) => e.type === 'completed' && e.queue === 'quick');
    await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'quick', payload: 21 } });
    await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'quick', payload: 1, delay: 60_000 } });
    const w = api.fusion.worker({ queues: ['quick'] });
    try {
      await done;
    } finally {
      await w.stop(1000);
    }
    const bad = await api.call({ method: 'POST', url: '/v1/queues/quick/clean', payload: { states: ['queued'] } });
    assert.equal(bad.statusCode, 400);
    const r = await api.call({ method: 'POST', url: '/v1/queues/quick/clean', payload: { olderThanMs: 0, states: ['completed'] } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(json(r), { queue: 'quick', removed: 1 });
    const q = await queue('quick');
    assert.equal(q.counts.completed, 0);
    assert.equal(q.counts.scheduled, 1);
    assert.deepEqual(json(await api.call({ method: 'POST', url: '/v1/queues/quick/clean' })), { queue: 'quick', removed: 0 });
  });

  test('live workers with their queues and running jobs', async () => {
    const w = api.fusion.worker({ queues: ['quick', 'counted'], concurrency: 4 });
    try {
      const listed = async (): Promise<Record<string, unknown> | undefined> =>
        json(await api.call({ method: 'GET', url: '/v1/workers' })).items.find((x: { id: string }) => x.id === w.id);
      await until(async () => (await listed()) !== undefined, 5000, 'the worker shows up', 1);
      const found = await listed();
      assert.ok(found, 'the worker shows up');
      assert.deepEqual(found.queues, ['quick', 'counted']);
      assert.equal(found.concurrency, 4);
      assert.equal(found.pid, process.pid);
      assert.equal(typeof found.host, 'string');
      assert.ok(Array.isArray(found.running));
      assert.equal(found.runningCount, (found.running as unknown[]).length);
      assert.match(String(found.lastHeartbeatAt), /Z$/);
    } finally {
      await w.stop(1000);
    }
  });
});
