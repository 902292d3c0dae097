// The compatibility routes hand handlers the payload as sent, and take what the original clients
// and worker post: the worker's /retryTask/ list, repeated cancels, schedule ids on
// /rescheduleJob/, form consent=1, email_sending on /api/tasks. With the channels installed, the
// reference payloads are delivered as the original delivered them.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { occurrenceJobId } from '../../src/core/schedule-spec.js';
import { waitForState } from '../helpers/engine.js';
import { receiver } from '../channels/webhook-server.js';
import { startApi, json, KEYS, type Api } from './helpers.js';

const formBody = (o: Record<string, unknown>) =>
  new URLSearchParams(Object.entries(o).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)])).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('compat routes: payloads as sent', () => {
  // A server per test: no test sees jobs or schedules another made, so order cannot matter.
  let api: Api;
  beforeEach(async () => {
    api = await startApi({ setup: (f) => f.task('mapping', async () => 'mapped') });
  });
  afterEach(() => api.close());

  test('POST /queue/ JSON: contact 9876543210 stays a number, to ["a@x.io"] stays a list', async () => {
    const sms = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 1, contact: 9876543210, countryCode: 91, message: 'hi' } } }));
    assert.deepEqual((await api.fusion.store.getJob({ id: sms.job_id }))!.payload, { task: 1, contact: 9876543210, countryCode: 91, message: 'hi' });
    const email = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 2, to: ['a@x.io'], cc: [], subject: 'S', message: '<p>m</p>' } } }));
    const p = (await api.fusion.store.getJob({ id: email.job_id }))!.payload as Record<string, unknown>;
    assert.deepEqual(p.to, ['a@x.io']);
    assert.deepEqual(p.cc, []);
    const one = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 2, to: 'b@x.io' } } }));
    assert.equal(((await api.fusion.store.getJob({ id: one.job_id }))!.payload as { to: unknown }).to, 'b@x.io', 'a single address stays a string too');
  });

  test('form bodies: envelope fields read from strings, the payload JSON kept exactly', async () => {
    const r = await api.call({
      method: 'POST', url: '/queue/', headers: FORM,
      payload: formBody({ payload: { task: 1, contact: 9876543210, countryCode: '91', flags: [1, '2'], nested: { n: 5 } }, priority: '2', task_type: 'OTP' }),
    });
    assert.equal(r.statusCode, 200, r.body);
    const job = (await api.fusion.store.getJob({ id: json(r).job_id }))!;
    assert.equal(job.priority, 2, 'priority "2" from the form is the number 2');
    assert.deepEqual(job.payload, { task: 1, contact: 9876543210, countryCode: '91', flags: [1, '2'], nested: { n: 5 } });
    const bad = await api.call({ method: 'POST', url: '/queue/', headers: FORM, payload: formBody({ payload: { task: 1, contact: 1 }, priority: 'high' }) });
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).error.details.field, 'priority');
  });

  test('/schedule/, /mapping/ and /api/tasks keep nested types too', async () => {
    const s = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 6, contact: 9876543210, countryCode: 91 }, delay: '60' } }));
    const sj = (await api.fusion.store.getJob({ id: s.job_id }))!;
    assert.deepEqual(sj.payload, { task: 6, contact: 9876543210, countryCode: 91 });
    assert.equal(sj.runAt - sj.createdAt, 60_000, 'delay "60" from a string is 60 s');
    const m = json(await api.call({ method: 'POST', url: '/mapping/', payload: { payload: { ids: [7], lab: 12 } } }));
    assert.deepEqual((await api.fusion.store.getJob({ id: m.job_id }))!.payload, { ids: [7], lab: 12 });
    const c = json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'mapping', parameters: { n: 1, list: ['x'] } } }));
    assert.deepEqual((await api.fusion.store.getJob({ id: c.task_id }))!.payload, { n: 1, list: ['x'] });
  });

  test('/retryTask/ takes the original worker\'s json=job._args and enqueues it again as a new job', async () => {
    const body = { payload: { task: 1, contact: 9876543210, countryCode: 91, message: 'OTP 1' }, priority: 2, task_type: 'OTP', job_id: 'orig-1', success_task_handler: 'https://cb.example.com/ok' };
    const first = json(await api.call({ method: 'POST', url: '/queue/', payload: body }));
    assert.equal(first.job_id, 'orig-1');
    const r = await api.call({ method: 'POST', url: '/retryTask/', payload: [body] });
    assert.equal(r.statusCode, 200, r.body);
    const { job_id, status } = json(r);
    assert.notEqual(job_id, 'orig-1', 'a new job');
    assert.equal(status, 'queued');
    const job = (await api.fusion.store.getJob({ id: job_id }))!;
    assert.deepEqual(job.payload, body.payload);
    assert.equal(job.queue, 'sms');
    assert.equal(job.priority, 2);
    assert.ok(job.tags.includes('retry_of:orig-1'));
    assert.equal(job.callbacks?.onSuccess, 'https://cb.example.com/ok');
    const again = json(await api.call({ method: 'POST', url: '/retryTask/', payload: [body] }));
    assert.notEqual(again.job_id, job_id, 'each retry post is one more job');
    // Posted as Python's requests does it (no content type set by data=json.dumps(...)).
    const raw = await api.app.inject({ method: 'POST', url: '/retryTask/', payload: JSON.stringify([{ payload: { task: 2, to: ['a@x.io'] } }]) });
    assert.equal(raw.statusCode, 200, raw.body);
    assert.deepEqual(((await api.fusion.store.getJob({ id: json(raw).job_id }))!.payload as { to: unknown }).to, ['a@x.io']);
  });

  test('/retryTask/ refuses a list whose first item is not a /queue/ body, naming the field', async () => {
    const before = await api.totalJobs();
    for (const [body, field] of [
      [[{ payload: { task: 1 } }], '[0].payload.contact'],
      [[{ priority: 1 }], '[0].payload'],
      [[], 'body'],
      [{}, 'job_id'],
    ] as const) {
      const r = await api.call({ method: 'POST', url: '/retryTask/', payload: body as unknown as object });
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.equal(json(r).error.details.field, field, r.body);
    }
    assert.equal(await api.totalJobs(), before);
  });

  test('/cancelJob/ twice answers 200 both times', async () => {
    const { job_id } = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, delay: 3600 } }));
    for (let i = 0; i < 2; i++) {
      const r = await api.call({ method: 'POST', url: '/cancelJob/', payload: { job_id } });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(json(r), { job_id, status: 'canceled' });
    }
    const done = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 1, contact: 1 } } }));
    await api.fusion.queue.cancel(done.job_id);
    assert.equal((await api.fusion.store.getJob({ id: done.job_id }))!.state, 'cancelled');
  });

  test('/rescheduleJob/ on a cron series: its next run moves to the first occurrence at or after schedule_at', async () => {
    const s = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, cron: '0 * * * *', repeat: 5 } }));
    const at = Math.floor(Date.now() / 1000) + 2 * 86_400 + 1234; // two days on, not on an hour
    const r = await api.call({ method: 'POST', url: '/rescheduleJob/', payload: { job_id: s.schedule_id, schedule_at: at } });
    assert.equal(r.statusCode, 200, r.body);
    const a = json(r);
    assert.equal(a.status, 'scheduled');
    const next = Date.parse(a.scheduled_at);
    assert.equal(next, Math.ceil((at * 1000) / 3_600_000) * 3_600_000, 'the first whole hour at or after schedule_at');
    const stored = (await api.fusion.scheduler.get(s.schedule_id))!;
    assert.equal(stored.nextRunAt, next);
    assert.equal(stored.limit, 5, 'the repeat limit stays');
    const info = json(await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id: s.schedule_id } }));
    assert.equal(info.next_run_at, a.scheduled_at);
  });

  test('/rescheduleJob/ on an rrule series without DTSTART runs at schedule_at exactly; past its end is a 400 that keeps it', async () => {
    const until = new Date(Date.now() + 3 * 86_400_000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const s = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, rrule: `FREQ=DAILY;UNTIL=${until}` } }));
    const at = Math.floor(Date.now() / 1000) + 86_400 + 600;
    const r = json(await api.call({ method: 'POST', url: '/rescheduleJob/', payload: { job_id: s.schedule_id, schedule_at: String(at) } }));
    assert.equal(r.scheduled_at, new Date(at * 1000).toISOString());
    const before = (await api.fusion.scheduler.get(s.schedule_id))!;
    const late = await api.call({ method: 'POST', url: '/rescheduleJob/', payload: { job_id: s.schedule_id, schedule_at: at + 10 * 86_400 } });
    assert.equal(late.statusCode, 400, late.body);
    assert.equal(json(late).error.details.field, 'schedule_at');
    assert.match(json(late).error.message, /no occurrence/);
    const after = (await api.fusion.scheduler.get(s.schedule_id))!;
    assert.notEqual(after.nextRunAt, null, 'the series is kept');
    assert.equal(after.startAt, before.startAt, 'and put back as it was');
    assert.equal(after.nextRunAt, before.nextRunAt);
    const missing = await api.call({ method: 'POST', url: '/rescheduleJob/', payload: { job_id: 'no-such-thing', schedule_at: at } });
    assert.equal(missing.statusCode, 404);
  });

  test('/update_consent/ takes form consent=1 / consent=0 and JSON 1 / true', async () => {
    const f1 = await api.call({ method: 'POST', url: '/update_consent/', headers: FORM, payload: 'contact=9876543210&countryCode=91&consent=1' });
    assert.equal(f1.statusCode, 200, f1.body);
    assert.equal(json(f1).consent, true);
    const f0 = await api.call({ method: 'POST', url: '/update_consent/', headers: FORM, payload: 'contact=9876543210&countryCode=91&consent=0' });
    assert.equal(json(f0).consent, false);
    assert.equal((await api.call({ method: 'POST', url: '/update_consent/', headers: FORM, payload: 'contact=98765&countryCode=91&consent=true' })).statusCode, 200);
    const j1 = await api.call({ method: 'POST', url: '/update_consent/', payload: { contact: 98765, countryCode: 91, consent: 1 } });
    assert.equal(json(j1).consent, true);
    const bad = await api.call({ method: 'POST', url: '/update_consent/', headers: FORM, payload: 'contact=98765&countryCode=91&consent=2' });
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).error.details.field, 'consent');
  });

  test('GET /api/tasks/<an id with no task> answers as Celery\'s AsyncResult does: PENDING, in the shape of the route\'s other answers', async () => {
    const known = json(await api.call({ method: 'GET', url: `/api/tasks/${json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'mapping' } })).task_id}` }));
    const r = await api.call({ method: 'GET', url: '/api/tasks/0193c6e4-0000-7000-8000-000000000000' });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(json(r), { task_id: '0193c6e4-0000-7000-8000-000000000000', task_type: null, status: 'PENDING', result: null, error: null, retries: 0, date_done: null });
    assert.deepEqual(Object.keys(json(r)), Object.keys(known), 'the fields of a known task\'s answer, in its order');
  });

  test('/api/tasks email_sending lands on the email queue with the original email payload', async () => {
    const r = await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'email_sending', priority: 'high', parameters: { to: 'recipient@example.com', subject: 'Hi', body: 'Hello' } } });
    assert.equal(r.statusCode, 202, r.body);
    const job = (await api.fusion.store.getJob({ id: json(r).task_id }))!;
    assert.equal(job.task, 'email');
    assert.equal(job.queue, 'email');
    assert.equal(job.priority, 2);
    assert.deepEqual(job.payload, { to: ['recipient@example.com'], subject: 'Hi', message: 'Hello' });
    const list = json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'email_sending', parameters: { to: ['a@x.io', 'b@x.io'], message: 'm', body: 'kept' } } }));
    assert.deepEqual((await api.fusion.store.getJob({ id: list.task_id }))!.payload, { to: ['a@x.io', 'b@x.io'], message: 'm', body: 'kept' });
    assert.equal(json(await api.call({ method: 'GET', url: `/api/tasks/${list.task_id}` })).task_type, 'email_sending');
  });
});

