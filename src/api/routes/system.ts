// Health, readiness, metrics, the OpenAPI document and the interactive docs.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { OpenApiCollector } from '../openapi.js';
import { errorResponses } from '../schemas/common.js';

const VERSION = (() => {
  try {
    const require = createRequire(import.meta.url);
    return (require('../../../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fusion API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

// Kept in its own file so the page works under a strict Content-Security-Policy (no inline script).
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true, persistAuthorization: true, tryItOutEnabled: true });`;

const DOCS_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};

/** How long /readyz waits for the store's answer before it says the store is unreachable. */
export const READY_PING_MS = 2000;

export function systemRoutes(app: FastifyInstance, ctx: ApiContext, openapi: OpenApiCollector): void {
  const pub = { role: 'public' as const };

  app.get('/healthz', {
    schema: { tags: ['system'], summary: 'The process is alive', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
    config: pub,
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: { tags: ['system'], summary: 'The store is reachable and the event loop is not lagging', response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, ...errorResponses } },
    config: pub,
  }, async (_req, reply) => {
    // A loop that lags stalls every request, the worker and the scheduler of this process alike.
    const lag = ctx.loopLag.lagMs();
    if (lag > ctx.maxLagMs) {
      return reply.code(503).header('retry-after', '1').send({
        error: { code: 'event_loop_lagging', message: `event loop lags ${Math.round(lag)} ms (limit ${ctx.maxLagMs} ms)`, details: { lagMs: Math.round(lag), limitMs: ctx.maxLagMs } },
      });
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded: a store that does not answer held the probe for its client's whole retry budget
      // (~10 s on a Redis that went away), past any orchestrator's probe timeout.
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_PING_MS} ms`)), READY_PING_MS);
      });
      await Promise.race([ctx.store.ping(), late]);
      return { status: 'ready' };
    } catch (err) {
      return reply.code(503).header('retry-after', '1').send({ error: { code: 'store_unreachable', message: `store unreachable: ${(err as Error).message}`, details: {} } });
    } finally {
      clearTimeout(timer);
    }
  });

  app.get('/metrics', {
    schema: { tags: ['system'], summary: 'Prometheus metrics', response: { 200: { type: 'string', description: 'Prometheus text format' } } },
    config: { role: 'read' },
  }, async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  let doc: string | null = null;
  app.get('/openapi.json', { config: { ...pub, hidden: true } }, async (_req, reply) => {
    doc ??= JSON.stringify(openapi.document({
      title: 'Fusion API', version: VERSION,
      description: 'Task hub: priority queues, workers, retries, schedules. Errors are `{ "error": { "code", "message", "details" } }`; `details.field` names the field at fault.',
    }));
    return reply.type('application/json').send(doc);
  });

  const distDir = (() => {
    try {
      return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
    } catch {
      return null;
    }
  })();
  const assets = new Map<string, Buffer>();
  app.get('/docs', { config: { ...pub, hidden: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(DOCS_HTML));
  app.get('/docs/init.js', { config: { ...pub, hidden: true } }, async (_req, reply) => reply.type('application/javascript; charset=utf-8').send(DOCS_INIT));
  app.get('/docs/:file', { config: { ...pub, hidden: true } }, async (req, reply) => {
    const { file } = req.params as { file: string };
    const type = DOCS_ASSETS[file];
    if (!type || !distDir) return reply.code(404).send({ error: { code: 'not_found', message: `no docs asset ${file}`, details: {} } });
    let body = assets.get(file);
    if (!body) assets.set(file, (body = readFileSync(join(distDir, file))));
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
  });
}
