// The original Fusion (Flask + RQ) routes, the Celery /api/tasks routes and /remind_me: their bodies
// as those systems accepted them (extra fields are tolerated). Bodies are checked as sent; only
// top-level integer/number/boolean fields are read from form strings (see validation.ts), so a
// field that must keep its JSON type (contact, to, payload) is never declared as such a scalar.
import { errorResponses, idParams, isoTime, jobId } from './common.js';
import { HTTP_URL_PATTERN, MAX_URL } from '../../core/spec.js';

const contact = { anyOf: [{ type: 'string', minLength: 1, maxLength: 50 }, { type: 'number' }], 'x-expect': 'a phone number (string or number)' } as const;
const time = { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'number' }], 'x-expect': 'an ISO 8601 time or epoch seconds' } as const;
const url = { type: 'string', maxLength: MAX_URL, pattern: HTTP_URL_PATTERN } as const;

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
export const legacyRetry = {
  tags: ['legacy'], summary: 'Original Fusion: retry a failed or cancelled job, or enqueue again what the original worker posts',
  description: '`{ job_id }` puts that failed or cancelled job back in its queue. The original worker posts its job arguments instead '
    + '(`json=job._args`: a list whose first item is the original /queue/ body): that body is enqueued again as a new job '
    + '(tagged `retry_of:<job_id>` when the body carried one).',
  // One schema for both shapes: object keywords apply to objects only, array keywords to arrays only.
  body: {
    type: ['object', 'array'], required: ['job_id'], properties: { job_id: jobId }, additionalProperties: true,
    minItems: 1, items: [{ type: 'object' }], additionalItems: true,
  },
  response: { 200: legacyAnswer, ...errorResponses },
} as const;
export const legacyReschedule = {
  tags: ['legacy'], summary: 'Original Fusion: move a job, or a cron/rrule series, to another time',
  description: 'A job id: the job runs at schedule_at. A schedule id (from /schedule/ with cron or rrule): the series restarts at '
    + 'schedule_at: nothing runs before it and its next run is its first occurrence at or after schedule_at (an RRULE without its '
    + 'own DTSTART is re-anchored there, so it runs at schedule_at exactly); run count and repeat limit stay. `scheduled_at` in the '
    + 'answer is that next run. A time after the series\' end is a 400 and leaves the series as it was.',
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
    properties: { contact, countryCode: contact, consent: { type: 'boolean', description: 'true/false; form posts may send 1/0 or true/false' } },
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
  description: '`task_type` names a registered task; `email_sending` is the email channel (task `email`, queue `email`; parameters '
    + 'become the original email payload: `to` as a list, `body` as `message` when no `message` is given, other fields as sent; '
    + 'with neither a subject nor a body the subject is the task type). '
    + 'An unregistered type answers 422. examples/celery-tasks.ts registers that system\'s `data_processing` and `file_processing`.',
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
  description: 'An id with no task is PENDING (task_type null), as Celery\'s AsyncResult answers for an id it has no record of.',
  params: idParams,
  response: {
    200: {
      type: 'object',
      properties: {
        task_id: { type: 'string' }, task_type: { type: ['string', 'null'] }, status: { type: 'string' }, result: {},
        error: { type: ['string', 'null'] }, retries: { type: 'integer' }, date_done: isoTime,
      },
    },
    ...errorResponses,
  },
} as const;

export const remindMe = {
  tags: ['legacy'], summary: 'RRULE reminder: schedule the `reminder` task on an RRULE',
  description: 'Creates a schedule firing the built-in task `reminder` (queue `reminders`, high priority) with `notification_metadata` (as sent, '
    + 'its integer fields read from numeric strings) as its payload; each occurrence delivers it through config `channels.reminder` (POST to the notification service with `auth_header` as '
    + 'the Authorization header, or dry-run). start_datetime is the DTSTART of a rule without one, its seconds kept (a fraction of a '
    + 'second rounds up): no reminder fires before it. A rule whose every occurrence is in the past is a 400.',
  body: {
    type: 'object', required: ['rrule', 'start_datetime', 'notification_metadata'], additionalProperties: true,
    properties: {
      rrule: { type: 'string', minLength: 1, maxLength: 2000 },
      start_datetime: { anyOf: [{ type: 'number' }, { type: 'string', minLength: 1, maxLength: 64 }], description: 'epoch seconds, a fraction rounding up to the next second (or ms, or ISO 8601)', 'x-expect': 'epoch seconds or an ISO 8601 time' },
      notification_metadata: {
        // A pydantic model in the original: "1700000000" for created_at, "1" for kind were read as integers.
        type: 'object', additionalProperties: true, 'x-read-scalars': true,
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
