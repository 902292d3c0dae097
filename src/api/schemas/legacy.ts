// The original Fusion (Flask + RQ) routes, the Celery /api/tasks routes and /remind_me: their bodies
// as those systems accepted them (extra fields are tolerated, strings coerce as form posts need).
import { errorResponses, idParams, isoTime, jobId } from './common.js';

const contact = { anyOf: [{ type: 'string', minLength: 1, maxLength: 50 }, { type: 'number' }], 'x-expect': 'a phone number (string or number)' } as const;
const time = { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'number' }], 'x-expect': 'an ISO 8601 time or epoch seconds' } as const;
const url = { type: 'string', maxLength: 2048, pattern: '^https?://[^\\s]+$' } as const;

/** Per-channel essentials: what a handler cannot do without. */
const channelRules = [
  { if: { properties: { task: { const: 1 } } }, then: { required: ['contact'], properties: { contact } } },
  {
    if: { properties: { task: { const: 2 } } },
    then: {
      required: ['to'],
      properties: { to: { anyOf: [{ type: 'string', minLength: 3 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 3 } }], 'x-expect': 'an email address or a list of them' } },
    },
  },
  { if: { properties: { task: { const: 3 } } }, then: { anyOf: [{ required: ['android'] }, { required: ['ios'] }] } },
  {
    if: { properties: { task: { const: 4 } } },
    then: {
      required: ['url'],
      properties: { url, method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'post', 'put', 'patch', 'delete'] } },
    },
  },
  { if: { properties: { task: { const: 6 } } }, then: { required: ['contact'], properties: { contact } } },
];

const envelope = {
  payload: {
    type: 'object',
    required: ['task'],
    properties: {
      task: { type: 'integer', enum: [1, 2, 3, 4, 6], description: '1 SMS, 2 email, 3 push, 4 webhook, 6 WhatsApp' },
    },
    allOf: channelRules,
    additionalProperties: true,
  },
  priority: { type: 'integer', enum: [0, 1, 2], default: 1, description: '2 high (OTP), 1 moderate, 0 low (campaigns)' },
  task_type: { type: 'string', maxLength: 100, description: 'e.g. OTP, REPORT, CAMPAIGN' },
  success_task_handler: url,
  failed_task_handler: url,
  job_id: jobId,
} as const;

export const legacyAnswer = {
  type: 'object',
  properties: { job_id: { type: 'string' }, status: { type: 'string' }, schedule_id: { type: 'string' }, scheduled_at: isoTime },
} as const;

export const queueBody = {
  type: 'object', required: ['payload'], properties: envelope, additionalProperties: true,
  examples: [{ payload: { task: 1, contact: 9876543210, countryCode: 91, message: 'Your OTP is 4711' }, priority: 2, task_type: 'OTP' }],
} as const;

export const legacyQueue = {
  tags: ['legacy'], summary: 'Original Fusion: enqueue a channel task now',
  description: 'Task 1 SMS → queue sms, 2 email → email, 3 push → pn, 4 webhook → webhook (method in payload.method, default POST), 6 WhatsApp → whatsapp. JSON or form-encoded (payload as a JSON string).',
  body: queueBody,
  response: { 200: legacyAnswer, ...errorResponses },
} as const;

export const legacySchedule = {
  tags: ['legacy'], summary: 'Original Fusion: enqueue a channel task later, or on a cron line or RRULE',
  description: 'The /queue/ body plus exactly one of schedule_at (ISO 8601 or epoch seconds), delay (seconds), cron (with optional repeat: how many runs) or rrule.',
  body: {
    type: 'object', required: ['payload'], additionalProperties: true,
    properties: {
      ...envelope,
      schedule_at: time,
      delay: { type: 'number', minimum: 0 },
      cron: { type: 'string', minLength: 1, maxLength: 200 },
      repeat: { type: 'integer', minimum: 1 },
      rrule: { type: 'string', minLength: 1, maxLength: 2000 },
      timezone: { type: 'string', maxLength: 64 },
    },
  },
  response: { 200: legacyAnswer, ...errorResponses },
} as const;

const jobIdBody = { type: 'object', required: ['job_id'], properties: { job_id: jobId }, additionalProperties: true } as const;