describe('compat routes: series and reminders as the original schedulers ran them', () => {
  // Monday 2026-12-07 09:00 UTC, the server's time, moved by the test (a clock per test: it only moves on).
  let clock: ManualClock;
  let api: Api;
  beforeEach(async () => {
    clock = new ManualClock(Date.UTC(2026, 11, 7, 9, 0, 0));
    api = await startApi({ clock, setup: (f) => f.task('reminder', async () => null, { queue: 'reminders', priority: 'high' }) });
  });
  afterEach(() => api.close());
  const remind = (start_datetime: unknown, rrule = 'FREQ=DAILY;COUNT=3') =>
    api.call({ method: 'POST', url: '/remind_me', payload: { rrule, start_datetime, notification_metadata: { title: 'Class' } } });

  test('/schedule/ cron and rrule, /remind_me: occurrences missed while the hub was down run once, late (rq-scheduler, Celery eta), not dropped', async () => {
    const webhook = { task: 4, url: 'https://hooks.example.com/tick' };
    const ids = [
      json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: webhook, cron: '0 10 * * *', job_id: 'daily-cron' } })).job_id,
      json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: webhook, rrule: 'FREQ=DAILY;BYHOUR=10;BYMINUTE=0;BYSECOND=0', job_id: 'daily-rrule' } })).job_id,
      json(await remind(Date.UTC(2026, 11, 7, 10) / 1000, 'FREQ=DAILY;COUNT=5')).schedule_id,
    ];
    for (const id of ids) assert.deepEqual((await api.fusion.scheduler.get(id))!.misfire, { policy: 'catch-up', maxCatchUp: 1, graceMs: 5000 });
    // The hub is back the next day at 10:00:30: the 10:00 runs of both days were missed; the latest runs, once.
    clock.set(Date.UTC(2026, 11, 8, 10, 0, 30));
    await api.fusion.scheduler.tick();
    const late = Date.UTC(2026, 11, 8, 10);
    for (const id of ids) {
      const job = await api.fusion.store.getJob({ id: occurrenceJobId(id, late) });
      assert.ok(job, `${id}: the missed 10:00 run is enqueued`);
      assert.equal(job.runAt, late);
      assert.equal(await api.fusion.store.getJob({ id: occurrenceJobId(id, Date.UTC(2026, 11, 7, 10)) }), null, `${id}: the older missed run is not`);
      assert.equal((await api.fusion.scheduler.get(id))!.nextRunAt, Date.UTC(2026, 11, 9, 10), `${id}: the series goes on`);
    }
  });

  test('/schedule/ cron: the sixth field is the second, at the end (rq-scheduler\'s croniter); /jobInfo/ shows the line as sent; the native API keeps seconds first', async () => {
    clock.set(Date.UTC(2026, 11, 7, 9, 30, 0));
    const webhook = { task: 4, url: 'https://hooks.example.com/tick' };
    for (const [cron, first] of [
      ['0 9 * * * 0', '2026-12-08T09:00:00.000Z'], // daily 09:00:00
      ['*/5 * * * * 30', '2026-12-07T09:30:30.000Z'], // every 5 minutes, at second 30
      ['0 10 * * *', '2026-12-07T10:00:00.000Z'], // five fields: as before
    ] as const) {
      const r = await api.call({ method: 'POST', url: '/schedule/', payload: { payload: webhook, cron } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(json(r).scheduled_at, first, cron);
      assert.equal(json(await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id: json(r).job_id } })).cron, cron);
    }
    const native = await api.call({ method: 'POST', url: '/v1/schedules/preview', payload: { trigger: { cron: '0 9 * * * 0' }, count: 1 } });
    assert.deepEqual(json(native).times, ['2026-12-13T00:09:00.000Z'], 'native: second 0, minute 9, on Sundays');
  });

  test('/remind_me: the start\'s seconds are kept (DTSTART), so no reminder fires before start_datetime; a fraction of a second rounds up', async () => {
    const at = (h: number, m: number, sec: number, ms = 0) => Date.UTC(2026, 11, 7, h, m, sec, ms);
    for (const [start, first] of [
      [at(10, 0, 37) / 1000, '2026-12-07T10:00:37.000Z'], // epoch seconds: today's occurrence at :37, not :00 (37 s early)
      [at(10, 0, 37, 400), '2026-12-07T10:00:38.000Z'], // epoch ms with a fraction of a second: the next whole second
      ['2026-12-07T10:00:37.400Z', '2026-12-07T10:00:38.000Z'], // ISO, the same
      [at(10, 0, 0) / 1000, '2026-12-07T10:00:00.000Z'], // a start on the minute is unchanged
    ] as const) {
      const r = await remind(start);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(json(r).next_run_at, first, `start_datetime ${start}`);
      const s = (await api.fusion.scheduler.get(json(r).schedule_id))!;
      for (const t of await api.fusion.scheduler.previewSchedule(s.id, 3)) assert.ok(t >= Date.parse(first), 'every occurrence at or after the start');
    }
    // Created after today's second has passed: today's occurrence is gone, not moved before the start.
    clock.set(at(10, 0, 37, 500));
    assert.equal(json(await remind(at(10, 0, 37) / 1000)).next_run_at, '2026-12-08T10:00:37.000Z');
  });

  test('POST /remind_me/ (a trailing slash, which FastAPI redirected to the route) is /remind_me', async () => {
    const body = { rrule: 'FREQ=DAILY;COUNT=2', start_datetime: Date.UTC(2026, 11, 7, 10) / 1000, notification_metadata: { title: 'Class' } };
    const r = await api.call({ method: 'POST', url: '/remind_me/', payload: body });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual({ ...json(r), schedule_id: null }, { schedule_id: null, status: 'scheduled', next_run_at: '2026-12-07T10:00:00.000Z' });
    assert.equal((await api.fusion.scheduler.get(json(r).schedule_id))!.template.task, 'reminder');
    const bad = await api.call({ method: 'POST', url: '/remind_me/', payload: { ...body, rrule: 'FREQ=NEVER' } });
    assert.deepEqual([bad.statusCode, json(bad).error.details.field], [400, 'rrule'], 'checked as /remind_me is');
  });

  test('/remind_me takes what pydantic took: a float start_datetime (seconds, never fired before), integer fields of notification_metadata as numeric strings', async () => {
    const start = Date.UTC(2026, 11, 7, 10, 0, 37, 250) / 1000;
    for (const given of [start, String(start)]) {
      const r = await remind(given);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(json(r).next_run_at, '2026-12-07T10:00:38.000Z', `${typeof given} ${given}: not before the start`);
    }
    const metadata = { title: 'T', body: 'B', item_id: 'i1', created_at: '1796630400', created_by: 'u', classroom_id: 'c', kind: '1' };
    const r = await api.call({ method: 'POST', url: '/remind_me', payload: { rrule: 'FREQ=DAILY;COUNT=2', start_datetime: Math.floor(start), notification_metadata: metadata } });
    assert.equal(r.statusCode, 200, r.body);
    // Stored as the original's model held them: integers; the string fields as sent.
    assert.deepEqual((await api.fusion.scheduler.get(json(r).schedule_id))!.template.payload, { ...metadata, created_at: 1796630400, kind: 1 });
    for (const [field, value] of [['kind', 'one'], ['kind', '1.5'], ['created_at', '']] as const) {
      const bad = await api.call({ method: 'POST', url: '/remind_me', payload: { rrule: 'FREQ=DAILY;COUNT=2', start_datetime: Math.floor(start), notification_metadata: { ...metadata, [field]: value } } });
      assert.equal(bad.statusCode, 400, `${field} ${value}: ${bad.body}`);
      assert.equal(json(bad).error.details.field, `notification_metadata.${field}`);
    }
  });
});

