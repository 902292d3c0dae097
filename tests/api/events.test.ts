// GET /v1/events and fusion.events(): order, filters, resume after a dropped connection (with and
// without a gap), the reset marker, slow viewers, auth, and worker/schedule events.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import type { EventHubOptions } from '../../src/core/events.js';
import { tempDir } from '../helpers/tmp.js';
import { SseClient } from '../helpers/sse.js';
import { KEYS, KEY_SPEC } from './helpers.js';
import { until, within } from '../helpers/await.js';

interface Hub {
  fusion: Fusion;
  app: FastifyInstance;
  url: string;
  open(query?: string, headers?: Record<string, string>): Promise<SseClient>;
  close(): Promise<void>;
}

async function hub(events: EventHubOptions = {}, extra: { heartbeatMs?: number; stallMs?: number; auth?: boolean } = {}): Promise<Hub> {
  const t = tempDir('fusion-events-');
  const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}`, events: { pollMs: 50, ...events } });
  fusion.task('echo', async (p: unknown) => p, { queue: 'q1' });
  fusion.task('other', async (p: unknown) => p, { queue: 'q1' });
  fusion.task('steps', async (n: number, ctx) => {
    for (let i = 1; i <= n; i++) await ctx.progress(i);
    return n;
  }, { queue: 'q2' });
  const app = await buildServer({
    fusion, processMetrics: false, eventsHeartbeatMs: extra.heartbeatMs, eventsStallMs: extra.stallMs, ...(extra.auth ? { apiKeys: parseKeys(KEY_SPEC) } : {}),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${addr.port}`;
  const clients: SseClient[] = [];
  return {
    fusion, app, url,
    async open(query = '', headers = {}) {
      const c = await SseClient.open(`${url}/v1/events${query}`, extra.auth ? { authorization: `Bearer ${KEYS.read}`, ...headers } : headers);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await app.close();
      await fusion.close(200);
      t.remove();
    },
  };
}

const ofJob = (c: SseClient, id: string) => c.events.filter((e) => e.jobId === id).map((e) => e.type);
const seqOf = (id: string) => Number(id.split('-')[1]);
/** A valid sms payload: the sms task's payload check runs at enqueue. */
const SMS = { to: '+919876543210', text: 'hello' };

