// Mapping between the Redis job hash (see scripts.ts for its fields) and the core Job.
// Fields that never change after add travel as one JSON blob (`d`), so adding or reading a job
// costs one JSON.stringify / JSON.parse instead of one per field.
import type { Job, JobState, NewJob } from '../../core/job.js';
import type { ScheduleRecord } from '../../core/store.js';

interface StaticFields {
  task: string;
  payload: unknown;
  backoff: Job['backoff'];
  timeout: number;
  createdAt: number;
  description: string | null;
  tags: string[];
  callbacks: Job['callbacks'];
  scheduleId: string | null;
}

export function staticJson(j: NewJob): string {
  const d: StaticFields = {
    task: j.task, payload: j.payload ?? null, backoff: j.backoff, timeout: j.timeout, createdAt: j.createdAt,
    description: j.description, tags: j.tags, callbacks: j.callbacks, scheduleId: j.scheduleId,
  };
  return JSON.stringify(d);
}

/** The ADD script's arguments for one job. */
export function addArgs(j: NewJob): (string | number)[] {
  return [j.id, j.runAt, j.priority, j.maxAttempts, j.maxStalls, staticJson(j)];
}

const num = (v: string | undefined): number | null => (v === undefined ? null : Number(v));
const json = (v: string | undefined): unknown => (v === undefined ? null : JSON.parse(v));

/** A job from a flat HGETALL reply [field, value, ...]. */
export function hashToJob(id: string, queue: string, flat: string[]): Job {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const d = JSON.parse(h.d!) as StaticFields;
  return {
    id,
    queue,
    task: d.task,
    payload: d.payload,
    priority: Number(h.p),
    state: h.st as JobState,
    attempts: Number(h.at),
    maxAttempts: Number(h.ma),
    backoff: d.backoff,
    timeout: d.timeout,
    runAt: Number(h.ra),
    createdAt: d.createdAt,
    startedAt: num(h.sa),
    endedAt: num(h.ea),
    result: json(h.r),
    error: json(h.e) as Job['error'],
    history: JSON.parse(h.h ?? '[]'),
    progress: json(h.pg),
    stalls: Number(h.sl),
    maxStalls: Number(h.ms),
    cancelRequested: h.cr === '1',
    workerId: h.w ?? null,
    leaseToken: h.tk ?? null,
    leaseUntil: num(h.lu),
    description: d.description,
    tags: d.tags,
    callbacks: d.callbacks,
    scheduleId: d.scheduleId,
  };
}

/** The view of a job just created by add, built without reading it back. */
export function newJobView(j: NewJob, state: JobState): Job {
  return {
    ...j, state, attempts: 0, startedAt: null, endedAt: null, result: null, error: null, history: [], progress: null,
    stalls: 0, cancelRequested: false, workerId: null, leaseToken: null, leaseUntil: null,
  };
}

export function hashToSchedule(id: string, flat: string[]): ScheduleRecord {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  return {
    id,
    spec: JSON.parse(h.spec!),
    nextRunAt: num(h.nx),
    paused: h.pa === '1',
    runCount: Number(h.rc ?? 0),
    lastRunAt: num(h.lr),
    createdAt: Number(h.ca),
    updatedAt: Number(h.ua),
    version: Number(h.v),
  };
}