describe('compat routes: roles', () => {
  let api: Api;
  beforeEach(async () => {
    api = await startApi({ auth: true });
  });
  afterEach(() => api.close());

  test('/remind_me/ with a trailing slash needs send, as /remind_me does', async () => {
    const body = { rrule: 'FREQ=DAILY;COUNT=2', start_datetime: Math.floor(Date.now() / 1000) + 3600, notification_metadata: {} };
    assert.equal((await api.call({ method: 'POST', url: '/remind_me/', payload: body, as: 'read' })).statusCode, 403);
    assert.equal((await api.call({ method: 'POST', url: '/remind_me/', payload: body, as: null })).statusCode, 401);
  });

  test('/retryTask/ with the worker\'s list needs send; by job_id it needs admin', async () => {
    const list = await api.call({ method: 'POST', url: '/retryTask/', payload: [{ payload: { task: 1, contact: 1 } }], as: 'send' });
    assert.equal(list.statusCode, 200, list.body);
    const byId = await api.call({ method: 'POST', url: '/retryTask/', payload: { job_id: json(list).job_id }, as: 'send' });
    assert.equal(byId.statusCode, 403);
    assert.equal(json(byId).error.details.needed, 'admin');
    assert.equal((await api.call({ method: 'POST', url: '/retryTask/', payload: { job_id: 'nope' }, as: 'admin' })).statusCode, 404);
    assert.ok(KEYS.send);
  });
});

