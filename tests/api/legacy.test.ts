import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NonRetryableError } from '../../src/core/errors.js';
import { FileConsentStore } from '../../src/api/consent.js';
import { tempDir } from '../helpers/tmp.js';
import { startApi, json, nextEvent, type Api } from './helpers.js';

const form = (o: Record<string, unknown>) =>
  new URLSearchParams(Object.entries(o).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)])).toString();

describe('original Fusion routes', () => {
  // A server per test: no test sees jobs, tasks or consent another made, so order cannot matter.
  let api: Api;
  let consentDir: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    consentDir = tempDir();
    api = await startApi({
      consent: new FileConsentStore(join(consentDir.dir, 'consent.jsonl')),
      setup: (f) => {
        f.task('data_processing', async (p: { data: string }) => p.data.toUpperCase(), { queue: 'data' });
        f.task('breaks', async () => {
          throw new NonRetryableError('provider said no');
        }, { queue: 'breaks' });
      },
    });
  });
  afterEach(async () => {
    await api.close();
    consentDir.remove();
  });

  const channels: [number, Record<string, unknown>, string, string][] = [
    [1, { contact: 9876543210, countryCode: 91, message: 'OTP 1234' }, 'sms', 'sms'],
    [2, { to: ['a@example.com'], subject: 'Hi', message: '<p>hi</p>' }, 'email', 'email'],
    [3, { android: { registration_ids: ['t'] } }, 'push', 'pn'],
    [4, { url: 'https://hooks.example.com/x', data: {} }, 'webhook', 'webhook'],
    [6, { contact: '9876543210', countryCode: 91, message: 'hello' }, 'whatsapp', 'whatsapp'],
  ];
  for (const [n, payload, task, queue] of channels) {
    test(`/queue/ task ${n} → ${task} on queue ${queue}`, async () => {
      const r = await api.call({
        method: 'POST', url: '/queue/',
        payload: { payload: { task: n, ...payload }, priority: 2, task_type: 'OTP', success_task_handler: 'https://cb.example.com/ok', failed_task_handler: 'https://cb.example.com/ko' },
      });
      assert.equal(r.statusCode, 200, r.body);
      const { job_id, status } = json(r);
      assert.equal(status, 'queued');
      const job = (await api.fusion.store.getJob({ id: job_id }))!;
      assert.equal(job.task, task);
      assert.equal(job.queue, queue);
      assert.equal(job.priority, 2);
      assert.deepEqual(job.callbacks, { onSuccess: 'https://cb.example.com/ok', onFailure: 'https://cb.example.com/ko', format: 'form' });
      assert.ok(job.tags.includes('task_type:OTP'));
      assert.equal((job.payload as { task: number }).task, n);
      if (task === 'webhook') assert.equal((job.payload as { method: string }).method, 'POST');
    });
  }

  test('/queue/ keeps a given webhook method, uppercased; default priority is 1', async () => {
    const r = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 4, url: 'http://x.example.com', method: 'put' } } }));
    const job = (await api.fusion.store.getJob({ id: r.job_id }))!;
    assert.equal((job.payload as { method: string }).method, 'PUT');
    assert.equal(job.priority, 1);
  });

  test('/queue/ takes form-encoded bodies', async () => {
    const r = await api.call({
      method: 'POST', url: '/queue/', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ payload: { task: 1, contact: 98765, message: 'x' }, priority: 0, task_type: 'CAMPAIGN', job_id: 'form-job-1' }),
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(json(r).job_id, 'form-job-1');
    const job = (await api.fusion.store.getJob({ id: 'form-job-1' }))!;
    assert.equal(job.priority, 0);
    assert.equal(job.queue, 'sms');
  });

  test('/queue/ reads JSON sent without a content type or as text/plain, as the original did', async () => {
    const body = JSON.stringify({ payload: { task: 1, contact: 5, message: 'm' } });
    for (const headers of [{}, { 'content-type': 'text/plain' }]) {
      const r = await api.app.inject({ method: 'POST', url: '/queue/', payload: body, headers });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((await api.fusion.store.getJob({ id: json(r).job_id }))?.queue, 'sms');
    }
    const v1 = await api.app.inject({ method: 'POST', url: '/v1/jobs', payload: JSON.stringify({ task: 'sms' }), headers: { 'content-type': 'text/plain' } });
    assert.equal(v1.statusCode, 415, 'the native API stays JSON-only');
  });

  test('/queue/ job_id is idempotent; a different body under the same job_id is 409', async () => {
    const body = { payload: { task: 1, contact: 1, message: 'a' }, job_id: 'legacy-dup' };
    assert.equal((await api.call({ method: 'POST', url: '/queue/', payload: body })).statusCode, 200);
    assert.equal((await api.call({ method: 'POST', url: '/queue/', payload: body })).statusCode, 200);
    const other = await api.call({ method: 'POST', url: '/queue/', payload: { ...body, payload: { task: 1, contact: 2 } } });
    assert.equal(other.statusCode, 409);
    assert.equal(json(other).error.details.field, 'job_id');
  });

  const badQueue: [string, unknown, string][] = [
    ['no payload', { priority: 1 }, 'payload'],
    ['unknown task number', { payload: { task: 5 } }, 'payload.task'],
    ['SMS without contact', { payload: { task: 1, message: 'x' } }, 'payload.contact'],
    ['email without to', { payload: { task: 2, subject: 's' } }, 'payload.to'],
    ['webhook without url', { payload: { task: 4 } }, 'payload.url'],
    ['webhook with a bad method', { payload: { task: 4, url: 'https://x.io', method: 'TRACE' } }, 'payload.method'],
    ['priority 3', { payload: { task: 1, contact: 1 }, priority: 3 }, 'priority'],
    ['handler not a URL', { payload: { task: 1, contact: 1 }, success_task_handler: 'nope' }, 'success_task_handler'],
  ];
  for (const [name, body, field] of badQueue) {
    test(`/queue/ refuses ${name} (400, ${field})`, async () => {
      const before = await api.totalJobs();
      const r = await api.call({ method: 'POST', url: '/queue/', payload: body as object });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(json(r).error.details.field, field);
      assert.equal(await api.totalJobs(), before);
    });
  }

  test('/queue/ push needs android or ios', async () => {
    const r = await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 3 } } });
    assert.equal(r.statusCode, 400);
  });

  test('/schedule/ with schedule_at (epoch seconds or ISO) or delay (seconds)', async () => {
    const at = Math.floor(Date.now() / 1000) + 3600;
    const a = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, schedule_at: at } }));
    assert.equal(a.status, 'scheduled');
    assert.equal((await api.fusion.store.getJob({ id: a.job_id }))!.runAt, at * 1000);
    const iso = new Date((at + 60) * 1000).toISOString();
    const b = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 2, to: 'a@b.co' }, schedule_at: iso } }));
    assert.equal((await api.fusion.store.getJob({ id: b.job_id }))!.runAt, (at + 60) * 1000);
    const c = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 6, contact: 1 }, delay: 120 } }));
    const cj = (await api.fusion.store.getJob({ id: c.job_id }))!;
    assert.equal(cj.runAt - cj.createdAt, 120_000);
    const f = await api.call({
      method: 'POST', url: '/schedule/', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ payload: { task: 1, contact: 1 }, schedule_at: String(at) }),
    });
    assert.equal(f.statusCode, 200, f.body);
  });

  const badSchedule: [string, Record<string, unknown>, string][] = [
    ['no time at all', {}, 'schedule_at'],
    ['two times', { delay: 1, schedule_at: Math.floor(Date.now() / 1000) + 10 }, 'delay'],
    ['milliseconds given as seconds (far future)', { schedule_at: Date.now() }, 'schedule_at'],
    ['an invalid date', { schedule_at: '2026-13-01T00:00:00' }, 'schedule_at'],
    ['a negative delay', { delay: -5 }, 'delay'],
    ['repeat without cron', { delay: 5, repeat: 3 }, 'repeat'],
  ];
  for (const [name, extra, field] of badSchedule) {
    test(`/schedule/ refuses ${name}`, async () => {
      const r = await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, ...extra } });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(json(r).error.details.field, field);
    });
  }

  test('/jobInfo/ answers in snake_case with RQ status words', async () => {
    const { job_id } = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 1, contact: 1, password: 's3cret' }, task_type: 'OTP' } }));
    const r = await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id } });
    assert.equal(r.statusCode, 200);
    const info = json(r);
    assert.equal(info.job_id, job_id);
    assert.equal(info.status, 'queued');
    assert.equal(info.task_type, 'OTP');
    assert.equal(info.retry_attempts, 0);
    assert.equal(info.result, null);
    assert.equal(info.error, null);
    assert.match(info.created_at, /Z$/);
    assert.equal(info.started_at, null);
    assert.equal(info.ended_at, null);
    assert.equal(info.payload.password, '[redacted]');
    const missing = await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id: 'nope' } });
    assert.equal(missing.statusCode, 404);
    const noId = await api.call({ method: 'POST', url: '/jobInfo/', payload: {} });
    assert.equal(noId.statusCode, 400);
    assert.equal(json(noId).error.details.field, 'job_id');
  });

  test('/cancelJob/, /rescheduleJob/, /retryTask/', async () => {
    const at = Math.floor(Date.now() / 1000) + 3600;
    const { job_id } = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, schedule_at: at } }));
    const moved = await api.call({ method: 'POST', url: '/rescheduleJob/', payload: { job_id, schedule_at: at + 600 } });
    assert.equal(moved.statusCode, 200);
    assert.equal((await api.fusion.store.getJob({ id: job_id }))!.runAt, (at + 600) * 1000);
    const c = await api.call({ method: 'POST', url: '/cancelJob/', payload: { job_id } });
    assert.deepEqual(json(c), { job_id, status: 'canceled' });
    const again = await api.call({ method: 'POST', url: '/cancelJob/', payload: { job_id } });
    assert.equal(again.statusCode, 200, 'an already cancelled job: old clients retry their cancel');
    assert.deepEqual(json(again), { job_id, status: 'canceled' });
    const retried = await api.call({ method: 'POST', url: '/retryTask/', payload: { job_id } });
    assert.deepEqual(json(retried), { job_id, status: 'queued' });
    assert.equal((await api.call({ method: 'POST', url: '/cancelJob/', payload: { job_id: 'nope' } })).statusCode, 404);
    assert.equal((await api.call({ method: 'POST', url: '/retryTask/', payload: { job_id: 'nope' } })).statusCode, 404);
  });

  test('/retryTask/ on a job that failed for real, and /jobInfo/ shows the failure', async () => {
    const failed = nextEvent(api.fusion, (e) => e.type === 'failed' && e.queue === 'breaks');
    const j = await api.fusion.enqueue('breaks', {});
    const w = api.fusion.worker({ queues: ['breaks'] });
    try {
      await failed;
    } finally {
      await w.stop(1000);
    }
    const info = json(await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id: j.id } }));
    assert.equal(info.status, 'failed');
    assert.equal(info.error, 'provider said no');
    assert.ok(info.ended_at);
    const r = json(await api.call({ method: 'POST', url: '/retryTask/', payload: { job_id: j.id } }));
    assert.equal(r.status, 'queued');
  });

  test('/mapping/ needs a registered mapping task, then queues on dictionary', async () => {
    const before = await api.totalJobs();
    const r = await api.call({ method: 'POST', url: '/mapping/', payload: { payload: { lab: 1 } } });
    assert.equal(r.statusCode, 422);
    assert.equal(json(r).error.code, 'unknown_task');
    assert.match(json(r).error.message, /mapping/);
    assert.equal(await api.totalJobs(), before);
    api.fusion.task('mapping', async () => 'mapped');
    const ok = await api.call({ method: 'POST', url: '/mapping/', payload: { payload: { lab: 1 }, priority: 0 } });
    assert.equal(ok.statusCode, 200);
    const job = (await api.fusion.store.getJob({ id: json(ok).job_id }))!;
    assert.equal(job.queue, 'dictionary');
    assert.equal(job.task, 'mapping');
    assert.deepEqual(job.payload, { lab: 1 });
    const bare = json(await api.call({ method: 'POST', url: '/mapping/', payload: { lab: 2, dict: ['a'] } }));
    assert.deepEqual((await api.fusion.store.getJob({ id: bare.job_id }))!.payload, { lab: 2, dict: ['a'] });
  });

  test('/update_consent/ records consent durably (JSON and form)', async () => {
    const r = await api.call({ method: 'POST', url: '/update_consent/', payload: { contact: '98765 43210', countryCode: 91, consent: true } });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual({ ...json(r), updated_at: undefined }, { contact: '9876543210', country_code: '91', consent: true, status: 'updated', updated_at: undefined });
    const f = await api.call({
      method: 'POST', url: '/update_consent/', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'contact=5551234&countryCode=1&consent=false',
    });
    assert.equal(f.statusCode, 200, f.body);
    assert.equal(json(f).consent, false);
    const reopened = new FileConsentStore(join(consentDir.dir, 'consent.jsonl'));
    assert.equal((await reopened.get('9876543210', '91'))?.consent, true);
    assert.equal((await reopened.get('555-1234', '+1'))?.consent, false);
    await reopened.close();
    for (const [body, field] of [
      [{ contact: '98765', countryCode: 91 }, 'consent'],
      [{ contact: '98765', countryCode: 91, consent: 'maybe' }, 'consent'],
      [{ contact: 'abc', countryCode: 91, consent: true }, 'contact'],
      [{ contact: '98765', countryCode: 'IN', consent: true }, 'countryCode'],
    ] as const) {
      const bad = await api.call({ method: 'POST', url: '/update_consent/', payload: body });
      assert.equal(bad.statusCode, 400, JSON.stringify(body));
      assert.equal(json(bad).error.details.field, field);
    }
  });

  test('/api/tasks: registered task types, email_sending → email, unknown → 422', async () => {
    const r = await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'data_processing', priority: 'high', parameters: { data: 'test data' }, delay: 0 } });
    assert.equal(r.statusCode, 202);
    const { task_id, status } = json(r);
    assert.equal(status, 'PENDING');
    const job = (await api.fusion.store.getJob({ id: task_id }))!;
    assert.equal(job.task, 'data_processing');
    assert.equal(job.queue, 'data');
    assert.equal(job.priority, 2);
    const e = json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'email_sending', parameters: { to: 'r@example.com' } } }));
    const ej = (await api.fusion.store.getJob({ id: e.task_id }))!;
    assert.equal(ej.task, 'email');
    assert.equal(ej.priority, 1);
    const d = json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'data_processing', priority: 'low', parameters: { data: 'x' }, delay: 30 } }));
    const dj = (await api.fusion.store.getJob({ id: d.task_id }))!;
    assert.equal(dj.state, 'scheduled');
    assert.equal(dj.priority, 0);
    const unknown = await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'file_processing', parameters: {} } });
    assert.equal(unknown.statusCode, 422);
    assert.equal(json(unknown).error.details.field, 'task_type');
    assert.match(json(unknown).error.message, /file_processing/);
    const badPrio = await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'data_processing', priority: 'urgent' } });
    assert.equal(badPrio.statusCode, 400);
    assert.equal(json(badPrio).error.details.field, 'priority');
  });

  test('GET /api/tasks/:id reports Celery states through to SUCCESS', async () => {
    const { task_id } = json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'data_processing', parameters: { data: 'abc' } } }));
    const done = nextEvent(api.fusion, (e) => e.type === 'completed' && e.jobId === task_id);
    assert.equal(json(await api.call({ method: 'GET', url: `/api/tasks/${task_id}` })).status, 'PENDING');
    const w = api.fusion.worker({ queues: ['data'] });
    try {
      await done;
    } finally {
      await w.stop(1000);
    }
    const r = json(await api.call({ method: 'GET', url: `/api/tasks/${task_id}` }));
    assert.equal(r.status, 'SUCCESS');
    assert.equal(r.result, 'ABC');
    assert.equal(r.task_type, 'data_processing');
    assert.equal(json(await api.call({ method: 'GET', url: '/api/tasks/none' })).status, 'PENDING', 'an unknown id, as Celery answers it (tests/api/legacy-compat)');
  });
});
