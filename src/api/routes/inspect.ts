// Small read endpoints the dashboard and the terminal need: who am I (which roles the presented key
// has), a job's log lines, and (admin only) the stack of a job's last error.
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../core/errors.js';
import type { ApiContext } from '../context.js';
import { errorResponses, idParams } from '../schemas/common.js';

export function inspectRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/v1/me', {
    schema: {
      tags: ['system'], summary: 'The presented key: its name and roles (all roles when the server has no keys)',
      response: { 200: { type: 'object', properties: { name: { type: ['string', 'null'] }, roles: { type: 'array', items: { type: 'string' } }, authEnabled: { type: 'boolean' } } }, ...errorResponses },
    },
    config: { role: 'read' },
  }, async (req) => (req.apiKey
    ? { name: req.apiKey.name, roles: req.apiKey.roles, authEnabled: true }
    : { name: null, roles: ['send', 'read', 'admin'], authEnabled: false }));

  app.get('/v1/jobs/:id/logs', {
    schema: {
      tags: ['jobs'], summary: 'A job\'s log lines (from ctx.log in its handler), oldest first', params: idParams,
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, message: { type: 'string' } } } } } }, ...errorResponses },
    },
    config: { role: 'read' },
  }, async (req) => {
    const { id } = req.params as { id: string };
    if (!(await ctx.store.getJob({ id }))) throw notFound('job', id);
    return { items: (await ctx.store.jobLogs({ id })).map((l) => ({ at: new Date(l.at).toISOString(), message: l.message })) };
  });

  app.get('/v1/jobs/:id/stack', {
    schema: {
      tags: ['jobs'], summary: 'The stack trace of a job\'s last error (admin only: stacks name files and lines)', params: idParams,
      response: { 200: { type: 'object', properties: { stack: { type: ['string', 'null'] } } }, ...errorResponses },
    },
    config: { role: 'admin' },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const job = await ctx.store.getJob({ id });
    if (!job) throw notFound('job', id);
    return { stack: job.error?.stack ?? null };
  });
}