describe('/v1/events', () => {
  let h: Hub;
  before(async () => {
    h = await hub();
  });
  after(() => h.close());

  test('a fresh stream starts with ready, then every state change of a job in order, ids increasing', async () => {
    const c = await h.open();
    await c.until((x) => x.frames.length > 0, 5000, 'ready');
    assert.equal(c.frames[0]!.event, 'ready');
    assert.equal(c.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    const w = h.fusion.worker({ queues: ['q2'] });
    try {
      const job = await h.fusion.enqueue('steps', 3);
      await c.until((x) => ofJob(x, job.id).includes('job.completed'), 10_000, 'job.completed');
      assert.deepEqual(ofJob(c, job.id), ['job.queued', 'job.active', 'job.progress', 'job.progress', 'job.progress', 'job.completed']);
      const evs = c.events.filter((e) => e.jobId === job.id);
      assert.deepEqual(evs.filter((e) => e.type === 'job.progress').map((e) => e.progress), [1, 2, 3]);
      assert.ok(evs.every((e) => e.queue === 'q2' && /Z$/.test(e.at)));
      const seqs = c.frames.map((f) => seqOf(f.id!));
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `ids increase: ${seqs.join(',')}`);
      assert.equal(c.frames[1]!.id, c.frames[1]!.data.id, 'the SSE id is the event id');
    } finally {
      await w.stop(1000);
      c.close();
    }
  });

  test('filters by queue, task and type (families, exact types and job states)', async () => {
    const byQueue = await h.open('?queue=q2');
    const byTask = await h.open('?task=other');
    const byType = await h.open('?type=job.cancelled,queue');
    const byState = await h.open('?type=cancelled&queue=q1');
    const all = await h.open();
    const a = await h.fusion.enqueue('echo', 1, { delay: 60_000 });
    const b = await h.fusion.enqueue('other', 2, { delay: 60_000 });
    const c = await h.fusion.enqueue('steps', 0, { delay: 60_000 });
    await h.fusion.queue.cancel(b.id);
    await h.fusion.queue.pause('q1');
    await h.fusion.queue.resume('q1');
    await all.until((x) => x.events.some((e) => e.type === 'queue.resumed'), 5000, 'queue.resumed');
    // Waits for a job event: a worker.left of the test before (queue q2, from the hub's worker poll)
    // may come first, and counting it raced the job's event.
    await byQueue.until((x) => x.events.some((e) => e.type.startsWith('job.')), 5000, 'the q2 job');
    await byTask.until((x) => x.events.length >= 2, 5000, 'the task events');
    await byType.until((x) => x.events.length >= 3, 5000, 'the typed events');
    await byState.until((x) => x.events.length >= 1, 5000, 'the cancelled event');
    // Job events only: the worker of the test before may leave (worker.left names its queue q2) meanwhile.
    assert.deepEqual(byQueue.events.filter((e) => e.type.startsWith('job.')).map((e) => [e.type, e.jobId]), [['job.scheduled', c.id]]);
    assert.deepEqual(byTask.events.map((e) => [e.type, e.jobId, e.task]), [['job.scheduled', b.id, 'other'], ['job.cancelled', b.id, 'other']]);
    assert.deepEqual(byType.events.map((e) => e.type), ['job.cancelled', 'queue.paused', 'queue.resumed']);
    assert.deepEqual(byState.events.map((e) => [e.type, e.jobId]), [['job.cancelled', b.id]]);
    assert.ok(all.events.some((e) => e.jobId === a.id));
  });

  test('a type filter naming no event type is refused with 400, not a stream that stays silent', async () => {
    for (const type of ['complete', 'job.complete', 'jobs', 'failed,job.bogus']) {
      const r = await fetch(`${h.url}/v1/events?type=${type}`);
      if (r.status === 200) {
        await r.body!.cancel();
        assert.fail(`type=${type}: a stream was opened`);
      }
      const body = await r.json() as { error: { code: string; details: { field: string } } };
      assert.deepEqual([r.status, body.error.code, body.error.details.field], [400, 'invalid_request', 'type'], type);
    }
    // Every documented form is taken: exact types, families, job states, the other job event names.
    const ok = await fetch(`${h.url}/v1/events?type=job.completed,job,worker,schedule,queue,provider,breaker,failed,retrying,progress,cancel-requested,schedule.fired,breaker.opened`);
    assert.equal(ok.status, 200);
    await ok.body!.cancel();
  });

  test('resume after a dropped connection: exactly the missed events, then live ones', async () => {
    const c1 = await h.open('?queue=r1');
    const first = await h.fusion.enqueue({ task: 'echo', queue: 'r1', delay: 60_000 });
    await c1.until((x) => x.events.length === 1, 5000, 'the first event');
    const last = c1.lastId!;
    c1.close();
    await until(() => h.fusion.eventHub.viewers <= 5, 5000, 'the viewer to go');
    const missed = [];
    for (let i = 0; i < 3; i++) missed.push((await h.fusion.enqueue({ task: 'echo', queue: 'r1', delay: 60_000 })).id);
    const c2 = await h.open('?queue=r1', { 'last-event-id': last });
    await c2.until((x) => x.events.length === 3, 5000, 'the replayed events');
    assert.deepEqual(c2.events.map((e) => e.jobId), missed);
    assert.ok(!c2.frames.some((f) => f.event === 'ready' || f.event === 'reset'), 'no ready, no reset on a clean resume');
    const live = await h.fusion.enqueue({ task: 'echo', queue: 'r1', delay: 60_000 });
    await c2.until((x) => x.events.length === 4, 5000, 'the live event');
    assert.equal(c2.events[3]!.jobId, live.id);
    assert.ok(!c2.events.some((e) => e.jobId === first.id), 'nothing seen before is sent again');
    // The query form works too (for clients that cannot set headers).
    const c3 = await h.open(`?queue=r1&lastEventId=${encodeURIComponent(last)}`);
    await c3.until((x) => x.events.length === 4, 5000, 'the replay by query');
  });

  test('an id from another server (or garbage) gets the reset marker', async () => {
    const c = await h.open('', { 'last-event-id': 'deadbeef-12' });
    await c.until((x) => x.frames.length >= 1, 5000, 'the reset');
    assert.equal(c.frames[0]!.event, 'reset');
    assert.equal(c.frames[0]!.data.reason, 'gap');
    assert.equal(c.frames[0]!.id, h.fusion.eventHub.lastId);
  });

  test('a stream is counted in the request metrics when it ends (it skips the onSend hook the others are counted in)', async () => {
    const line = /fusion_http_requests_total\{method="GET",route="\/v1\/events",status="200"\} (\d+)\n/;
    const counted = async () => Number(line.exec((await h.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
    const before = await counted();
    const c = await h.open();
    await c.until((x) => x.frames[0]?.event === 'ready', 5000, 'ready');
    assert.equal(await counted(), before, 'an open stream is not counted yet');
    c.close();
    await until(async () => (await counted()) === before + 1, 5000, 'the ended stream counted');
  });

  test('read role: no key 401, a send key 403, a read key streams', async () => {
    const a = await hub({}, { auth: true });
    try {
      assert.equal((await a.app.inject({ method: 'GET', url: '/v1/events' })).statusCode, 401);
      assert.equal((await a.app.inject({ method: 'GET', url: '/v1/events', headers: { authorization: `Bearer ${KEYS.send}` } })).statusCode, 403);
      const c = await a.open();
      assert.equal(c.res.statusCode, 200);
      await c.until((x) => x.frames[0]?.event === 'ready', 5000, 'ready');
      assert.equal((await a.app.inject({ method: 'GET', url: '/v1/events?colour=red', headers: { authorization: `Bearer ${KEYS.read}` } })).statusCode, 400);
    } finally {
      await a.close();
    }
  });
});

describe('/v1/events: gaps, slow viewers, heartbeats, workers and schedules', () => {
  test('resume across a gap larger than the buffer sends reset, then live events', async () => {
    const h = await hub({ bufferSize: 5 });
    try {
      const c1 = await h.open();
      await h.fusion.enqueue('echo', 0, { delay: 60_000 });
      await c1.until((x) => x.events.length === 1, 5000, 'one event');
      const last = c1.lastId!;
      c1.close();
      for (let i = 0; i < 10; i++) await h.fusion.enqueue('echo', i, { delay: 60_000 });
      const c2 = await h.open('', { 'last-event-id': last });
      await c2.until((x) => x.frames.length >= 1, 5000, 'reset');
      assert.equal(c2.frames[0]!.event, 'reset');
      assert.equal(c2.frames[0]!.data.reason, 'gap');
      const j = await h.fusion.enqueue('echo', 99, { delay: 60_000 });
      await c2.until((x) => x.events.some((e) => e.jobId === j.id), 5000, 'live after reset');
      assert.equal(c2.events.length, 1, 'no partial replay after a reset');
      // Within the buffer a resume still works.
      const mid = c2.lastId!;
      await h.fusion.enqueue('echo', 100, { delay: 60_000 });
      const c3 = await h.open('', { 'last-event-id': mid });
      await c3.until((x) => x.events.length === 1, 5000, 'the one missed');
      assert.ok(!c3.frames.some((f) => f.event === 'reset'));
    } finally {
      await h.close();
    }
  });

  test('the first viewer of a hub can resume from its ready id (no reset when nothing was missed)', async () => {
    const h = await hub();
    try {
      const c1 = await h.open();
      await c1.until((x) => x.frames.length >= 1, 5000, 'ready');
      const ready = c1.frames[0]!;
      assert.equal(ready.event, 'ready');
      c1.close();
      const j = await h.fusion.enqueue('echo', 1, { delay: 60_000 });
      const c2 = await h.open('', { 'last-event-id': ready.id! });
      await c2.until((x) => x.events.length >= 1, 5000, 'the missed event');
      assert.deepEqual(c2.frames.map((f) => f.event), ['message']);
      assert.equal(c2.events[0].jobId, j.id);
    } finally {
      await h.close();
    }
  });

  test('a viewer that stops reading keeps a bounded backlog and gets a reset; workers are not held up', async () => {
    const h = await hub({ maxBacklog: 50 });
    try {
      const slow = await h.open();
      await slow.until((x) => x.frames.length >= 1, 5000, 'ready');
      slow.pause();
      const fast = await h.open('?type=job.completed');
      // Big progress values fill the socket buffers fast; the handler must finish regardless.
      const big = 'x'.repeat(64 * 1024);
      h.fusion.task('chatty', async (n: number, ctx) => {
        for (let i = 0; i < n; i++) await ctx.progress({ i, big });
        return n;
      }, { queue: 'chatty' });
      const w = h.fusion.worker({ queues: ['chatty'] });
      let maxBacklog = 0;
      const sample = setInterval(() => (maxBacklog = Math.max(maxBacklog, ...h.fusion.eventHub.backlogs)), 5);
      try {
        const job = await h.fusion.enqueue('chatty', 400);
        await within(fast.until((x) => x.events.some((e) => e.jobId === job.id), 30_000, 'completion seen by a fast viewer'), 31_000, 'worker finishing');
        clearInterval(sample);
        assert.ok(maxBacklog <= 50, `backlog stayed bounded (max ${maxBacklog})`);
        slow.resume();
        await slow.until((x) => x.frames.some((f) => f.event === 'reset'), 10_000, 'the overflow reset');
        const reset = slow.frames.find((f) => f.event === 'reset')!;
        assert.equal(reset.data.reason, 'overflow');
        await slow.until((x) => x.events.some((e) => e.type === 'job.completed'), 10_000, 'the completion after the reset');
        const progress = slow.events.filter((e) => e.type === 'job.progress').length;
        assert.ok(progress < 400, `the slow viewer skipped events (${progress} of 400 progress events)`);
      } finally {
        clearInterval(sample);
        await w.stop(1000);
      }
    } finally {
      await h.close();
    }
  });

  /** A viewer that stopped reading, its socket filled by big progress events (a fast viewer sees the job end). */
  async function stalledViewer(h: Hub): Promise<void> {
    const slow = await h.open();
    await slow.until((x) => x.frames.length >= 1, 5000, 'ready');
    slow.pause();
    const fast = await h.open('?type=job.completed');
    const big = 'x'.repeat(64 * 1024);
    h.fusion.task('chatty', async (n: number, ctx) => {
      for (let i = 0; i < n; i++) await ctx.progress({ i, big });
      return n;
    }, { queue: 'chatty' });
    const w = h.fusion.worker({ queues: ['chatty'] });
    try {
      const job = await h.fusion.enqueue('chatty', 200);
      await fast.until((x) => x.events.some((e) => e.jobId === job.id), 30_000, 'the completion');
    } finally {
      await w.stop(1000);
    }
    fast.close();
  }

  test('a viewer whose socket stays full past the stall limit loses its connection (not kept open with its frames buffered)', async () => {
    const h = await hub({}, { stallMs: 300 });
    try {
      await stalledViewer(h);
      const connections = () => new Promise<number>((r, j) => h.app.server.getConnections((err, n) => (err ? j(err) : r(n))));
      await until(async () => (await connections()) === 0, 5000, async () => `the stalled viewer's connection to close (${await connections()} open)`);
      assert.equal(h.fusion.eventHub.viewers, 0);
      await within(h.app.close(), 5000, 'server close after a stalled viewer');
    } finally {
      await h.close();
    }
  });

  test('heartbeat comments keep an idle stream alive; closing the server ends streams', async () => {
    const h = await hub({}, { heartbeatMs: 30 });
    try {
      const c = await h.open();
      await c.until((x) => x.comments >= 2, 5000, 'two heartbeats');
      await within(h.app.close(), 5000, 'server close with an open stream');
      await c.until((x) => x.ended, 5000, 'the stream to end');
      assert.equal(h.fusion.eventHub.viewers, 0);
    } finally {
      await h.close();
    }
  });

  test('worker arrivals and departures, schedule creation and firing', async () => {
    const h = await hub();
    try {
      const c = await h.open('?type=worker,schedule');
      await c.until((x) => x.frames.length >= 1, 5000, 'ready');
      await until(() => (h.fusion.eventHub as unknown as { workers: unknown }).workers !== null, 5000, 'the first look');
      const w = h.fusion.worker({ queues: ['q1'] });
      await c.until((x) => x.events.some((e) => e.type === 'worker.joined'), 5000, 'worker.joined');
      const joined = c.events.find((e) => e.type === 'worker.joined');
      assert.equal(joined.worker.id, w.id);
      assert.deepEqual(joined.worker.queues, ['q1']);
      await w.stop(1000);
      await c.until((x) => x.events.some((e) => e.type === 'worker.left'), 5000, 'worker.left');
      await h.fusion.schedule({ id: 'tick', trigger: { every: '1s' }, template: { task: 'echo', payload: 1 } });
      h.fusion.startScheduler();
      await c.until((x) => x.events.some((e) => e.type === 'schedule.fired'), 10_000, 'schedule.fired');
      const types = c.events.map((e) => e.type);
      assert.ok(types.indexOf('schedule.created') < types.indexOf('schedule.fired'), types.join());
      const fired = c.events.find((e) => e.type === 'schedule.fired');
      assert.equal(fired.schedule.id, 'tick');
      assert.ok(fired.schedule.runCount >= 1);
      assert.ok(!types.some((t) => t.startsWith('job.')), 'the type filter keeps job events out');
    } finally {
      await h.close();
    }
  });
});

describe('fusion.events() in the library', () => {
  test('an async iterator in order; break unsubscribes', async () => {
    const t = tempDir('fusion-events-lib-');
    const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}`, events: { pollMs: 0 } });
    try {
      const seen: string[] = [];
      const it = fusion.events({ queues: ['lib'] });
      const reading = (async () => {
        for await (const e of it) {
          seen.push(`${e.type}:${e.jobId}`);
          if (e.type === 'job.cancelled') break;
        }
      })();
      const j = await fusion.enqueue({ task: 'sms', payload: SMS, queue: 'lib', delay: 60_000 });
      await fusion.enqueue({ task: 'sms', payload: SMS, queue: 'elsewhere' });
      await fusion.queue.cancel(j.id);
      await within(reading, 5000, 'the iterator to end');
      assert.deepEqual(seen, [`job.scheduled:${j.id}`, `job.cancelled:${j.id}`]);
      assert.equal(fusion.eventHub.viewers, 0);
    } finally {
      await fusion.close(100);
      t.remove();
    }
  });

  test('a consumer that falls behind gets one reset instead of an unbounded backlog', async () => {
    const t = tempDir('fusion-events-lib-');
    const fusion = await Fusion.open({ store: `sqlite:${join(t.dir, 'f.db')}`, events: { pollMs: 0, maxBacklog: 10 } });
    try {
      const sub = fusion.events();
      for (let i = 0; i < 25; i++) await fusion.enqueue({ task: 'sms', payload: SMS, queue: 'lag', delay: 60_000 });
      assert.ok(sub.backlog <= 10, `backlog ${sub.backlog}`);
      const batch = (await sub.take())!;
      assert.equal(batch[0]!.type, 'reset');
      assert.equal(batch[0]!.reason, 'overflow');
      assert.ok(batch.length < 25);
      assert.equal(batch.at(-1)!.seq, seqOf(fusion.eventHub.lastId), 'the latest event is there');
      assert.ok(sub.overflows >= 1);
      sub.close();
      assert.equal(await sub.take(), null);
    } finally {
      await fusion.close(100);
      t.remove();
    }
  });
});
