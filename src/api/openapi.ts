// The OpenAPI 3.1 document, built from the very route schemas Fastify validates with, so the docs
// cannot drift from what the server accepts. (3.1 takes JSON Schema as is, nullable types included.)
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { RouteConfig } from './validation.js';

interface Collected {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  config: RouteConfig;
}

const ROLE_TEXT: Record<string, string> = {
  public: 'No key needed.',
  send: 'Needs a key with the `send` role (or `admin`).',
  read: 'Needs a key with the `read` role (or `admin`).',
  admin: 'Needs a key with the `admin` role.',
};

function strip(schema: Record<string, unknown>): Record<string, unknown> {
  const { description: _d, ...rest } = schema;
  return rest;
}

export class OpenApiCollector {
  private routes: Collected[] = [];

  attach(app: FastifyInstance): void {
    app.addHook('onRoute', (r: RouteOptions) => {
      const config = (r.config ?? {}) as RouteConfig & { hidden?: boolean };
      if (config.hidden || !r.schema) return;
      const methods = Array.isArray(r.method) ? r.method : [r.method];
      for (const m of methods) if (m !== 'HEAD') this.routes.push({ method: m.toLowerCase(), url: r.url, schema: r.schema as Record<string, unknown>, config });
    });
  }

  document(info: { title: string; version: string; description?: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const r of this.routes) {
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const s = r.schema;
      const parameters: unknown[] = [];
      const params = s.params as { properties?: Record<string, unknown> } | undefined;
      for (const [name, schema] of Object.entries(params?.properties ?? {})) parameters.push({ name, in: 'path', required: true, schema });
      const query = s.querystring as { properties?: Record<string, Record<string, unknown>>; required?: string[] } | undefined;
      for (const [name, schema] of Object.entries(query?.properties ?? {})) {
        parameters.push({ name, in: 'query', required: query?.required?.includes(name) ?? false, schema: strip(schema), description: schema.description });
      }
      const role = r.config.role ?? 'admin';
      if (r.method === 'post' || r.method === 'patch' || r.method === 'delete') {
        parameters.push({
          name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 },
          description: 'Repeat a request safely: the same key and body return the first answer (Idempotency-Replay: true); the key with another body answers 422.',
        });
      }
      const responses: Record<string, unknown> = {};
      for (const [code, schema] of Object.entries((s.response ?? {}) as Record<string, Record<string, unknown>>)) {
        const key = code.toUpperCase();
        const description = (schema.description as string | undefined) ?? (code.startsWith('2') ? 'OK' : 'Error');
        responses[key] = code === '204' ? { description } : { description, content: { 'application/json': { schema: strip(schema) } } };
      }
      const op: Record<string, unknown> = {
        operationId: `${r.method}_${path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`,
        tags: s.tags,
        summary: s.summary,
        description: [s.description, ROLE_TEXT[role]].filter(Boolean).join('\n\n'),
        parameters,
        responses,
        'x-fusion-role': role,
      };
      if (role === 'public') op.security = [];
      if (s.body) {
        const body = s.body as Record<string, unknown>;
        const content: Record<string, unknown> = { 'application/json': { schema: body } };
        if (r.config.legacy) content['application/x-www-form-urlencoded'] = { schema: body };
        op.requestBody = { required: Array.isArray(body.type) ? !body.type.includes('null') : true, content };
      }
      (paths[path] ??= {})[r.method] = op;
    }
    return {
      openapi: '3.1.0',
      info,
      tags: [
        { name: 'jobs', description: 'Enqueue, inspect and steer jobs' },
        { name: 'schedules', description: 'Cron and RRULE schedules' },
        { name: 'queues', description: 'Queues: counts, pause/resume, limits, cleaning' },
        { name: 'workers', description: 'Live workers' },
        { name: 'providers', description: 'Delivery providers: statistics and demotions' },
        { name: 'system', description: 'Health, readiness, metrics, this document' },
        { name: 'legacy', description: 'Compatibility routes of the systems Fusion replaces (snake_case)' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
      paths,
    };
  }
}
