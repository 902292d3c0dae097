import { errorResponses, idParams, isoTime, jobView, timeInput } from './common.js';
import { jobSpecSchema } from './jobs.js';

const { runAt: _r, delay: _d, id: _i, ...templateProps } = jobSpecSchema.properties;

export const jobTemplate = {
  type: 'object', additionalProperties: false, required: ['task'], properties: templateProps,
  description: 'The job each occurrence enqueues: the fields of POST /v1/jobs except runAt, delay and id',
} as const;

const tz = { type: 'string', minLength: 1, maxLength: 64, description: 'IANA zone the trigger is read in (default UTC)', examples: ['Asia/Kolkata'] } as const;

export const triggerSchema = {
  description: 'When it fires: a cron line, an RFC 5545 RRULE, a fixed interval, or one time',
  'x-expect': '{ cron, tz? }, { rrule, tz? }, { every } or { at }',
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['cron'], properties: { cron: { type: 'string', minLength: 1, maxLength: 200, examples: ['0 7 * * 1-5'] }, tz } },
    {
      type: 'object', additionalProperties: false, required: ['rrule'],
      properties: { rrule: { type: 'string', minLength: 1, maxLength: 4000, description: 'RRULE (a bare FREQ=... or RFC 5545 lines: DTSTART, RRULE, EXDATE, RDATE)', examples: ['FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0'] }, tz },
    },
    {
      type: 'object', additionalProperties: false, required: ['every'],
      properties: { every: { anyOf: [{ type: 'integer', minimum: 10 }, { type: 'string', minLength: 1, maxLength: 32 }], description: 'ms, or "30s", "15m", "2h", "1h30m"' } },
    },
    { type: 'object', additionalProperties: false, required: ['at'], properties: { at: timeInput } },
  ],
} as const;

const misfire = {
  description: 'What to do with occurrences missed while no scheduler ran: skip (default) or catch-up',
  'x-expect': '"skip", "catch-up" or { policy, maxCatchUp, graceMs }',
  anyOf: [
    { type: 'string', enum: ['skip', 'catch-up'] },
    {
      type: 'object', additionalProperties: false,
      properties: { policy: { type: 'string', enum: ['skip', 'catch-up'] }, maxCatchUp: { type: 'integer', minimum: 1, maximum: 1000 }, graceMs: { type: 'integer', minimum: 0 } },
    },
  ],
} as const;

const fields = {
  trigger: triggerSchema,
  template: jobTemplate,
  startAt: { ...timeInput, description: 'No occurrence before (an RRULE\'s DTSTART when it has none)' },
  endAt: { ...timeInput, description: 'No occurrence after' },
  limit: { type: ['integer', 'null'], minimum: 1, description: 'Stop after this many runs' },
  misfire,
  paused: { type: 'boolean' },
  description: { type: ['string', 'null'], maxLength: 1000 },
} as const;

export const scheduleView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    trigger: { type: 'object', additionalProperties: true },
    template: { type: 'object', additionalProperties: true },
    startAt: isoTime,
    endAt: isoTime,
    limit: { type: ['integer', 'null'] },
    misfire: { type: 'object', additionalProperties: true },
    description: { type: ['string', 'null'] },
    paused: { type: 'boolean' },
    nextRunAt: { ...isoTime, description: 'null when the series has ended' },
    lastRunAt: isoTime,
    runCount: { type: 'integer' },
    createdAt: isoTime,
    updatedAt: isoTime,
  },
} as const;

export const createSchedule = {
  tags: ['schedules'], summary: 'Create (or replace, by id) a schedule',
  description: 'Answers 201 when created, 200 when a schedule with this id was replaced (its run count stays). With `Idempotency-Key`, the key decides the id and a repeat answers the existing schedule.',
  body: {
    type: 'object', additionalProperties: false, required: ['trigger', 'template'],
    properties: { id: { type: 'string', pattern: '^(?!\\.\\.?$)[A-Za-z0-9_.:-]{1,150}$', description: 'Letters, digits, _ . : - (1-150), not . or ..' }, ...fields },
    examples: [{ id: 'daily-report', trigger: { cron: '0 7 * * *', tz: 'Asia/Kolkata' }, template: { task: 'email', payload: { to: 'ops@example.com' } } }],
  },
  response: { 201: scheduleView, 200: scheduleView, ...errorResponses },
} as const;

export const listSchedules = {
  tags: ['schedules'], summary: 'List schedules',
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: scheduleView } } }, ...errorResponses },
} as const;

export const getSchedule = { tags: ['schedules'], summary: 'Get a schedule', params: idParams, response: { 200: scheduleView, ...errorResponses } } as const;

export const patchSchedule = {
  tags: ['schedules'], summary: 'Change a schedule (the next occurrence is recomputed from now)',
  params: idParams,
  body: { type: 'object', additionalProperties: false, minProperties: 1, properties: fields },
  response: { 200: scheduleView, ...errorResponses },
} as const;

export const deleteSchedule = {
  tags: ['schedules'], summary: 'Delete a schedule (jobs it enqueued stay)', params: idParams,
  response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
} as const;

export const pauseSchedule = { tags: ['schedules'], summary: 'Pause a schedule', params: idParams, response: { 200: scheduleView, ...errorResponses } } as const;
export const resumeSchedule = { ...pauseSchedule, summary: 'Resume a schedule (from the next occurrence at or after now)' } as const;
export const runSchedule = {
  tags: ['schedules'], summary: 'Enqueue the schedule\'s job now (the series is unchanged)', params: idParams,
  response: { 201: jobView, ...errorResponses },
} as const;

const times = { 200: { type: 'object', properties: { times: { type: 'array', items: { type: 'string' } } } }, ...errorResponses } as const;

export const previewSchedule = {
  tags: ['schedules'], summary: 'The next times of a trigger; nothing is stored',
  body: {
    type: 'object', additionalProperties: false, required: ['trigger'],
    properties: { trigger: triggerSchema, count: { type: 'integer', minimum: 1, maximum: 1000, default: 10 }, from: { ...timeInput, description: 'Default now' } },
  },
  response: times,
} as const;

export const previewStored = {
  tags: ['schedules'], summary: 'The next times of a stored schedule (bounds and limit applied)', params: idParams,
  querystring: { type: 'object', additionalProperties: false, properties: { count: { type: 'integer', minimum: 1, maximum: 1000, default: 10 } } },
  response: times,
} as const;
