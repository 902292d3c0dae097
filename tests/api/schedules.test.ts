import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApi, json, nextEvent, type Api } from './helpers.js';

describe('schedules', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ setup: (f) => f.task('tick', async () => 'tock', { queue: 'ticks' }) });
  });
  after(() => api.close());

  const create = (payload: object, headers: Record<string, string> = {}) => api.call({ method: 'POST', url: '/v1/schedules', payload, headers });

  test('create, get, list, patch, pause, resume, preview, delete', async () => {
    const c = await create({ id: 'report', trigger: { cron: '0 7 * * *', tz: 'Asia/Kolkata' }, template: { task: 'email', payload: { to: 'ops@example.com', token: 't0k' } }, limit: 30 });
    assert.equal(c.statusCode, 201, c.body);
    const s = json(c);
    assert.equal(s.id, 'report');
    assert.deepEqual(s.trigger, { cron: '0 7 * * *', tz: 'Asia/Kolkata' });
    assert.equal(s.template.payload.token, '[redacted]');
    assert.equal(s.limit, 30);
    assert.equal(new Date(s.nextRunAt).getUTCHours(), 1); // 07:00 in Kolkata is 01:30 UTC
    assert.equal(new Date(s.nextRunAt).getUTCMinutes(), 30);
    assert.equal(json(await api.call({ method: 'GET', url: '/v1/schedules/report' })).id, 'report');
    assert.ok(json(await api.call({ method: 'GET', url: '/v1/schedules' })).items.some((x: { id: string }) => x.id === 'report'));
    const p = await api.call({ method: 'PATCH', url: '/v1/schedules/report', payload: { trigger: { cron: '30 8 * * *' }, description: 'morning' } });
    assert.equal(p.statusCode, 200);
    assert.equal(new Date(json(p).nextRunAt).getUTCHours(), 8);
    assert.equal(json(p).description, 'morning');
    assert.equal(json(await api.call({ method: 'POST', url: '/v1/schedules/report/pause' })).paused, true);
    assert.equal(json(await api.call({ method: 'POST', url: '/v1/schedules/report/resume' })).paused, false);
    const pv = json(await api.call({ method: 'GET', url: '/v1/schedules/report/preview?count=3' }));
    assert.equal(pv.times.length, 3);
    assert.equal(Date.parse(pv.times[1]) - Date.parse(pv.times[0]), 86_400_000);
    const again = await create({ id: 'report', trigger: { cron: '0 9 * * *' }, template: { task: 'email' } });
    assert.equal(again.statusCode, 200, 'the same id replaces the schedule');
    assert.equal((await api.call({ method: 'DELETE', url: '/v1/schedules/report' })).statusCode, 204);
    assert.equal((await api.call({ method: 'GET', url: '/v1/schedules/report' })).statusCode, 404);
    assert.equal((await api.call({ method: 'POST', url: '/v1/schedules/report/pause' })).statusCode, 404);
  });

  test('a template sent back as shown keeps the stored secrets under the mask (PATCH, and a replace by id)', async () => {
    const payload = { to: 'ops@example.com', token: 'T-1', auth: { user: 'u', pass: 'p' }, hooks: [{ url: 'https://a.example', apiKey: 'K-A' }, { url: 'https://b.example', apiKey: 'K-B' }], title: 'Daily' };
    assert.equal((await create({ id: 'masked', trigger: { every: '1h' }, template: { task: 'email', payload } })).statusCode, 201);
    const shown = json(await api.call({ method: 'GET', url: '/v1/schedules/masked' }));
    assert.deepEqual(shown.template.payload, { ...payload, token: '[redacted]', auth: '[redacted]', hooks: [{ url: 'https://a.example', apiKey: '[redacted]' }, { url: 'https://b.example', apiKey: '[redacted]' }] });
    // Changed fields are taken, masked ones kept; a mask under a name that is no secret, or where
    // nothing is stored, is taken as sent.
    const edited = { ...shown.template.payload, to: 'leads@example.com', title: '[redacted]', hooks: [shown.template.payload.hooks[0], { url: 'https://c.example', apiKey: 'K-C' }, { apiKey: '[redacted]' }] };
    const p = await api.call({ method: 'PATCH', url: '/v1/schedules/masked', payload: { trigger: { every: '2h' }, template: { ...shown.template, payload: edited } } });
    assert.equal(p.statusCode, 200, p.body);
    assert.equal(json(p).template.payload.token, '[redacted]');
    const stored = (await api.fusion.scheduler.get('masked'))!;
    assert.deepEqual(stored.trigger, { every: '2h' });
    assert.deepEqual(stored.template.payload, {
      to: 'leads@example.com', token: 'T-1', auth: { user: 'u', pass: 'p' }, title: '[redacted]',
      hooks: [{ url: 'https://a.example', apiKey: 'K-A' }, { url: 'https://c.example', apiKey: 'K-C' }, { apiKey: '[redacted]' }],
    });
    // POST with the same id replaces the schedule: the same rule, and a new secret replaces the old one.
    const r = await create({ id: 'masked', trigger: { every: '3h' }, template: { task: 'email', payload: { to: 'x@example.com', token: '[redacted]', auth: 'new-secret' } } });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual((await api.fusion.scheduler.get('masked'))!.template.payload, { to: 'x@example.com', token: 'T-1', auth: 'new-secret' });
    await api.call({ method: 'DELETE', url: '/v1/schedules/masked' });
  });

  test('run fires one job now, outside the series', async () => {
    json(await create({ id: 'manual', trigger: { rrule: 'FREQ=MONTHLY;BYMONTHDAY=1' }, template: { task: 'sms', payload: { contact: '1' }, priority: 'high' } }));
    const r = await api.call({ method: 'POST', url: '/v1/schedules/manual/run' });
    assert.equal(r.statusCode, 201);
    const job = json(r);
    assert.equal(job.scheduleId, 'manual');
    assert.equal(job.priority, 2);
    assert.equal(json(await api.call({ method: 'GET', url: '/v1/schedules/manual' })).runCount, 0);
  });

  test('preview of a trigger stores nothing', async () => {
    const before = json(await api.call({ method: 'GET', url: '/v1/schedules' })).items.length;
    const r = await api.call({ method: 'POST', url: '/v1/schedules/preview', payload: { trigger: { rrule: 'FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0;BYSECOND=0' }, count: 4, from: '2026-11-23T00:00:00Z' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(json(r).times, ['2026-11-23T09:00:00.000Z', '2026-11-25T09:00:00.000Z', '2026-11-30T09:00:00.000Z', '2026-12-02T09:00:00.000Z']);
    assert.equal(json(await api.call({ method: 'GET', url: '/v1/schedules' })).items.length, before);
    assert.equal((await api.call({ method: 'POST', url: '/v1/schedules/preview', payload: { trigger: { cron: '* * * * *' }, count: 1001 } })).statusCode, 400);
  });

  const bad: [string, object, string, number?][] = [
    ['a bad cron line', { trigger: { cron: '61 * * * *' }, template: { task: 'sms' } }, 'trigger.cron'],
    ['a bad RRULE', { trigger: { rrule: 'FREQ=SOMETIMES' }, template: { task: 'sms' } }, 'trigger.rrule'],
    ['an unknown zone', { trigger: { cron: '* * * * *', tz: 'Mars/Olympus' }, template: { task: 'sms' } }, 'trigger.tz'],
    ['two trigger kinds', { trigger: { cron: '* * * * *', rrule: 'FREQ=DAILY' }, template: { task: 'sms' } }, 'trigger'],
    ['no trigger', { template: { task: 'sms' } }, 'trigger'],
    ['an unknown task', { trigger: { cron: '* * * * *' }, template: { task: 'ghost' } }, 'template.task', 422],
    ['a template with runAt', { trigger: { cron: '* * * * *' }, template: { task: 'sms', runAt: 5 } }, 'template.runAt'],
    ['a one-off in 1970', { trigger: { at: 1000 }, template: { task: 'sms' } }, 'trigger.at'],
    ['a bad interval', { trigger: { every: '5 parsecs' }, template: { task: 'sms' } }, 'trigger.every'],
    ['endAt before startAt', { trigger: { cron: '* * * * *' }, template: { task: 'sms' }, startAt: '2027-01-02T00:00:00Z', endAt: '2027-01-01T00:00:00Z' }, 'endAt'],
    ['a bad id', { id: 'has space', trigger: { cron: '* * * * *' }, template: { task: 'sms' } }, 'id'],
  ];
  for (const [name, body, field, status = 400] of bad) {
    test(`refuses ${name} (${status}, ${field})`, async () => {
      const r = await create(body);
      assert.equal(r.statusCode, status, r.body);
      assert.equal(json(r).error.details.field, field, r.body);
    });
  }

  test('Idempotency-Key decides the schedule id; a different body with the key is 422', async () => {
    const body = { trigger: { cron: '0 12 * * *' }, template: { task: 'sms' } };
    const a = await create(body, { 'idempotency-key': 'sched-1' });
    const b = await create(body, { 'idempotency-key': 'sched-1' });
    assert.equal(a.statusCode, 201);
    assert.equal(b.headers['idempotency-replay'], 'true');
    assert.equal(json(a).id, json(b).id);
    assert.match(json(a).id, /^sched_/);
    assert.equal((await create({ ...body, limit: 2 }, { 'idempotency-key': 'sched-1' })).statusCode, 422);
  });

  test('a started scheduler fires occurrences into the queue', async () => {
    await create({ id: 'fast', trigger: { every: 50 }, template: { task: 'tick', payload: { n: 1 } } });
    const fired = nextEvent(api.fusion, (e) => (e.type === 'queued' || e.type === 'scheduled') && e.jobId?.startsWith('fast@') === true);
    const sched = api.fusion.startScheduler();
    try {
      const e = await fired;
      const job = json(await api.call({ method: 'GET', url: `/v1/jobs/${encodeURIComponent(e.jobId!)}` }));
      assert.equal(job.task, 'tick');
      assert.equal(job.scheduleId, 'fast');
    } finally {
      await sched.stop();
      await api.call({ method: 'DELETE', url: '/v1/schedules/fast' });
    }
    assert.match((await api.call({ method: 'GET', url: '/metrics' })).body, /# TYPE fusion_scheduler_lateness_seconds histogram/);
  });

  test('without a scheduler the routes answer 503', async () => {
    const bare = await startApi({ scheduler: null });
    try {
      const r = await bare.call({ method: 'GET', url: '/v1/schedules' });
      assert.equal(r.statusCode, 503);
      assert.equal(json(r).error.code, 'scheduler_unavailable');
      assert.equal(r.headers['retry-after'], '1');
    } finally {
      await bare.close();
    }
  });
});

describe('legacy schedules: /schedule/ cron and rrule, /remind_me', () => {
  let api: Api;
  before(async () => {
    // Channels are off in API tests; a reminder task of the user's own stands in for the built-in one.
    api = await startApi({ setup: (f) => f.task('reminder', async () => null, { queue: 'reminders', priority: 'high' }) });
  });
  after(() => api.close());

  test('/schedule/ with cron and repeat makes a schedule; /jobInfo/ and /cancelJob/ work on its id', async () => {
    const r = await api.call({
      method: 'POST', url: '/schedule/',
      payload: { payload: { task: 4, url: 'https://hooks.example.com/tick', method: 'get' }, cron: '*/5 * * * *', repeat: 3, priority: 2, task_type: 'TICK', job_id: 'legacy-cron-1' },
    });
    assert.equal(r.statusCode, 200, r.body);
    const a = json(r);
    assert.equal(a.job_id, 'legacy-cron-1');
    assert.equal(a.status, 'scheduled');
    const s = (await api.fusion.scheduler.get('legacy-cron-1'))!;
    assert.deepEqual(s.trigger, { cron: '*/5 * * * *' });
    assert.equal(s.limit, 3);
    assert.equal(s.template.task, 'webhook');
    assert.equal(s.template.queue, 'webhook');
    assert.equal(s.template.priority, 2);
    assert.equal((s.template.payload as { method: string }).method, 'GET');
    assert.equal(new Date(a.scheduled_at).getUTCMinutes() % 5, 0);
    const info = json(await api.call({ method: 'POST', url: '/jobInfo/', payload: { job_id: 'legacy-cron-1' } }));
    assert.equal(info.status, 'scheduled');
    assert.equal(info.cron, '*/5 * * * *');
    assert.equal(info.repeat, 3);
    const c = await api.call({ method: 'POST', url: '/cancelJob/', payload: { job_id: 'legacy-cron-1' } });
    assert.deepEqual(json(c), { job_id: 'legacy-cron-1', status: 'canceled' });
    assert.equal(await api.fusion.scheduler.get('legacy-cron-1'), null);
  });

  test('editing a /remind_me schedule as the dashboard does keeps its auth_header', async () => {
    const start = (Math.floor(Date.now() / 86_400_000) + 30) * 86_400 + 9 * 3600;
    const made = await api.call({ method: 'POST', url: '/remind_me', payload: { rrule: 'FREQ=DAILY;COUNT=5', start_datetime: start, notification_metadata: { auth_header: 'Bearer REAL-SECRET-123', title: 'Class' } } });
    assert.equal(made.statusCode, 200, made.body);
    const id = json(made).schedule_id as string;
    // The editor (src/dashboard/schedules.js) fills its form from the list, where the header is masked,
    // and saves the new trigger with the template rebuilt from the form.
    const shown = json(await api.call({ method: 'GET', url: '/v1/schedules' })).items.find((x: { id: string }) => x.id === id);
    assert.equal(shown.template.payload.auth_header, '[redacted]');
    const template = { task: shown.template.task, payload: JSON.parse(JSON.stringify(shown.template.payload, null, 2)), priority: 'high', queue: shown.template.queue };
    const saved = await api.call({ method: 'PATCH', url: `/v1/schedules/${encodeURIComponent(id)}`, payload: { trigger: { rrule: 'FREQ=DAILY;COUNT=3' }, template } });
    assert.equal(saved.statusCode, 200, saved.body);
    const stored = (await api.fusion.scheduler.get(id))!;
    assert.deepEqual(stored.trigger, { rrule: 'FREQ=DAILY;COUNT=3' });
    assert.deepEqual(stored.template.payload, { auth_header: 'Bearer REAL-SECRET-123', title: 'Class' });
  });

  test('/schedule/ with an rrule and a timezone', async () => {
    const r = json(await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 6, contact: '9876543210' }, rrule: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0', timezone: 'Asia/Kolkata' } }));
    const s = (await api.fusion.scheduler.get(r.job_id))!;
    assert.deepEqual(s.trigger, { rrule: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0', tz: 'Asia/Kolkata' });
    assert.equal(new Date(r.scheduled_at).getUTCHours(), 3); // 09:00 IST
  });

  test('/schedule/ errors name the legacy fields', async () => {
    for (const [extra, field] of [[{ cron: '99 * * * *' }, 'cron'], [{ rrule: 'FREQ=NEVER' }, 'rrule'], [{ cron: '* * * * *', timezone: 'Atlantis/Main' }, 'timezone'], [{ cron: '* * * * *', repeat: 0 }, 'repeat']] as const) {
      const r = await api.call({ method: 'POST', url: '/schedule/', payload: { payload: { task: 1, contact: 1 }, ...extra } });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(json(r).error.details.field, field, r.body);
    }
  });

  test('/remind_me needs a reminder task, then schedules it on the RRULE from start_datetime', async () => {
    // 09:00 UTC, thirty days from today: always in the future, whatever day the suite runs.
    const start = (Math.floor(Date.now() / 86_400_000) + 30) * 86_400 + 9 * 3600;
    const body = { rrule: 'FREQ=DAILY;COUNT=5', start_datetime: start, notification_metadata: { auth_header: 'Bearer secret', title: 'Class', body: 'in 10 min', kind: 1 } };
    // The reminder task is built in (src/channels/reminder); its 422 without channels is in tests/channels/reminder.test.ts.
    const r = await api.call({ method: 'POST', url: '/remind_me', payload: body });
    assert.equal(r.statusCode, 200, r.body);
    const a = json(r);
    assert.equal(a.status, 'scheduled');
    assert.equal(a.next_run_at, new Date(start * 1000).toISOString());
    const s = (await api.fusion.scheduler.get(a.schedule_id))!;
    assert.equal(s.template.task, 'reminder');
    assert.equal(s.template.queue, 'reminders');
    assert.equal(s.template.priority, 'high');
    const pv = json(await api.call({ method: 'GET', url: `/v1/schedules/${a.schedule_id}/preview?count=10` }));
    assert.equal(pv.times.length, 5, 'COUNT=5 bounds the series');
    const bad = await api.call({ method: 'POST', url: '/remind_me', payload: { ...body, rrule: 'FREQ=WHENEVER' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).error.details.field, 'rrule');
    const badStart = await api.call({ method: 'POST', url: '/remind_me', payload: { ...body, start_datetime: 'soon' } });
    assert.equal(badStart.statusCode, 400);
    assert.equal(json(badStart).error.details.field, 'start_datetime');
  });
});
