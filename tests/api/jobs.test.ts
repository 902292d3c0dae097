import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NonRetryableError } from '../../src/core/errors.js';
import { startApi, json, nextEvent, type Api } from './helpers.js';
import { until } from '../helpers/await.js';
import { maskerFor } from '../../src/api/present.js';
import { maskPayload } from '../../src/channels/attempt-log.js';
import { logRedactor } from '../../src/logging.js';

describe('/v1/jobs', () => {
  let api: Api;
  before(async () => {
    api = await startApi({
      setup: (f) => {
        f.task('echo', async (p: unknown) => ({ echoed: p }), { queue: 'echoes', priority: 'low' });
        f.task('boom', async () => {
          throw new NonRetryableError('boom');
        }, { queue: 'booms' });
      },
    });
  });
  after(() => api.close());

  test('POST creates a job with the task defaults and answers 201 with it', async () => {
    const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'echo', payload: { a: 1 } } });
    assert.equal(r.statusCode, 201);
    const j = json(r);
    assert.equal(j.task, 'echo');
    assert.equal(j.queue, 'echoes');
    assert.equal(j.priority, 0);
    assert.equal(j.state, 'queued');
    assert.deepEqual(j.payload, { a: 1 });
    assert.match(j.createdAt, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(j.leaseToken, undefined);
    const stored = await api.fusion.store.getJob({ id: j.id });
    assert.equal(stored?.state, 'queued');
  });

  test('every option is honoured', async () => {
    const runAt = new Date(Date.now() + 3600_000).toISOString();
    const r = await api.call({
      method: 'POST', url: '/v1/jobs',
      payload: {
        task: 'sms', payload: { contact: '1' }, queue: 'otp', priority: 'high', runAt, id: 'client-id-1', maxAttempts: 3,
        backoff: { type: 'fixed', delay: 500 }, timeout: 2000, callbacks: { onSuccess: 'https://example.com/ok', onFailure: 'http://example.com/ko' },
        description: 'an OTP', tags: ['otp', 'in'],
      },
    });
    assert.equal(r.statusCode, 201);
    const j = json(r);
    assert.equal(j.id, 'client-id-1');
    assert.equal(j.queue, 'otp');
    assert.equal(j.priority, 2);
    assert.equal(j.state, 'scheduled');
    assert.equal(j.runAt, runAt);
    assert.equal(j.maxAttempts, 3);
    assert.deepEqual(j.backoff, { type: 'fixed', delay: 500 });
    assert.equal(j.timeout, 2000);
    assert.deepEqual(j.callbacks, { onSuccess: 'https://example.com/ok', onFailure: 'http://example.com/ko' });
    assert.deepEqual(j.tags, ['otp', 'in']);
  });

  test('epoch-ms runAt and delay make scheduled jobs; integer priority is kept', async () => {
    const at = Date.now() + 60_000;
    const a = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', runAt: at, priority: 7 } }));
    assert.equal(a.state, 'scheduled');
    assert.equal(Date.parse(a.runAt), at);
    assert.equal(a.priority, 7);
    const b = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', delay: 30_000 } }));
    assert.equal(b.state, 'scheduled');
    assert.ok(Date.parse(b.runAt) - Date.parse(b.createdAt) === 30_000);
  });

  test('the same client id twice is one job: 200 when it matches, 409 when it does not', async () => {
    const body = { task: 'sms', id: 'dup-1', payload: { x: 1 } };
    assert.equal((await api.call({ method: 'POST', url: '/v1/jobs', payload: body })).statusCode, 201);
    const again = await api.call({ method: 'POST', url: '/v1/jobs', payload: body });
    assert.equal(again.statusCode, 200);
    assert.equal(json(again).id, 'dup-1');
    const other = await api.call({ method: 'POST', url: '/v1/jobs', payload: { ...body, payload: { x: 2 } } });
    assert.equal(other.statusCode, 409);
    assert.equal(json(other).error.details.field, 'id');
  });

  const bad: [string, unknown, string, number?][] = [
    ['missing task', { payload: 1 }, 'task'],
    ['task of wrong type', { task: 5 }, 'task'],
    ['empty task', { task: '' }, 'task'],
    ['unknown task', { task: 'no-such-task' }, 'task', 422],
    ['unknown field', { task: 'sms', colour: 'red' }, 'colour'],
    ['priority name', { task: 'sms', priority: 'urgent' }, 'priority'],
    ['priority out of range', { task: 'sms', priority: 1_000_000 }, 'priority'],
    ['fractional priority', { task: 'sms', priority: 1.5 }, 'priority'],
    ['invalid date', { task: 'sms', runAt: '2026-02-31T10:00:00Z' }, 'runAt'],
    ['not a date', { task: 'sms', runAt: 'tomorrow' }, 'runAt'],
    ['runAt in seconds (1970)', { task: 'sms', runAt: Math.floor(Date.now() / 1000) }, 'runAt'],
    ['runAt far in the future', { task: 'sms', runAt: Date.now() + 5 * 365 * 86400_000 }, 'runAt'],
    ['delay far in the future', { task: 'sms', delay: 5 * 365 * 86400_000 }, 'delay'],
    ['negative delay', { task: 'sms', delay: -1 }, 'delay'],
    ['runAt and delay', { task: 'sms', delay: 1, runAt: Date.now() }, 'delay'],
    ['bad queue name', { task: 'sms', queue: 'has space' }, 'queue'],
    ['zero maxAttempts', { task: 'sms', maxAttempts: 0 }, 'maxAttempts'],
    ['bad backoff', { task: 'sms', backoff: { type: 'fixed' } }, 'backoff'],
    ['callback not a URL', { task: 'sms', callbacks: { onSuccess: 'ftp://x' } }, 'callbacks.onSuccess'],
    ['tags not strings', { task: 'sms', tags: [1] }, 'tags[0]'],
    ['body is an array', [], 'body'],
    ['body is null', null, 'body'],
  ];
  for (const [name, body, field, status = 400] of bad) {
    test(`refuses ${name} with ${status} naming ${field}`, async () => {
      const before = await api.totalJobs();
      const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      assert.equal(r.statusCode, status, r.body);
      const e = json(r).error;
      assert.equal(typeof e.code, 'string');
      assert.equal(typeof e.message, 'string');
      assert.equal(e.details.field, field, r.body);
      assert.equal(await api.totalJobs(), before);
    });
  }

  test('malformed JSON answers 400 invalid_json', async () => {
    const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: '{"task": ', headers: { 'content-type': 'application/json' } });
    assert.equal(r.statusCode, 400);
    assert.equal(json(r).error.code, 'invalid_json');
  });

  test('a body over the limit answers 413', async () => {
    const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', payload: 'x'.repeat(1024 * 1024) } });
    assert.equal(r.statusCode, 413);
    assert.equal(json(r).error.code, 'payload_too_large');
  });

  test('form bodies are refused on /v1 (415)', async () => {
    const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: 'task=sms', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.statusCode, 415);
  });

  test('__proto__ in a body is refused, not merged', async () => {
    const r = await api.call({ method: 'POST', url: '/v1/jobs', payload: '{"task":"sms","__proto__":{"polluted":1}}', headers: { 'content-type': 'application/json' } });
    assert.equal(r.statusCode, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  // Inside the payload (which no schema checks), plainly or \u-escaped: Fastify's secure JSON
  // parser refuses them. A faster parser in its place must still do so.
  test('__proto__ and constructor.prototype keys anywhere in a body answer 400, escaped or not', async () => {
    const bodies = [
      '{"task":"echo","payload":{"__proto__":{"polluted":1}}}',
      '{"task":"echo","payload":{"\\u005f_proto__":{"polluted":1}}}',
      '{"task":"echo","payload":{"_\\u005fproto__":{"polluted":1}}}',
      '{"task":"echo","payload":{"constructor":{"prototype":{"polluted":1}}}}',
      '{"task":"echo","payload":{"\\u0063onstructor":{"prototype":{"polluted":1}}}}',
    ];
    for (const payload of bodies) {
      const r = await api.call({ method: 'POST', url: '/v1/jobs', payload, headers: { 'content-type': 'application/json' } });
      assert.equal(r.statusCode, 400, payload);
      assert.equal(json(r).error.code, 'invalid_json', payload);
    }
    // The same words as values, and escapes elsewhere, are plain data.
    for (const payload of ['{"task":"echo","payload":{"note":"__proto__ constructor"}}', '{"task":"echo","payload":{"note":"caf\\u00e9"}}']) {
      const r = await api.call({ method: 'POST', url: '/v1/jobs', payload, headers: { 'content-type': 'application/json' } });
      assert.equal(r.statusCode, 201, payload);
      assert.deepEqual(json(r).payload, JSON.parse(payload).payload);
    }
  });

  test('bulk adds all jobs atomically, or none when one is bad', async () => {
    const before = await api.totalJobs();
    const ok = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [{ task: 'sms' }, { task: 'echo', payload: 2 }, { task: 'email', priority: 'low' }] } });
    assert.equal(ok.statusCode, 201);
    const b = json(ok);
    assert.equal(b.jobs.length, 3);
    assert.equal(b.created, 3);
    assert.equal(await api.totalJobs(), before + 3);
    const bad = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [{ task: 'sms' }, { task: 'sms', runAt: 'nope' }] } });
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).error.details.field, 'jobs[1].runAt');
    const unknown = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [{ task: 'sms' }, { task: 'ghost' }] } });
    assert.equal(unknown.statusCode, 422);
    assert.equal(json(unknown).error.details.field, 'jobs[1].task');
    const dupIds = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [{ task: 'sms', id: 'same' }, { task: 'sms', id: 'same' }] } });
    assert.equal(dupIds.statusCode, 400);
    assert.equal(await api.totalJobs(), before + 3);
  });

  test('bulk takes 1000 jobs and refuses 1001', async () => {
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ task: 'sms', payload: { i } }));
    const r = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs } });
    assert.equal(r.statusCode, 201);
    assert.equal(json(r).created, 1000);
    const over = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [...jobs, { task: 'sms' }] } });
    assert.equal(over.statusCode, 400);
    assert.equal(json(over).error.details.field, 'jobs');
  });

  test('bulk bodies may exceed the body limit, each payload may not', async () => {
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ task: 'sms', payload: { i, text: 'z'.repeat(2000) } }));
    const r = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs } });
    assert.equal(r.statusCode, 201, r.body.slice(0, 300));
    const before = await api.totalJobs();
    const one = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: [{ task: 'sms' }, { task: 'sms', payload: 'y'.repeat(1024 * 1024 + 1) }] } });
    assert.equal(one.statusCode, 413);
    assert.equal(json(one).error.details.field, 'jobs[1].payload');
    const huge = await api.call({ method: 'POST', url: '/v1/jobs/bulk', payload: { jobs: Array.from({ length: 9 }, () => ({ task: 'sms', payload: 'q'.repeat(1000 * 1000) })) } });
    assert.equal(huge.statusCode, 413);
    assert.equal(await api.totalJobs(), before);
  });

  test('closing the server ends waiting long-polls at once', async () => {
    const other = await startApi();
    try {
      const j = json(await other.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', queue: 'nobody' } }));
      const t0 = Date.now();
      const pending = other.call({ method: 'GET', url: `/v1/jobs/${j.id}?wait=60` });
      const waiting = async () => /fusion_api_long_polls 1/.test((await other.call({ method: 'GET', url: '/metrics' })).body);
      await until(waiting, 5000, 'the long-poll waiting', 1);
      await other.app.close();
      const r = await pending;
      assert.equal(json(r).state, 'queued');
      assert.ok(Date.now() - t0 < 5000, 'did not wait out the minute');
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  test('list filters by queue, state and task and pages with a cursor', async () => {
    for (let i = 0; i < 5; i++) await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'echo', queue: 'listing', payload: i } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const qs: string = `/v1/jobs?queue=listing&state=queued&task=echo&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = json(await api.call({ method: 'GET', url: qs }));
      assert.ok(page.items.length <= 2);
      for (const j of page.items) {
        assert.equal(j.queue, 'listing');
        seen.push(j.id);
      }
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(new Set(seen).size, 5);
    assert.equal((await api.call({ method: 'GET', url: '/v1/jobs?state=bogus' })).statusCode, 400);
    assert.equal((await api.call({ method: 'GET', url: '/v1/jobs?limit=0' })).statusCode, 400);
    assert.equal((await api.call({ method: 'GET', url: '/v1/jobs?cursor=%24%24' })).statusCode, 400);
  });

  test('router-level refusals keep the error shape', async () => {
    const long = await api.call({ method: 'GET', url: `/v1/jobs/${'x'.repeat(600)}` });
    assert.equal(long.statusCode, 414);
    assert.equal(json(long).error.code, 'uri_too_long');
    const enc = await api.call({ method: 'GET', url: '/v1/jobs/%E0%A4%A' });
    assert.equal(enc.statusCode, 400);
    assert.equal(json(enc).error.details.field, 'url');
  });

  test('GET a job; 404 for an unknown id', async () => {
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms' } }));
    const r = await api.call({ method: 'GET', url: `/v1/jobs/${j.id}` });
    assert.equal(r.statusCode, 200);
    assert.equal(json(r).id, j.id);
    const missing = await api.call({ method: 'GET', url: '/v1/jobs/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(json(missing).error.code, 'not_found');
  });

  test('?wait long-polls until the job finishes', async () => {
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'echo', payload: 'hi' } }));
    const t0 = Date.now();
    const pending = api.call({ method: 'GET', url: `/v1/jobs/${j.id}?wait=20` });
    const worker = api.fusion.worker({ queues: ['echoes'], concurrency: 1 });
    try {
      const r = await pending;
      assert.equal(r.statusCode, 200);
      assert.equal(json(r).state, 'completed');
      assert.deepEqual(json(r).result, { echoed: 'hi' });
      assert.ok(Date.now() - t0 < 15_000);
    } finally {
      await worker.stop(1000);
    }
  });

  test('?wait returns the unfinished job when the wait ends', async () => {
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', queue: 'nobody-serves' } }));
    const t0 = Date.now();
    const r = await api.call({ method: 'GET', url: `/v1/jobs/${j.id}?wait=0.3` });
    assert.equal(json(r).state, 'queued');
    assert.ok(Date.now() - t0 >= 250);
    assert.equal((await api.call({ method: 'GET', url: `/v1/jobs/${j.id}?wait=61` })).statusCode, 400);
  });

  test('cancel, retry, promote, reschedule, delete', async () => {
    const later = Date.now() + 3600_000;
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'sms', runAt: later } }));
    const moved = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/reschedule`, payload: { runAt: later + 60_000 } });
    assert.equal(moved.statusCode, 200);
    assert.equal(Date.parse(json(moved).runAt), later + 60_000);
    const badMove = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/reschedule`, payload: { runAt: 'soon' } });
    assert.equal(badMove.statusCode, 400);
    assert.equal(json(badMove).error.details.field, 'runAt');
    // A field an action does not take is refused, as everywhere on /v1, and the job is left as it was.
    for (const action of ['promote', 'cancel']) {
      const odd = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/${action}`, payload: { reason: 'typo', force: true } });
      assert.deepEqual([odd.statusCode, json(odd).error.code], [400, 'invalid_request'], `${action}: ${odd.body}`);
    }
    assert.equal((await api.fusion.store.getJob({ id: j.id }))!.state, 'scheduled');
    const promoted = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/promote`, payload: {} });
    assert.equal(json(promoted).state, 'queued');
    const again = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/promote`, headers: { 'content-type': 'application/json' }, payload: '' });
    assert.equal(again.statusCode, 409);
    const cancelled = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/cancel` });
    assert.equal(json(cancelled).state, 'cancelled');
    assert.equal((await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/cancel` })).statusCode, 409);
    const retried = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/retry`, payload: { resetAttempts: false } });
    assert.equal(json(retried).state, 'queued');
    assert.equal((await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/retry`, payload: { resetAttempts: 'yes' } })).statusCode, 400);
    const del = await api.call({ method: 'DELETE', url: `/v1/jobs/${j.id}` });
    assert.equal(del.statusCode, 204);
    assert.equal(await api.fusion.store.getJob({ id: j.id }), null);
    assert.equal((await api.call({ method: 'DELETE', url: `/v1/jobs/${j.id}` })).statusCode, 404);
    assert.equal((await api.call({ method: 'POST', url: '/v1/jobs/nope/cancel' })).statusCode, 404);
  });

  test('a failed job can be retried through the API', async () => {
    const failed = nextEvent(api.fusion, (e) => e.type === 'failed' && e.queue === 'booms');
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'boom' } }));
    const worker = api.fusion.worker({ queues: ['booms'], concurrency: 1 });
    try {
      await failed;
    } finally {
      await worker.stop(1000);
    }
    const got = json(await api.call({ method: 'GET', url: `/v1/jobs/${j.id}` }));
    assert.equal(got.state, 'failed');
    assert.equal(got.error.message, 'boom');
    assert.equal(got.error.stack, undefined);
    const r = await api.call({ method: 'POST', url: `/v1/jobs/${j.id}/retry` });
    assert.equal(json(r).state, 'queued');
    assert.equal(json(r).attempts, 0);
  });

  test('secret-looking payload fields are masked in answers but stored intact', async () => {
    const j = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'push', payload: { android: { api_key: 'AAA' }, password: 'p', auth_header: 'Bearer t' } } }));
    assert.equal(j.payload.password, '[redacted]');
    assert.equal(j.payload.android.api_key, '[redacted]');
    assert.equal(j.payload.auth_header, '[redacted]');
    const stored = await api.fusion.store.getJob({ id: j.id });
    assert.equal((stored!.payload as { password: string }).password, 'p');
  });
});

