// Every error leaves the API as { error: { code, message, details } } with a 4xx for the caller's
// mistakes. Anything unexpected is a 500 without internals, and is logged in full.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import { FusionError } from '../core/errors.js';
import { isStoreFull } from '../core/store-errors.js';

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

export const apiError = (status: number, code: string, message: string, details: Record<string, unknown> = {}) =>
  new FusionError(code, message, details, status);

export const badField = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  apiError(400, 'invalid_request', message, { field, ...extra });

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  /** With ajv's verbose option: the schema holding the failed keyword. */
  parentSchema?: Record<string, unknown>;
}

/** Schemas with alternatives (anyOf/oneOf) carry `x-expect`: one sentence for what the field must be. */
export const EXPECT = 'x-expect';

/** Turn ajv's JSON pointer plus params into a dotted field name a client can act on: `jobs[3].runAt`. */
export function fieldOf(e: AjvError): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = e.params.missingProperty ?? e.params.additionalProperty ?? e.params.propertyName;
  if (typeof extra === 'string') parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || 'body';
}

function describe(e: AjvError, field: string): string {
  switch (e.keyword) {
    case 'anyOf':
    case 'oneOf': {
      const expect = e.parentSchema?.[EXPECT];
      return typeof expect === 'string' ? `${field} must be ${expect}` : `${field} does not match any allowed form`;
    }
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    case 'enum':
      return `${field} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${field} ${e.message ?? 'is invalid'}`;
  }
}

export function validationError(errors: AjvError[], part: string): FusionError {
  // ajv lists an alternative's branch failures before the alternative itself; the alternative's
  // own sentence ("priority must be high, moderate, low or an integer") is the useful one.
  const at = errors[0]!.instancePath;
  const alt = errors.find((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && e.parentSchema?.[EXPECT] && (at === e.instancePath || at.startsWith(`${e.instancePath}/`)));
  const first = alt ?? errors[0]!;
  const field = fieldOf(first);
  return apiError(400, 'invalid_request', describe(first, field), {
    field,
    in: part,
    problems: errors.slice(0, 10).map((e) => ({ field: fieldOf(e), message: describe(e, fieldOf(e)) })),
  });
}

const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_request'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_BAD_URL: [400, 'invalid_request'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'invalid_request'],
};

/** A store out of space (store-errors.ts), on any route: a 503 the caller can act on, not a 500. */
export function storeFullError(cause: unknown): FusionError {
  const message = 'the job store is full (a full disk, or Redis at its maxmemory): it takes no new jobs until space is freed; retry';
  return Object.assign(apiError(503, 'store_full', message, {}), { cause });
}

export function toErrorBody(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (isStoreFull(err)) return toErrorBody(storeFullError(err));
  if (err instanceof FusionError) {
    const status = err.status >= 400 && err.status < 600 ? err.status : 400;
    return { status, body: { error: { code: err.code, message: err.message, details: err.details } }, internal: status >= 500 };
  }
  const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    const v = validationError(fe.validation, fe.validationContext ?? 'body');
    return toErrorBody(v);
  }
  const known = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known) {
    const [status, code] = known;
    const details: Record<string, unknown> = { field: 'body' };
    if (code === 'payload_too_large') details.limit = (fe as { limit?: number }).limit;
    return { status, body: { error: { code, message: fe.message, details } }, internal: false };
  }
  // JSON.parse failures surface as SyntaxError with a 400 status set by the content-type parser.
  if (fe instanceof SyntaxError || (fe?.statusCode === 400 && /JSON/i.test(fe.message ?? ''))) {
    return { status: 400, body: { error: { code: 'invalid_json', message: `body is not valid JSON: ${fe.message}`, details: { field: 'body' } } }, internal: false };
  }
  const sc = fe?.statusCode;
  if (typeof sc === 'number' && sc >= 400 && sc < 500) {
    return { status: sc, body: { error: { code: 'invalid_request', message: fe.message, details: {} } }, internal: false };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error', details: {} } }, internal: true };
}

/** `onNotFound`: the 404 path's first hook (its earliest is preValidation; routes get theirs when added). */
export function installErrorHandling(app: FastifyInstance, onNotFound: preValidationHookHandler): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body, internal } = toErrorBody(err);
    if (internal) req.log.error({ err }, 'request failed');
    else req.log.debug({ code: body.error.code, details: body.error.details }, 'request refused');
    // A store that is down is not the caller's fault but is not a crash either: tell them to retry.
    if (status === 503) reply.header('retry-after', '1');
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="fusion"');
    // A refused caller gets its answer and the connection closes: it cannot hold it open with a slow body.
    if (status === 401 || status === 403) reply.header('connection', 'close');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler({ preValidation: onNotFound }, (req, reply) =>
    reply.code(404).send({ error: { code: 'route_not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, details: {} } }),
  );
}

/**
 * Answer `err` from a handler that returned no promise (callback-style), as Fastify answers a
 * rejected one: through the error handler, or only logged when an answer went out already.
 */
export function sendError(reply: FastifyReply, err: unknown): void {
  if (reply.sent) {
    reply.log.error({ err }, 'handler failed after its answer was sent');
    return;
  }
  reply.send(err instanceof Error ? err : new Error(String(err)));
}
