import { PRIORITIES } from '../../core/job.js';
import { errorResponses, httpUrl, idParams, jobId, jobState, jobView, queueName, timeInput } from './common.js';

export const MAX_BULK = 1000;
export const PRIORITY_RANGE = 1000;

export const priorityInput = {
  anyOf: [
    { type: 'string', enum: Object.keys(PRIORITIES) },
    { type: 'integer', minimum: -PRIORITY_RANGE, maximum: PRIORITY_RANGE },
  ],
  description: `high (2), moderate (1, default), low (0), or an integer in ±${PRIORITY_RANGE}; higher runs first`,
  'x-expect': `high, moderate, low or an integer from -${PRIORITY_RANGE} to ${PRIORITY_RANGE}`,
} as const;

const backoff = {
  description: 'Retry delays. Default: exponential from 1 s, capped at 1 h, with jitter',
  'x-expect': '{ type: exponential, base?, cap?, jitter? } or { type: fixed, delay } or { type: list, delays: [...] } (ms)',
  oneOf: [
    {
      type: 'object', additionalProperties: false, required: ['type'],
      properties: { type: { const: 'exponential' }, base: { type: 'integer', minimum: 0 }, cap: { type: 'integer', minimum: 0 }, jitter: { type: 'boolean' } },
    },
    { type: 'object', additionalProperties: false, required: ['type', 'delay'], properties: { type: { const: 'fixed' }, delay: { type: 'integer', minimum: 0 } } },
    {
      type: 'object', additionalProperties: false, required: ['type', 'delays'],
      properties: { type: { const: 'list' }, delays: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'integer', minimum: 0 } } },
    },
  ],
} as const;

export const jobSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['task'],
  properties: {
    task: { type: 'string', minLength: 1, maxLength: 200, description: 'A registered task (or a channel: sms, email, push, webhook, whatsapp)' },
    payload: { description: 'Any JSON value; what the handler receives' },
    queue: { ...queueName, description: "Defaults to the task's queue" },
    priority: priorityInput,
    runAt: timeInput,
    delay: { type: 'integer', minimum: 0, description: 'Due in this many milliseconds (not with runAt)' },
    id: { ...jobId, description: 'Your own id; the same id twice is one job' },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 1000 },
    backoff,
    timeout: { type: 'integer', minimum: 0, maximum: 86_400_000, description: 'Per-attempt limit in ms; 0 = none' },
    callbacks: {
      type: 'object', additionalProperties: false,
      properties: {
        onSuccess: httpUrl, onFailure: httpUrl,
        format: { type: 'string', enum: ['json', 'form'], description: 'json (default) or the original Fusion form fields' },
      },
      description: 'URLs POSTed with the outcome (delivered as jobs of their own, with retries)',
    },
    description: { type: 'string', maxLength: 1000 },
    tags: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 100 } },
  },
  examples: [{ task: 'sms', payload: { contact: '9876543210', countryCode: 91, message: 'Your OTP is 4711' }, priority: 'high' }],
} as const;

const created = { ...jobView, description: 'The job' };

export const createJob = {
  tags: ['jobs'],
  summary: 'Enqueue a job',
  description: 'Answers 201 with the new job. With `Idempotency-Key`, a repeat answers 201 again with `Idempotency-Replay: true`; the key with another body answers 422. A client-given `id` that exists answers 200 with that job when the request matches it, 409 otherwise.',
  body: jobSpecSchema,
  response: { 201: created, 200: created, ...errorResponses },
} as const;

export const createBulk = {
  tags: ['jobs'],
  summary: `Enqueue up to ${MAX_BULK} jobs atomically`,
  description: 'All jobs are added or none. Each item is validated like POST /v1/jobs; an error names the item (`jobs[3].task`). The body may be 8 times the body limit (8 MiB by default); each job\'s payload must still fit the limit.',
  body: {
    type: 'object', additionalProperties: false, required: ['jobs'],
    properties: { jobs: { type: 'array', minItems: 1, maxItems: MAX_BULK, items: jobSpecSchema } },
  },
  response: {
    201: {
      type: 'object',
      properties: {
        jobs: { type: 'array', items: jobView },
        created: { type: 'integer', description: 'How many were new (the rest already existed by id)' },
      },
    },
    ...errorResponses,
  },
} as const;

export const getJob = {
  tags: ['jobs'],
  summary: 'Get a job, optionally waiting for it to finish',
  params: idParams,
  querystring: {
    type: 'object', additionalProperties: false,
    properties: { wait: { type: 'number', minimum: 0, maximum: 60, description: 'Long-poll: wait up to this many seconds for the job to finish' } },
  },
  response: { 200: jobView, ...errorResponses },
} as const;

export const listJobs = {
  tags: ['jobs'],
  summary: 'List jobs, newest first, a page at a time',
  querystring: {
    type: 'object', additionalProperties: false,
    properties: {
      queue: queueName,
      state: jobState,
      task: { type: 'string', minLength: 1, maxLength: 200 },
      cursor: { type: 'string', minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    },
  },
  response: {
    200: { type: 'object', properties: { items: { type: 'array', items: jobView }, nextCursor: { type: ['string', 'null'] } } },
    ...errorResponses,
  },
} as const;

const jobAction = (summary: string, description: string) => ({
  tags: ['jobs'], summary, description, params: idParams, response: { 200: jobView, ...errorResponses },
});

/** An action that takes no fields: an empty object or no body; an unknown field is a 400, as everywhere on /v1. */
const noFields = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;
export const cancelJob = { ...jobAction('Cancel a job', 'scheduled|queued → cancelled at once; an active job is asked to stop (cancelRequested) and its worker aborts it. 409 for finished jobs.'), body: noFields };
export const promoteJob = { ...jobAction('Run a scheduled job now', 'scheduled → queued. 409 otherwise.'), body: noFields };
export const retryJob = {
  ...jobAction('Retry a failed or cancelled job', 'failed|cancelled → queued. 409 otherwise.'),
  body: {
    type: ['object', 'null'], additionalProperties: false,
    properties: { resetAttempts: { type: 'boolean', default: true, description: 'Start counting attempts from 0 again' } },
  },
};
export const rescheduleJob = {
  ...jobAction('Move a job to another time', 'scheduled|queued jobs only; a time not in the future makes it queued now.'),
  body: { type: 'object', additionalProperties: false, required: ['runAt'], properties: { runAt: timeInput } },
};
export const deleteJob = {
  tags: ['jobs'], summary: 'Delete a job (not while active)', params: idParams,
  response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
};