export const legacyJobInfo = {
  tags: ['legacy'], summary: 'Original Fusion: a job\'s status and outcome', body: jobIdBody,
  response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses },
} as const;
export const legacyCancel = { tags: ['legacy'], summary: 'Original Fusion: cancel a job or a cron/rrule schedule', body: jobIdBody, response: { 200: legacyAnswer, ...errorResponses } } as const;
export const legacyRetry = { tags: ['legacy'], summary: 'Original Fusion: retry a failed or cancelled job', body: jobIdBody, response: { 200: legacyAnswer, ...errorResponses } } as const;
export const legacyReschedule = {
  tags: ['legacy'], summary: 'Original Fusion: move a job to another time',
  body: {
    type: 'object', required: ['job_id', 'schedule_at'], additionalProperties: true,
    properties: { job_id: jobId, schedule_at: time },
  },
  response: { 200: legacyAnswer, ...errorResponses },
} as const;

export const legacyMapping = {
  tags: ['legacy'], summary: 'Original Fusion: enqueue a dictionary mapping job (needs a registered `mapping` task)',
  description: 'Goes to the `dictionary` queue, task `mapping`. The job payload is `payload` when given, else the body without the envelope fields (priority, job_id, handlers).',
  body: {
    type: 'object', additionalProperties: true,
    properties: { payload: {}, priority: envelope.priority, job_id: jobId, success_task_handler: url, failed_task_handler: url },
  },
  response: { 200: legacyAnswer, ...errorResponses },
} as const;

export const legacyConsent = {
  tags: ['legacy'], summary: 'Original Fusion: record WhatsApp consent of a contact',
  body: {
    type: 'object', required: ['contact', 'countryCode', 'consent'], additionalProperties: true,
    properties: { contact, countryCode: contact, consent: { type: 'boolean' } },
  },
  response: {
    200: {
      type: 'object',
      properties: { contact: { type: 'string' }, country_code: { type: 'string' }, consent: { type: 'boolean' }, updated_at: isoTime, status: { type: 'string' } },
    },
    ...errorResponses,
  },
} as const;

export const celeryCreate = {
  tags: ['legacy'], summary: 'Celery-style: submit a task',
  description: '`task_type` names a registered task; `email_sending` is the email channel. An unregistered type answers 422.',
  body: {
    type: 'object', required: ['task_type'], additionalProperties: true,
    properties: {
      task_type: { type: 'string', minLength: 1, maxLength: 200 },
      priority: { type: 'string', enum: ['high', 'normal', 'low'], default: 'normal' },
      parameters: { type: 'object', additionalProperties: true, default: {} },
      delay: { type: 'number', minimum: 0, default: 0, description: 'seconds' },
    },
    examples: [{ task_type: 'data_processing', priority: 'high', parameters: { data: 'test data' }, delay: 0 }],
  },
  response: { 202: { type: 'object', properties: { task_id: { type: 'string' }, status: { type: 'string' } } }, ...errorResponses },
} as const;

export const celeryGet = {
  tags: ['legacy'], summary: 'Celery-style: a task\'s status (PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED)',
  params: idParams,
  response: {
    200: {
      type: 'object',
      properties: {
        task_id: { type: 'string' }, task_type: { type: 'string' }, status: { type: 'string' }, result: {},
        error: { type: ['string', 'null'] }, retries: { type: 'integer' }, date_done: isoTime,
      },
    },
    ...errorResponses,
  },
} as const;

export const remindMe = {
  tags: ['legacy'], summary: 'RRULE reminder: schedule the `reminder` task on an RRULE',
  description: 'Creates a schedule firing task `reminder` (queue `reminders`, high priority) with `notification_metadata` as payload. Needs a registered `reminder` task.',
  body: {
    type: 'object', required: ['rrule', 'start_datetime', 'notification_metadata'], additionalProperties: true,
    properties: {
      rrule: { type: 'string', minLength: 1, maxLength: 2000 },
      start_datetime: { anyOf: [{ type: 'integer' }, { type: 'string', minLength: 1, maxLength: 64 }], description: 'epoch seconds (or ms, or ISO 8601)', 'x-expect': 'epoch seconds or an ISO 8601 time' },
      notification_metadata: {
        type: 'object', additionalProperties: true,
        properties: {
          auth_header: { type: 'string' }, title: { type: 'string' }, body: { type: 'string' }, item_id: { type: 'string' },
          created_at: { type: 'integer' }, created_by: { type: 'string' }, classroom_id: { type: 'string' }, kind: { type: 'integer' },
        },
      },
    },
  },
  response: {
    200: { type: 'object', properties: { schedule_id: { type: 'string' }, status: { type: 'string' }, next_run_at: isoTime } },
    ...errorResponses,
  },
} as const;
