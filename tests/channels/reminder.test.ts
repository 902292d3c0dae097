// The reminder channel and /remind_me: each occurrence POSTs notification_metadata to a loopback
// notification service (reached through the outgoing guard's explicit allowlist) with the
// reminder's auth_header as Authorization; dry-run by default; rules that never fire are refused.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Fusion } from '../../src/fusion.js';
import { ManualClock } from '../../src/core/clock.js';
import { buildServer } from '../../src/api/server.js';
import { occurrenceJobId } from '../../src/core/scheduler.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import { waitForState } from '../helpers/engine.js';
import { deferred, within } from '../helpers/await.js';
import { tempDir } from '../helpers/tmp.js';

interface Hit { method: string; headers: IncomingHttpHeaders; body: unknown }

/** A notification service on loopback: records each request, answers `status`. */
async function notificationService(status = 200) {
  const hits: Hit[] = [];
  let waiter = deferred<Hit>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const hit = { method: req.method!, headers: req.headers, body: JSON.parse(body) };
      hits.push(hit);
      waiter.resolve(hit);
      res.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{"id":"n-1"}' : '{"detail":"bad token"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    hits,
    next() {
      const p = waiter.promise;
      return p.then((h) => ((waiter = deferred<Hit>()), h));
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

async function openFusion(config: FusionConfig, extra: Partial<Parameters<typeof Fusion.open>[0]> = {}) {
  const t = tempDir('fusion-reminder-');
  const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}`, config, ...extra });
  return { fusion, async close() { await fusion.close(200); t.remove(); } };
}

const METADATA = { auth_header: 'Bearer tok-123', title: 'Class', body: 'Starts in 10 minutes', item_id: 'it-9', created_at: 1767225600, created_by: 'u-1', classroom_id: 'c-7', kind: 2 };
const { auth_header: _a, ...SENT } = METADATA;

describe('reminder channel', () => {
  test('webhook: POSTs notification_metadata as JSON with auth_header as Authorization, through the allowlisted guard', async () => {
    const svc = await notificationService();
    const f = await openFusion({ outgoing: { allow: ['127.0.0.1/32'] }, channels: { reminder: { deliver: 'webhook', url: svc.url } } });
    try {
      assert.ok(!f.fusion.channels.dryRun.includes('reminder'));
      const job = await f.fusion.enqueue('reminder', METADATA);
      assert.equal(job.queue, 'reminders');
      assert.equal(job.priority, 2);
      const hit = svc.next();
      f.fusion.worker({ queues: ['reminders'] });
      const h = await within(hit, 10_000, 'the notification service is called');
      assert.equal(h.method, 'POST');
      assert.equal(h.headers.authorization, 'Bearer tok-123');
      assert.match(String(h.headers['content-type']), /^application\/json/);
      assert.deepEqual(h.body, SENT, 'the metadata as sent; the credential travels in the header only');
      const done = await waitForState(f.fusion.store, job.id, 'completed');
      assert.deepEqual({ ...(done.result as object) }, { provider: 'notification-service', messageId: 'n-1', status: 'sent', answer: { id: 'n-1' } });
    } finally {
      await f.close();
      await svc.close();
    }
  });

  test('a refusal by the notification service fails the reminder without retries', async () => {
    const svc = await notificationService(401);
    const f = await openFusion({ outgoing: { allow: ['127.0.0.1/32'] }, channels: { reminder: { deliver: 'webhook', url: svc.url } } });
    try {
      const job = await f.fusion.enqueue('reminder', METADATA);
      f.fusion.worker({ queues: ['reminders'] });
      const failed = await waitForState(f.fusion.store, job.id, 'failed');
      assert.equal(failed.attempts, 1);
      assert.equal(failed.error?.code, 'http_401');
      assert.equal(svc.hits.length, 1);
    } finally {
      await f.close();
      await svc.close();
    }
  });

  test('without an allowlist a loopback notification service is refused at open', async () => {
    const t = tempDir();
    try {
      await assert.rejects(Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}`, config: { channels: { reminder: { deliver: 'webhook', url: 'http://127.0.0.1:9/notify' } } } }), /refused|loopback|private/);
      await assert.rejects(Fusion.open({ store: `sqlite:${join(t.dir, 'g.db')}`, config: { channels: { reminder: { deliver: 'webhook' } } } }), /needs a url/);
    } finally {
      t.remove();
    }
  });

  test('dry-run by default: completes with provider dry-run and logs, without the credential', async () => {
    const lines: { obj: Record<string, unknown>; msg?: string }[] = [];
    const log = (obj: object, msg?: string) => void lines.push({ obj: obj as Record<string, unknown>, msg });
    const f = await openFusion({}, { logger: { debug: log, info: log, warn: log, error: log } });
    try {
      assert.ok(f.fusion.channels.dryRun.includes('reminder'));
      const job = await f.fusion.enqueue('reminder', METADATA);
      f.fusion.worker({ queues: ['reminders'] });
      const done = await waitForState(f.fusion.store, job.id, 'completed');
      assert.equal((done.result as { provider: string }).provider, 'dry-run');
      const line = lines.find((l) => l.obj.channel === 'reminder');
      assert.equal(line?.obj.title, 'Class');
      assert.ok(!JSON.stringify(lines).includes('tok-123'));
    } finally {
      await f.close();
    }
  });

  test('the payload is checked at enqueue', async () => {
    const f = await openFusion({});
    try {
      await assert.rejects(f.fusion.enqueue('reminder', 'hello'), (e: { details?: { field?: string } }) => e.details?.field === 'payload');
      await assert.rejects(f.fusion.enqueue('reminder', { auth_header: 5 }), (e: { details?: { field?: string } }) => e.details?.field === 'payload.auth_header');
      await assert.rejects(f.fusion.enqueue('reminder', { auth_header: 'a\r\nX-Evil: 1' }), /one line/);
    } finally {
      await f.close();
    }
  });
});

