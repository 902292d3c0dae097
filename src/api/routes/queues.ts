// Queues and workers: /v1/queues, /v1/workers.
import type { FastifyInstance } from 'fastify';
import type { QueueInfo, QueueOptions } from '../../core/store.js';
import { emptyCounts } from '../../core/store.js';
import type { ApiContext } from '../context.js';
import { iso } from '../times.js';
import * as S from '../schemas/queues.js';

const queueView = (q: QueueInfo) => ({ ...q, oldestQueuedAt: iso(q.oldestQueuedAt) });

export function queueRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const info = async (name: string) =>
    queueView((await ctx.store.listQueues()).find((q) => q.name === name) ?? {
      name, paused: false, rateLimit: null, concurrency: null, counts: emptyCounts(), oldestQueuedAt: null,
    });

  app.get('/v1/queues', { schema: S.listQueues, config: { role: 'read' } }, async () => ({
    items: (await ctx.store.listQueues()).map(queueView),
  }));

  app.post('/v1/queues/:name/pause', { schema: S.pauseQueue, config: { role: 'admin' } }, async (req) => {
    const { name } = req.params as { name: string };
    await ctx.fusion.queue.pause(name);
    return info(name);
  });

  app.post('/v1/queues/:name/resume', { schema: S.resumeQueue, config: { role: 'admin' } }, async (req) => {
    const { name } = req.params as { name: string };
    await ctx.fusion.queue.resume(name);
    return info(name);
  });

  app.patch('/v1/queues/:name', { schema: S.patchQueue, config: { role: 'admin' } }, async (req) => {
    const { name } = req.params as { name: string };
    await ctx.fusion.queue.setQueueOptions(name, req.body as QueueOptions);
    return info(name);
  });

  app.post('/v1/queues/:name/clean', { schema: S.cleanQueue, config: { role: 'admin' } }, async (req) => {
    const { name } = req.params as { name: string };
    const b = (req.body ?? {}) as { olderThanMs?: number; states?: ('completed' | 'failed' | 'cancelled')[]; limit?: number };
    const removed = await ctx.fusion.queue.clean({ queue: name, olderThanMs: b.olderThanMs ?? 0, states: b.states, limit: b.limit ?? 1000 });
    return { queue: name, removed };
  });

  app.get('/v1/workers', { schema: S.listWorkers, config: { role: 'read' } }, async () => ({
    items: (await ctx.store.listWorkers({ now: ctx.now() })).map((w) => ({
      id: w.id, host: w.host, pid: w.pid, queues: w.queues, concurrency: w.concurrency,
      running: w.running, runningCount: w.running.length, startedAt: iso(w.startedAt), lastHeartbeatAt: iso(w.lastSeenAt),
    })),
  }));
}
