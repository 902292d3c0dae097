// GET /v1/events: the live event stream as Server-Sent Events. Each viewer is one subscription to
// the Fusion's event hub; this file only frames events as SSE, keeps the connection alive and
// waits on the socket when it is full (the hub then drops that viewer's backlog for a `reset`).
import type { FastifyInstance } from 'fastify';
import { type HubEvent, unknownTypes } from '../../core/events.js';
import type { ApiContext } from '../context.js';
import { iso } from '../times.js';
import { errorResponses } from '../schemas/common.js';
import { badField } from '../errors.js';

export const DEFAULT_HEARTBEAT_MS = 15_000;
/** A viewer whose socket stays full this long is disconnected (it reconnects and resumes or resets). */
export const STALL_MS = 60_000;
/**
 * After each write, gather events this long before the next: at thousands of events a second one
 * write per 20 ms instead of one per burst (socket writes were most of a viewer's cost), for at
 * most 20 ms more delay, which no one watching a screen notices.
 */
export const GATHER_MS = 20;

const list = { type: 'string', maxLength: 2000, description: 'Comma-separated' } as const;
const schema = {
  tags: ['events'],
  summary: 'Live events (Server-Sent Events)',
  description: [
    'A `text/event-stream` of job state changes (`job.queued`, `job.active`, `job.progress`, `job.completed`, `job.retrying`, `job.failed`, `job.cancelled`, ...),',
    '`queue.paused`/`queue.resumed`/`queue.limits-changed`, `worker.joined`/`worker.left`, `schedule.created|updated|fired|removed`, `provider.demoted`/`provider.restored` and `breaker.opened`/`breaker.closed` (a destination host of webhooks and callbacks), each with an `id:`.',
    'Reconnect with `Last-Event-ID` (or `?lastEventId=`) to get the events missed since, from a buffer of recent events;',
    'when they are no longer all there, an `event: reset` comes instead: reload your state. A viewer that reads too slowly',
    'gets a `reset` too, never an unbounded backlog. A fresh connection starts with `event: ready` carrying the current id.',
    'Comments (`: keepalive`) every 15 s keep proxies from closing an idle stream.',
  ].join(' '),
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      queue: { ...list, description: 'Only these queues (comma-separated)' },
      task: { ...list, description: 'Only jobs of these tasks (comma-separated)' },
      type: { ...list, description: 'Only these types: exact (`job.failed`), families (`job`, `worker`, `schedule`, `queue`, `provider`, `breaker`) or a job event named without its `job.` prefix (`failed`)' },
      lastEventId: { type: 'string', maxLength: 100, description: 'As the Last-Event-ID header, for clients that cannot set it' },
    },
  },
  response: { 200: { type: 'string', description: 'text/event-stream' }, ...errorResponses },
} as const;

const split = (s?: string) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

/** The event as clients see it: times in ISO 8601 like the rest of the API. */
export function eventView(e: HubEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { id: e.id, type: e.type, at: iso(e.at) };
  if (e.queue !== undefined) out.queue = e.queue;
  if (e.jobId !== undefined) out.jobId = e.jobId;
  if (e.task !== undefined) out.task = e.task;
  if (e.runAt !== undefined) out.runAt = iso(e.runAt);
  if (e.progress !== undefined) out.progress = e.progress;
  if (e.worker) out.worker = { ...e.worker, startedAt: iso(e.worker.startedAt), lastSeenAt: iso(e.worker.lastSeenAt) };
  if (e.schedule) out.schedule = { ...e.schedule, lastRunAt: iso(e.schedule.lastRunAt), nextRunAt: iso(e.schedule.nextRunAt) };
  if (e.provider) out.provider = { ...e.provider, demotedUntil: iso(e.provider.demotedUntil) };
  if (e.breaker) out.breaker = { ...e.breaker, openUntil: iso(e.breaker.openUntil) };
  if (e.reason !== undefined) out.reason = e.reason;
  return out;
}

// One frame per event, shared by every viewer that sends it (the task may be filled in later).
const frames = new WeakMap<HubEvent, { task: string | undefined; text: string }>();
function frame(e: HubEvent): string {
  const hit = frames.get(e);
  if (hit && hit.task === e.task) return hit.text;
  const text = `${e.type === 'reset' ? 'event: reset\n' : ''}id: ${e.id}\ndata: ${JSON.stringify(eventView(e))}\n\n`;
  frames.set(e, { task: e.task, text });
  return text;
}

export function eventRoutes(app: FastifyInstance, ctx: ApiContext, heartbeatMs = DEFAULT_HEARTBEAT_MS, stallMs = STALL_MS): void {
  const open = new Set<() => void>();
  // Streams never end by themselves: end them before close waits for in-flight requests.
  app.addHook('preClose', (done) => {
    for (const end of [...open]) end();
    done();
  });

  app.get('/v1/events', { schema, config: { role: 'read' } }, async (req, reply) => {
    const q = req.query as { queue?: string; task?: string; type?: string; lastEventId?: string };
    const header = req.headers['last-event-id'];
    const after = (typeof header === 'string' && header.trim()) || q.lastEventId || null;
    const types = split(q.type);
    const unknown = types ? unknownTypes(types) : [];
    if (unknown.length) throw badField('type', `no event type is ${unknown.map((t) => JSON.stringify(t)).join(', ')}: give exact types (job.failed), families (job, worker, schedule, queue, provider, breaker) or job states (failed)`, { unknown });
    const hub = ctx.fusion.eventHub;
    const sub = hub.subscribe({ queues: split(q.queue), tasks: split(q.task), types }, after);
    // Read after subscribing: the first viewer starts a recording, which moves the id on.
    const startId = hub.lastId;

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      // How often a keepalive comes: a client may take a stream quiet for several of them as dead.
      'fusion-heartbeat-ms': String(heartbeatMs),
    });
    res.flushHeaders();
    res.write(after ? 'retry: 2000\n\n' : `retry: 2000\nevent: ready\nid: ${startId}\ndata: ${JSON.stringify({ id: startId })}\n\n`);

    let ended = false;
    let drained: (() => void) | null = null;
    const end = () => {
      if (ended) return;
      ended = true;
      open.delete(end);
      clearInterval(beat);
      sub.close();
      drained?.();
      // A full socket is destroyed, not ended: an end queues behind the unread bytes, and a client
      // that never reads would keep the connection and its buffered frames, and hold the server's close.
      if (res.writableNeedDrain) res.destroy();
      else res.end();
      // A hijacked answer skips the server's onSend hook, where the others are counted.
      ctx.metrics.request('GET', '/v1/events', 200, (performance.now() - req.startedAt) / 1000);
    };
    open.add(end);
    res.on('close', end);
    res.on('error', end);
    res.on('drain', () => drained?.());
    const beat = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': keepalive\n\n');
    }, heartbeatMs);
    beat.unref();

    const pump = async () => {
      for (;;) {
        const batch = await sub.take();
        if (!batch || ended) return;
        let text = '';
        for (const e of batch) text += frame(e);
        if (!res.write(text)) {
          // Full socket: wait for it (the hub keeps this viewer's backlog bounded meanwhile), but not forever.
          const stall = setTimeout(end, stallMs);
          await new Promise<void>((r) => (drained = r));
          drained = null;
          clearTimeout(stall);
        }
        await new Promise((r) => setTimeout(r, GATHER_MS));
      }
    };
    pump().catch(end);
  });
}