describe('/remind_me', () => {
  // Created at 10:41:37.250, with start_datetime that second: the occurrences keep its :37, as dateutil keeps DTSTART's seconds.
  const CREATED = Date.UTC(2026, 2, 2, 10, 41, 37, 250);
  let svc: Awaited<ReturnType<typeof notificationService>>;
  let f: Awaited<ReturnType<typeof openFusion>>;
  let app: Awaited<ReturnType<typeof buildServer>>;
  const clock = new ManualClock(CREATED);
  before(async () => {
    svc = await notificationService();
    f = await openFusion({ outgoing: { allow: ['127.0.0.1/32'] }, channels: { reminder: { deliver: 'webhook', url: svc.url } } }, { clock });
    app = await buildServer({ fusion: f.fusion, processMetrics: false });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await f.close();
    await svc.close();
  });
  const remind = (body: object) => app.inject({ method: 'POST', url: '/remind_me', payload: body });

  test('targets the reminder task, keeps the start\'s seconds, and each occurrence reaches the notification service', async () => {
    const r = await remind({ rrule: 'FREQ=MINUTELY;INTERVAL=5;COUNT=3', start_datetime: Math.floor(CREATED / 1000), notification_metadata: METADATA });
    assert.equal(r.statusCode, 200, r.body);
    const a = JSON.parse(r.body);
    assert.equal(a.status, 'scheduled');
    // The 10:41:37 occurrence is 250 ms past at creation: the next is 10:46:37, never :00 (before its start's second).
    assert.equal(a.next_run_at, '2026-03-02T10:46:37.000Z', 'the start\'s second :37');
    const s = (await f.fusion.scheduler.get(a.schedule_id))!;
    assert.equal(s.template.task, 'reminder');
    assert.equal(s.template.queue, 'reminders');
    assert.deepEqual(s.template.payload, METADATA, 'notification_metadata as sent (created_at and kind stay numbers)');
    assert.deepEqual(await f.fusion.scheduler.previewSchedule(a.schedule_id, 5), [Date.UTC(2026, 2, 2, 10, 46, 37), Date.UTC(2026, 2, 2, 10, 51, 37)]);

    f.fusion.startScheduler();
    f.fusion.worker({ queues: ['reminders'] });
    const hit = svc.next();
    clock.set(Date.UTC(2026, 2, 2, 10, 46, 37));
    const h = await within(hit, 10_000, 'the first occurrence is delivered');
    assert.equal(h.headers.authorization, 'Bearer tok-123');
    assert.deepEqual(h.body, SENT);
    const job = await waitForState(f.fusion.store, occurrenceJobId(a.schedule_id, Date.UTC(2026, 2, 2, 10, 46, 37)), 'completed');
    assert.equal(job.task, 'reminder');
    assert.equal(job.scheduleId, a.schedule_id);
  });

  test('BYSECOND or DTSTART in the rule keep their seconds', async () => {
    const by = JSON.parse((await remind({ rrule: 'FREQ=MINUTELY;BYSECOND=30;COUNT=3', start_datetime: Math.floor(clock.now() / 1000) + 3600, notification_metadata: {} })).body);
    assert.equal(new Date(by.next_run_at).getUTCSeconds(), 30);
    const dt = JSON.parse((await remind({ rrule: 'DTSTART:20270105T091512Z\nRRULE:FREQ=DAILY;COUNT=2', start_datetime: Math.floor(clock.now() / 1000), notification_metadata: {} })).body);
    assert.equal(dt.next_run_at, '2027-01-05T09:15:12.000Z');
  });

  test('a rule whose every occurrence is past is a 400 that says so, and nothing is stored', async () => {
    const before = (await f.fusion.scheduler.list()).length;
    const r = await remind({ rrule: 'FREQ=DAILY;COUNT=2', start_datetime: Math.floor(Date.UTC(2025, 0, 1, 9) / 1000), notification_metadata: METADATA });
    assert.equal(r.statusCode, 400, r.body);
    const e = JSON.parse(r.body).error;
    assert.equal(e.details.field, 'rrule');
    assert.match(e.message, /in the past/);
    assert.equal((await f.fusion.scheduler.list()).length, before);
  });

  test('without the reminder channel (channels: false) /remind_me answers 422', async () => {
    const g = await openFusion({}, { channels: false });
    const bare = await buildServer({ fusion: g.fusion, processMetrics: false });
    try {
      const r = await bare.inject({ method: 'POST', url: '/remind_me', payload: { rrule: 'FREQ=DAILY', start_datetime: Math.floor(Date.now() / 1000) + 60, notification_metadata: {} } });
      assert.equal(r.statusCode, 422);
      assert.match(JSON.parse(r.body).error.message, /reminder/);
    } finally {
      await bare.close();
      await g.close();
    }
  });
});
