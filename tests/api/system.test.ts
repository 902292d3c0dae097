import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startApi, json, nextEvent, KEYS, type Api } from './helpers.js';
import { until } from '../helpers/await.js';
import { AUTH_ROUTES } from './routes.js';
import { SnoozeError } from '../../src/core/errors.js';

describe('health, metrics, OpenAPI, docs, logs', () => {
  let api: Api;
  const lines: string[] = [];
  before(async () => {
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    api = await startApi({
      auth: true,
      logger: { level: 'debug', stream },
      setup: (f) => f.task('work', async (p: { ms?: number }) => ({ ok: true, ms: p?.ms ?? 0 }), { queue: 'work' }),
    });
  });
  after(() => api.close());

  test('/healthz and /readyz', async () => {
    assert.deepEqual(json(await api.call({ method: 'GET', url: '/healthz', as: null })), { status: 'ok' });
    assert.deepEqual(json(await api.call({ method: 'GET', url: '/readyz', as: null })), { status: 'ready' });
  });

  test('/readyz answers 503 when the store is gone', async () => {
    const other = await startApi();
    try {
      await other.fusion.store.close();
      const r = await other.call({ method: 'GET', url: '/readyz' });
      assert.equal(r.statusCode, 503);
      assert.equal(json(r).error.code, 'store_unreachable');
      assert.equal(r.headers['retry-after'], '1', 'a 503 says when to try again, as every other 503 does');
      const post = await other.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms' } });
      assert.ok(post.statusCode === 503, `a dead store is a 503 to retry, not a crash: ${post.statusCode} ${post.body}`);
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  test('/metrics exposes job counters by queue and task, durations, queue gauges, HTTP stats', async () => {
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'work', payload: { ms: 1 } } }));
    const done = nextEvent(api.fusion, (e) => e.type === 'completed' && e.jobId === j.id);
    await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', queue: 'waiting' } });
    const w = api.fusion.worker({ queues: ['work'] });
    try {
      await done;
    } finally {
      await w.stop(1000);
    }
    // The outcome counter is fed from the same event, by a listener of its own: wait for it to count.
    const metrics = () => api.call({ method: 'GET', url: '/metrics', as: 'read' });
    await until(async () => /fusion_jobs_completed_total\{queue="work",task="work"\} 1/.test((await metrics()).body), 5000, 'the completion counted', 5);
    const r = await metrics();
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /text\/plain/);
    const m = r.body;
    assert.match(m, /fusion_jobs_enqueued_total\{queue="work",task="work"\} 1/);
    assert.match(m, /fusion_jobs_completed_total\{queue="work",task="work"\} 1/);
    assert.match(m, /fusion_job_attempt_duration_seconds_count\{queue="work",task="work",outcome="completed"\} 1/);
    assert.match(m, /fusion_queue_depth\{queue="waiting",state="queued"\} 1/);
    assert.match(m, /fusion_queue_depth\{queue="work",state="completed"\} 1/);
    assert.match(m, /fusion_queue_oldest_job_age_seconds\{queue="waiting"\} \d/);
    assert.match(m, /fusion_queue_paused\{queue="waiting"\} 0/);
    assert.match(m, /# TYPE fusion_jobs_failed_total counter/);
    assert.match(m, /# TYPE fusion_jobs_retried_total counter/);
    assert.match(m, /# TYPE fusion_scheduler_lateness_seconds histogram/);
    assert.match(m, /fusion_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} \d+/);
  });

  test('/metrics counts snoozes apart: an attempt that put its job off is neither a retry nor a failure', async () => {
    api.fusion.task('nap', (_p, ctx) => {
      if (!ctx.job.history.some((h) => h.outcome === 'snoozed')) throw new SnoozeError(1, 'not yet');
      return 'rested';
    }, { queue: 'naps' });
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'nap' } }));
    const done = nextEvent(api.fusion, (e) => e.type === 'completed' && e.jobId === j.id);
    const w = api.fusion.worker({ queues: ['naps'] });
    try {
      await done;
    } finally {
      await w.stop(1000);
    }
    const metrics = async () => (await api.call({ method: 'GET', url: '/metrics', as: 'read' })).body;
    await until(async () => /fusion_jobs_completed_total\{queue="naps",task="nap"\} 1/.test(await metrics()), 5000, 'the completion counted', 5);
    const m = await metrics();
    assert.match(m, /fusion_jobs_snoozed_total\{queue="naps",task="nap"\} 1/);
    assert.match(m, /fusion_job_attempt_duration_seconds_count\{queue="naps",task="nap",outcome="snoozed"\} 1/);
    assert.doesNotMatch(m, /fusion_jobs_retried_total\{queue="naps"/);
  });

  test('/openapi.json documents every route with the validating schemas', async () => {
    const r = await api.call({ method: 'GET', url: '/openapi.json', as: null });
    assert.equal(r.statusCode, 200);
    const doc = json(r);
    assert.equal(doc.openapi, '3.1.0');
    for (const [method, url] of AUTH_ROUTES) {
      if (url === '/openapi.json' || url === '/docs') continue;
      const path = url.replace(/\/x(\/|$)/, '/{id}$1').replace(/\/q(\/|$)/, '/{name}$1');
      const op = doc.paths[path]?.[method.toLowerCase()];
      assert.ok(op, `${method} ${path} documented`);
      assert.ok(op.responses, `${method} ${path} has responses`);
    }
    const create = doc.paths['/v1/jobs'].post;
    assert.equal(create.requestBody.content['application/json'].schema.additionalProperties, false);
    assert.ok(create.requestBody.content['application/json'].schema.properties.priority);
    assert.ok(create.parameters.some((p: { name: string }) => p.name === 'Idempotency-Key'));
    assert.ok(doc.paths['/queue/'].post.requestBody.content['application/x-www-form-urlencoded']);
    assert.deepEqual(doc.paths['/healthz'].get.security, []);
    assert.ok(doc.components.securitySchemes.bearer);
  });

  test('/docs serves Swagger UI with its assets', async () => {
    const page = await api.call({ method: 'GET', url: '/docs', as: null });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui-bundle\.js/);
    const js = await api.call({ method: 'GET', url: '/docs/swagger-ui-bundle.js', as: null });
    assert.equal(js.statusCode, 200);
    assert.ok(js.body.length > 100_000);
    assert.match((await api.call({ method: 'GET', url: '/docs/init.js', as: null })).body, /openapi\.json/);
    assert.equal((await api.call({ method: 'GET', url: '/docs/..%2Fpackage.json', as: null })).statusCode, 404);
  });

  test('unknown routes answer 404 in the error shape', async () => {
    const r = await api.call({ method: 'GET', url: '/v2/nothing' });
    assert.equal(r.statusCode, 404);
    assert.equal(json(r).error.code, 'route_not_found');
  });

  test('request logs carry the key name, never the key, and mask payload secrets', async () => {
    lines.length = 0;
    await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', payload: { password: 'hunter2-secret', otp: '918273', contact: '555' } }, as: 'send' });
    await api.call({ method: 'GET', url: '/v1/queues', headers: { 'x-api-key': KEYS.read }, as: null });
    await api.call({ method: 'GET', url: '/v1/queues', headers: { authorization: 'Bearer wrong-key-but-still-secret' }, as: null });
    const all = lines.join('\n');
    assert.ok(lines.some((l) => JSON.parse(l).route === '/v1/jobs'), 'a line per request');
    assert.ok(lines.some((l) => JSON.parse(l).key === 'fusion_api_keys#2'), 'the key is named');
    for (const secret of [KEYS.send, KEYS.read, 'wrong-key-but-still-secret', 'hunter2-secret', '918273']) {
      assert.ok(!all.includes(secret), `log leaks ${secret}`);
    }
    assert.ok(all.includes('"contact":"555"'), 'non-secret payload fields are logged at debug');
  });
});
