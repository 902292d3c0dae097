// The HTTP server. For now: health. Routes are added by the API issue.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Fusion } from '../fusion.js';

export interface ServerOptions {
  fusion: Fusion;
  logger?: boolean;
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 1024 * 1024 });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await opts.fusion.store.ping();
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).send({ error: { code: 'store_unreachable', message: (err as Error).message, details: {} } });
    }
  });
  return app;
}
