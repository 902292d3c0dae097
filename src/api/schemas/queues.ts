import { JOB_STATES } from '../../core/job.js';
import { errorResponses, isoTime, queueName } from './common.js';

const counts = { type: 'object', properties: Object.fromEntries(JOB_STATES.map((s) => [s, { type: 'integer' }])) };
const rateLimit = {
  type: ['object', 'null'],
  properties: { max: { type: 'integer', minimum: 1 }, windowMs: { type: 'integer', minimum: 1 } },
  required: ['max', 'windowMs'],
  additionalProperties: false,
} as const;

export const queueView = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    paused: { type: 'boolean' },
    rateLimit,
    concurrency: { type: ['integer', 'null'] },
    counts,
    oldestQueuedAt: isoTime,
  },
} as const;

const nameParams = { type: 'object', properties: { name: queueName }, required: ['name'] } as const;

export const listQueues = {
  tags: ['queues'], summary: 'Queues with counts per state, paused flag and limits',
  response: { 200: { type: 'object', properties: { items: { type: 'array', items: queueView } } }, ...errorResponses },
} as const;

export const pauseQueue = {
  tags: ['queues'], summary: 'Pause a queue (workers stop taking its jobs)', params: nameParams,
  response: { 200: queueView, ...errorResponses },
} as const;
export const resumeQueue = { ...pauseQueue, summary: 'Resume a queue' } as const;

export const patchQueue = {
  tags: ['queues'], summary: 'Set a queue\'s rate limit and global concurrency (null clears)', params: nameParams,
  body: {
    type: 'object', additionalProperties: false, minProperties: 1,
    properties: { rateLimit, concurrency: { type: ['integer', 'null'], minimum: 1, maximum: 100_000 } },
  },
  response: { 200: queueView, ...errorResponses },
} as const;

export const cleanQueue = {
  tags: ['queues'], summary: 'Delete finished jobs of a queue',
  description: 'Removes completed/failed/cancelled jobs that ended more than `olderThanMs` ago, at most `limit` per call.',
  params: nameParams,
  body: {
    type: ['object', 'null'], additionalProperties: false,
    properties: {
      olderThanMs: { type: 'integer', minimum: 0, default: 0 },
      states: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['completed', 'failed', 'cancelled'] } },
      limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
    },
  },
  response: { 200: { type: 'object', properties: { queue: { type: 'string' }, removed: { type: 'integer' } } }, ...errorResponses },
} as const;

export const listWorkers = {
  tags: ['workers'], summary: 'Live workers',
  response: {
    200: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' }, host: { type: 'string' }, pid: { type: 'integer' },
              queues: { type: 'array', items: { type: 'string' } }, concurrency: { type: 'integer' },
              running: { type: 'array', items: { type: 'string' }, description: 'Ids of the jobs it runs' },
              runningCount: { type: 'integer' }, startedAt: isoTime, lastHeartbeatAt: isoTime,
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;
