import { errorResponses, isoTime, jobView, timeInput } from './common.js';
import { jobSpecSchema } from './jobs.js';

const { runAt: _r, delay: _d, id: _i, ...templateProps } = jobSpecSchema.properties;

export const jobTemplate = {
  type: 'object', additionalProperties: false, required: ['task'], properties: templateProps,
  description: 'The job each occurrence enqueues: the fields of POST /v1/jobs except runAt, delay and id',
} as const;

const trigger = {
  cron: { type: 'string', minLength: 1, maxLength: 200, description: 'A cron line (5 or 6 fields)', examples: ['0 7 * * *'] },
  rrule: { type: 'string', minLength: 1, maxLength: 2000, description: 'An RFC 5545 RRULE (with or without the RRULE: prefix; DTSTART lines allowed)', examples: ['FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9'] },
  timezone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA zone the trigger is read in (default UTC)', examples: ['Asia/Kolkata'] },
  startAt: { ...timeInput, description: 'No occurrence before (an RRULE\'s DTSTART)' },
  endAt: { ...timeInput, description: 'No occurrence after' },
  limit: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Stop after this many runs' },
} as const;

export const scheduleView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    cron: { type: ['string', 'null'] },
    rrule: { type: ['string', 'null'] },
    timezone: { type: ['string', 'null'] },
    job: { type: 'object', additionalProperties: true },
    description: { type: ['string', 'null'] },
    paused: { type: 'boolean' },
    nextRunAt: { ...isoTime, description: 'null when the series has ended' },
    lastRunAt: isoTime,
    runCount: { type: 'integer' },
    createdAt: isoTime,
    updatedAt: isoTime,
    spec: { type: 'object', additionalProperties: true, description: 'The schedule as the scheduler keeps it' },
  },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] } as const;

export const createSchedule = {
  tags: ['schedules'], summary: 'Create a schedule (cron or RRULE)',
  description: 'Give exactly one of `cron` or `rrule`. Answers 201. With `Idempotency-Key`, the key decides the schedule id.',
  body: {
    type: 'object', additionalProperties: false, required: ['job'],
    properties: {
      id: { type: 'string', minLength: 1, maxLength: 200 }, ...trigger, job: jobTemplate,
      paused: { type: 'boolean', default: false }, description: { type: 'string', maxLength: 1000 },
    },
    examples: [{ id: 'daily-report', cron: '0 7 * * *', timezone: 'Asia/Kolkata', job: { task: 'email', payload: { to: 'ops@example.com' } } }],
  },
  response: { 201: scheduleView, ...errorResponses },
} as const;

export const listSchedules = {
  tags: ['schedules'], summary: 'List schedules',
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: scheduleView } } }, ...errorResponses },
} as const;

export const getSchedule = { tags: ['schedules'], summary: 'Get a schedule', params: idParams, response: { 200: scheduleView, ...errorResponses } } as const;

export const patchSchedule = {
  tags: ['schedules'], summary: 'Change a schedule',
  description: 'Any of the creation fields except id. Giving `cron` clears `rrule` and the reverse.',
  params: idParams,
  body: {
    type: 'object', additionalProperties: false, minProperties: 1,
    properties: { ...trigger, job: jobTemplate, paused: { type: 'boolean' }, description: { type: 'string', maxLength: 1000 } },
  },
  response: { 200: scheduleView, ...errorResponses },
} as const;

export const deleteSchedule = {
  tags: ['schedules'], summary: 'Delete a schedule', params: idParams,
  response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses },
} as const;

export const pauseSchedule = { tags: ['schedules'], summary: 'Pause a schedule', params: idParams, response: { 200: scheduleView, ...errorResponses } } as const;
export const resumeSchedule = { ...pauseSchedule, summary: 'Resume a schedule' } as const;
export const runSchedule = {
  tags: ['schedules'], summary: 'Fire one occurrence now (the series is unchanged)', params: idParams,
  response: { 201: jobView, ...errorResponses },
} as const;

export const previewSchedule = {
  tags: ['schedules'], summary: 'The next times of a trigger; nothing is stored',
  body: {
    type: 'object', additionalProperties: false,
    properties: { ...trigger, count: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, from: { ...timeInput, description: 'Default now' } },
  },
  response: { 200: { type: 'object', properties: { times: { type: 'array', items: { type: 'string' } } } }, ...errorResponses },
} as const;
