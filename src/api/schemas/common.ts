// JSON Schemas shared by validation, serialization and the OpenAPI document.
import { JOB_STATES } from '../../core/job.js';
import { HTTP_URL_PATTERN, MAX_URL } from '../../core/spec.js';

export const errorSchema = {
  type: 'object',
  description: 'Every error: a stable code, a message for humans, details naming the field at fault',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', examples: ['invalid_request'] },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
      required: ['code', 'message', 'details'],
    },
  },
  required: ['error'],
} as const;

/** Responses every route may give, for the OpenAPI document and to serialize errors. */
export const errorResponses = {
  '4xx': { ...errorSchema, description: 'The request was refused; `error.details.field` names the culprit' },
  '5xx': { ...errorSchema, description: 'The server or its store failed; retry with the same Idempotency-Key' },
};

export const queueName = { type: 'string', pattern: '^(?!\\.\\.?$)[A-Za-z0-9_.:-]{1,100}$', description: 'Letters, digits, _ . : - (1-100), not . or .. (a URL cannot carry them)' } as const;
export const jobId = { type: 'string', minLength: 1, maxLength: 200 } as const;
export const jobState = { type: 'string', enum: [...JOB_STATES] } as const;
export const httpUrl = { type: 'string', maxLength: MAX_URL, pattern: HTTP_URL_PATTERN, description: 'An http(s) URL' } as const;
export const nullableString = { type: ['string', 'null'] } as const;
export const isoTime = { type: ['string', 'null'], description: 'ISO 8601 (UTC)' } as const;
/** A 200 answer of `{ items: [...] }`, each item an object of these properties (and errors). */
export const itemsResponse = <P extends Record<string, unknown>>(properties: P) => ({
  200: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties } } } },
  ...errorResponses,
}) as const;
/** ISO 8601 string or epoch milliseconds. */
export const timeInput = {
  anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'integer' }],
  description: 'ISO 8601 (no offset means UTC) or epoch milliseconds',
  'x-expect': 'an ISO 8601 time or epoch milliseconds',
  examples: ['2026-11-23T18:30:00Z', 1795458600000],
} as const;

export const idParams = {
  type: 'object',
  properties: { id: jobId },
  required: ['id'],
} as const;

export const jobView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    queue: { type: 'string' },
    task: { type: 'string' },
    state: jobState,
    priority: { type: 'integer' },
    payload: { description: 'As given; secret-looking fields are masked' },
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    // The fields of the three backoff kinds, named: the serializer writes them directly instead of
    // walking the object's keys (~0.4 µs of the ~1.2 µs a job answer costs to serialize).
    backoff: {
      type: 'object', additionalProperties: true,
      properties: {
        type: { type: 'string' }, base: { type: 'number' }, cap: { type: 'number' }, jitter: { type: 'boolean' },
        delay: { type: 'number' }, delays: { type: 'array', items: { type: 'number' } },
      },
    },
    timeout: { type: 'integer' },
    runAt: isoTime,
    createdAt: isoTime,
    startedAt: isoTime,
    endedAt: isoTime,
    result: {},
    error: {
      type: ['object', 'null'],
      properties: { message: { type: 'string' }, name: nullableString, code: nullableString, retryable: { type: 'boolean' } },
    },
    progress: {},
    stalls: { type: 'integer' },
    cancelRequested: { type: 'boolean' },
    workerId: nullableString,
    description: nullableString,
    tags: { type: 'array', items: { type: 'string' } },
    callbacks: { type: ['object', 'null'], properties: { onSuccess: { type: 'string' }, onFailure: { type: 'string' } } },
    scheduleId: nullableString,
    history: { type: 'array', items: { type: 'object', additionalProperties: true } },
    delivery: { type: 'object', additionalProperties: true, description: 'Channel jobs (GET /v1/jobs/:id): where the message stands with its provider (status sent, delivered, undelivered; provider, messageId, providerStatus, at)' },
  },
} as const;