describe('compat routes: reference payloads through the channels', () => {
  // The channels installed, no provider configured: they run dry, so what is checked is what Fusion
  // decides before and after a provider would be called.
  let api: Api;
  beforeEach(async () => {
    api = await startApi({ channels: true });
  });
  afterEach(() => api.close());

  test('/queue/ task 6 to a number with no consent record is sent, as the original sent it; a recorded opt-out stops the next', async () => {
    api.fusion.worker({ queues: ['whatsapp'] });
    // fusion-worker-tasks.txt, sendWhatsapp's payload (provider and template aside).
    const body = { payload: { task: 6, contact: 9876543210, countryCode: 91, message: 'Hello!' } };
    const first = json(await api.call({ method: 'POST', url: '/queue/', payload: body }));
    const sent = await waitForState(api.fusion.store, first.job_id, ['completed', 'failed']);
    assert.equal(sent.state, 'completed', JSON.stringify(sent.error));
    assert.equal((await api.call({ method: 'POST', url: '/update_consent/', payload: { contact: 9876543210, countryCode: 91, consent: 0 } })).statusCode, 200);
    const second = json(await api.call({ method: 'POST', url: '/queue/', payload: body }));
    const refused = await waitForState(api.fusion.store, second.job_id, ['completed', 'failed']);
    assert.deepEqual([refused.state, refused.error?.code], ['failed', 'no_consent']);
  });

  test('/api/tasks: the reference email_sending example ({to} alone) is accepted and sent, its task type as the subject', async () => {
    api.fusion.worker({ queues: ['email'] });
    // flask-celery-priority-queue.txt, "Task Types": 2. Email Sending.
    const r = await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'email_sending', parameters: { to: 'recipient@example.com' } } });
    assert.equal(r.statusCode, 202, r.body);
    const id = json(r).task_id;
    assert.deepEqual((await api.fusion.store.getJob({ id }))!.payload, { to: ['recipient@example.com'], subject: 'email_sending' });
    assert.equal((await waitForState(api.fusion.store, id, ['completed', 'failed'])).state, 'completed');
    assert.equal(json(await api.call({ method: 'GET', url: `/api/tasks/${id}` })).status, 'SUCCESS');
    // A subject or a body of the caller's own is kept as given.
    const own = json(await api.call({ method: 'POST', url: '/api/tasks', payload: { task_type: 'email_sending', parameters: { to: 'recipient@example.com', body: 'Hello' } } }));
    assert.deepEqual((await api.fusion.store.getJob({ id: own.task_id }))!.payload, { to: ['recipient@example.com'], message: 'Hello' });
  });

  test('/queue/ task 4 answered 404: the job finishes with the status and body and the success handler is called (the original raised only for 499-599); /v1/jobs still fails it', async () => {
    const hook = await receiver((h, res) => (h.url.startsWith('/gone') ? res.writeHead(404).end('no such lab') : res.writeHead(200).end('ok')));
    try {
      api.fusion.worker({ queues: ['webhook', 'callbacks'] });
      const r = await api.call({
        method: 'POST', url: '/queue/',
        payload: { payload: { task: 4, url: `${hook.base}/gone`, args: { id: 7 }, isBody: 1 }, success_task_handler: `${hook.base}/ok`, failed_task_handler: `${hook.base}/ko` },
      });
      const done = await waitForState(api.fusion.store, json(r).job_id, ['completed', 'failed']);
      assert.equal(done.state, 'completed', JSON.stringify(done.error));
      assert.equal(done.attempts, 1, 'not retried');
      assert.deepEqual([(done.result as { status: number }).status, (done.result as { body: string }).body], [404, 'no such lab']);
      await waitForState(api.fusion.store, `${done.id}:completed-callback`, 'completed');
      const handler = hook.hits.find((h) => h.url === '/ok')!;
      assert.deepEqual(Object.fromEntries(new URLSearchParams(handler.body)), { description: 'WEBHOOK', job_id: done.id, status: 'finished', retry_attempts: '0' });
      assert.equal(hook.hits.some((h) => h.url === '/ko'), false, 'no failure handler');
      const info = json(await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id: done.id } }));
      assert.deepEqual([info.status, info.result.status, info.result.body], ['finished', 404, 'no such lab']);
      // The native route keeps its own rule: a refusal fails the job.
      const native = json(await api.call({ method: 'POST', url: '/v1/jobs', payload: { task: 'webhook', payload: { url: `${hook.base}/gone` } } }));
      const failed = await waitForState(api.fusion.store, native.id, ['completed', 'failed']);
      assert.deepEqual([failed.state, failed.error?.code], ['failed', 'http_404']);
    } finally {
      await hook.close();
    }
  });

  test('/queue/ task 4 with args.integration_payload: the outcome and metadata are POSTed to integration_callback_url, the args sent as given', async () => {
    const hook = await receiver();
    try {
      api.fusion.worker({ queues: ['webhook', 'callbacks'] });
      // fusion-worker-tasks.txt, "Integration Payload".
      const integration = (path: string) => ({ integration_callback_url: `${hook.base}${path}`, metadata: { report_id: 9, lab: 'L1' } });
      const ok = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 4, url: `${hook.base}/lab`, args: { id: 7, integration_payload: integration('/tracked') }, isBody: 1 } } })).job_id;
      // A refused address fails the webhook at once: its integration callback hears of the failure.
      const refused = json(await api.call({ method: 'POST', url: '/queue/', payload: { payload: { task: 4, url: 'http://192.168.1.10/lab', args: { integration_payload: integration('/tracked-ko') } } } })).job_id;
      for (const id of [`${ok}:integration_callback`, `${refused}:integration_callback:failed`]) await waitForState(api.fusion.store, id, 'completed');
      assert.deepEqual(JSON.parse(hook.hits.find((h) => h.url === '/lab')!.body), { id: 7, integration_payload: integration('/tracked') });
      const told = JSON.parse(hook.hits.find((h) => h.url === '/tracked')!.body);
      assert.deepEqual([told.event, told.job.id, told.job.result.status, told.job.result.body, told.metadata], ['job.completed', ok, 200, 'ok', { report_id: 9, lab: 'L1' }]);
      const ko = JSON.parse(hook.hits.find((h) => h.url === '/tracked-ko')!.body);
      assert.deepEqual([ko.event, ko.job.id, ko.job.error.code, ko.metadata], ['job.failed', refused, 'outgoing_refused', { report_id: 9, lab: 'L1' }]);
    } finally {
      await hook.close();
    }
  });

  test('/queue/ task 1: the reference SMS payload\'s callback_url is called back once the send is accepted, with the original worker\'s form fields', async () => {
    const hook = await receiver();
    try {
      api.fusion.worker({ queues: ['sms', 'callbacks'] });
      // fusion-worker-tasks.txt, sendSMS's payload.
      const payload = { task: 1, contact: 9876543210, message: 'Your message here', countryCode: 91, senderId: 'CRELIO', config: { provider: 'msg91' }, provider_id: 'provider-uuid', credit_deducted: 1, callback_url: `${hook.base}/sms-sent` };
      const r = await api.call({ method: 'POST', url: '/queue/', payload: { payload, task_type: 'REPORT' } });
      assert.equal(r.statusCode, 200, r.body);
      const id = json(r).job_id;
      assert.equal((await waitForState(api.fusion.store, id, ['completed', 'failed'])).state, 'completed');
      await waitForState(api.fusion.store, `${id}:callback_url`, 'completed');
      const got = await hook.hit(1);
      assert.deepEqual([got.method, got.url, got.headers['content-type']], ['POST', '/sms-sent', 'application/x-www-form-urlencoded']);
      assert.deepEqual(Object.fromEntries(new URLSearchParams(got.body)), { description: 'SMS REPORT', job_id: id, status: 'finished', retry_attempts: '0' });
    } finally {
      await hook.close();
    }
  });

  test('/queue/ task 3 takes the reference push payload, android.api_key and ios.certificate included, and sends it', async () => {
    api.fusion.worker({ queues: ['pn'] });
    // fusion-worker-tasks.txt, sendNotification's payload (with tokens of each platform's form).
    const payload = {
      task: 3,
      android: { collapse_key: 'notification_type', api_key: 'FCM_SERVER_KEY', registration_ids: ['device_token_1', 'device_token_2'], data: { message: 'Notification message', category: 'Category', custom_data: {} } },
      ios: { category: 'notification_type', certificate: 'certificate.pem', tokens: ['ab'.repeat(32)], aps: { alert: 'Notification message', badge: 1, sound: 'default' } },
    };
    const r = await api.call({ method: 'POST', url: '/queue/', payload: { payload } });
    assert.equal(r.statusCode, 200, r.body);
    const done = await waitForState(api.fusion.store, json(r).job_id, ['completed', 'failed']);
    assert.equal(done.state, 'completed', JSON.stringify(done.error));
    assert.equal((done.result as { sent: number }).sent, 3);
  });
});