// One rule for what is a secret (core/secret-fields.ts): what the per-attempt log masks, every answer
// a read-only key (and so the dashboard) gets masks too: a webhook's X-Auth-Token header, a
// Twilio-style authToken, a refresh_token, a Cookie were shown in clear where the log hid them.
describe('secret-named fields: answers mask what logs mask', () => {
  const SECRETS = { 'X-Auth-Token': 'SECRET-x-auth-token-1111', 'Api-Key': 'SECRET-api-key-dash-2222', Cookie: 'session=SECRET-cookie-3333' };
  const PAYLOAD = {
    url: 'https://hooks.example.com/in', method: 'POST', headers: SECRETS,
    authToken: 'SECRET-authToken-4444', refresh_token: 'SECRET-refresh-5555', client_key: 'SECRET-client-key-6666', otp: 4711,
    useAuth: true, privateNote: null,
  };
  const VALUES = [...Object.values(SECRETS), PAYLOAD.authToken, PAYLOAD.refresh_token, PAYLOAD.client_key, '4711'];
  let api: Api;
  let jobId: string;
  let scheduleId: string;
  before(async () => {
    api = await startApi({
      auth: true,
      setup: (f) => f.task('leaky', async (p: typeof PAYLOAD) => ({ sent: true, echo: p, session: { cookie: p.headers.Cookie } }), { queue: 'leaks' }),
    });
    const done = nextEvent(api.fusion, (e) => e.type === 'completed' && e.queue === 'leaks');
    const r = await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'leaky', parameters: PAYLOAD }, as: 'send' });
    assert.equal(r.statusCode, 202, r.body);
    jobId = json(r).task_id;
    const worker = api.fusion.worker({ queues: ['leaks'], concurrency: 1 });
    try {
      await done;
    } finally {
      await worker.stop(1000);
    }
    const s = await api.call({ method: 'POST', url: '/v1/schedules', payload: { trigger: { every: '1h' }, template: { task: 'leaky', payload: PAYLOAD } }, as: 'send' });
    assert.equal(s.statusCode, 201, s.body);
    scheduleId = json(s).id;
  });
  after(() => api.close());

  test('no view a read key gets shows them: job, list, /jobInfo/, /api/tasks/:id, schedules', async () => {
    const views: [string, string, unknown?][] = [
      ['GET', `/v1/jobs/${jobId}`], ['GET', '/v1/jobs?limit=10'], ['POST', '/jobInfo/', { job_id: jobId }], ['GET', `/api/tasks/${jobId}`],
      ['GET', '/v1/schedules'], ['GET', `/v1/schedules/${scheduleId}`], ['POST', '/jobInfo/', { job_id: scheduleId }],
    ];
    for (const [method, url, payload] of views) {
      const r = await api.call({ method: method as 'GET', url, ...(payload ? { payload: payload as object } : {}), as: 'read' });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      assert.deepEqual(VALUES.filter((v) => r.body.includes(v)), [], `${method} ${url} shows secrets in clear`);
    }
    const job = json(await api.call({ method: 'GET', url: `/v1/jobs/${jobId}`, as: 'read' }));
    assert.deepEqual(job.payload.headers, { 'X-Auth-Token': '[redacted]', 'Api-Key': '[redacted]', Cookie: '[redacted]' });
    assert.equal(job.payload.url, PAYLOAD.url);
    assert.equal(job.payload.useAuth, true, 'a flag hides nothing');
    assert.equal(job.payload.privateNote, null);
    assert.deepEqual(job.result.session, { cookie: '[redacted]' });
    assert.equal(job.result.sent, true);
    // Stored intact: the handler got them.
    assert.equal(((await api.fusion.store.getJob({ id: jobId }))!.payload as typeof PAYLOAD).authToken, PAYLOAD.authToken);
  });

  test('answers, log lines and the per-attempt log mask the same names', () => {
    const names = ['password', 'passwd', 'secret', 'client_secret', 'token', 'refresh_token', 'apiKey', 'api_key', 'X-Api-Key', 'authorization', 'auth_header',
      'authToken', 'Cookie', 'set-cookie', 'privateKey', 'credentials', 'signature', 'otp', 'PIN', 'certificate', 'to', 'url', 'message', 'method', 'task_type', 'invalidTokens'];
    const value = Object.fromEntries(names.map((n) => [n, `v-${n}`]));
    const masked = (v: unknown) => Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] === '[redacted]').sort();
    const answer = masked(maskerFor([])(value));
    const attempt = masked(maskPayload(value));
    const logged = masked((logRedactor()({ line: value }) as { line: unknown }).line);
    assert.deepEqual(attempt, answer);
    assert.deepEqual(logged, answer);
    assert.deepEqual(answer, names.slice(0, 20).sort());
  });
});
