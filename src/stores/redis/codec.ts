// Mapping between the Redis job hash (see lua/lib/keys.lua for its fields) and the core Job.
// Fields that never change after add travel as one JSON blob (`d`), so adding or reading a job
// costs one JSON.stringify / JSON.parse instead of one per field.
import type { Job, JobError, JobState, NewJob } from '../../core/job.js';
import type { Outcome, ScheduleRecord } from '../../core/store.js';

/** Fields left at their default (no timeout, description, tags, callbacks or schedule) are absent. */
interface StaticFields {
  task: string;
  payload: unknown;
  backoff: Job['backoff'];
  createdAt: number;
  timeout?: number;
  description?: string | null;
  tags?: string[];
  callbacks?: Job['callbacks'];
  scheduleId?: string | null;
}

/** Every claim carries this text through Redis: defaults stay out of it (208 → 132 bytes for a job with only a payload). */
export function staticJson(j: NewJob): string {
  const d: StaticFields = { task: j.task, payload: j.payload ?? null, backoff: j.backoff, createdAt: j.createdAt };
  if (j.timeout) d.timeout = j.timeout;
  if (j.description !== null) d.description = j.description;
  if (j.tags.length) d.tags = j.tags;
  if (j.callbacks) d.callbacks = j.callbacks;
  if (j.scheduleId !== null) d.scheduleId = j.scheduleId;
  return JSON.stringify(d);
}

/** Static fields as stored, with the defaults staticJson leaves out filled in (on the parsed object: no copy). */
function parseStatic(text: string): Required<StaticFields> {
  const d = JSON.parse(text) as StaticFields;
  d.timeout ??= 0;
  d.description ??= null;
  d.tags ??= [];
  d.callbacks ??= null;
  d.scheduleId ??= null;
  return d as Required<StaticFields>;
}

/** The add script's arguments for one job (also the outbox's stored form of a job). */
export function addArgs(j: NewJob): (string | number)[] {
  return [j.id, j.runAt, j.priority, j.maxAttempts, j.maxStalls, staticJson(j)];
}

/** The event of a job these addArgs create when added at `now`, as the add script publishes it. */
export function addEvent(args: readonly (string | number)[], now: number): string {
  const runAt = Number(args[1]);
  return runAt > now ? `["scheduled",${JSON.stringify(args[0])},${runAt}]` : `["queued",${JSON.stringify(args[0])}]`;
}

/**
 * The finish script's outcome entries for outcomes[positions]. Completions sharing token, end time
 * and result go as one entry (see lua/finish.lua): jobs of one claim finishing together come one
 * after another, so a group is a run of them. `order` holds the outcomes' positions in the order
 * the script numbers them.
 */
export function outcomeArgs(outcomes: Outcome[], positions: number[]): { args: (string | number)[]; entries: number; order: number[] } {
  const args: (string | number)[] = [];
  const groups: { token: string; at: number; result: string; ps: number[] }[] = [];
  const order: number[] = [];
  let entries = 0;
  let last: (typeof groups)[number] | null = null;
  for (const p of positions) {
    const o = outcomes[p]!;
    if (o.kind !== 'completed') continue;
    const result = JSON.stringify(o.result ?? null) ?? 'null';
    if (last && last.token === o.token && last.at === o.at && last.result === result) last.ps.push(p);
    else groups.push((last = { token: o.token, at: o.at, result, ps: [p] }));
  }
  for (const { token, at, result, ps } of groups) {
    args.push('completed', ps.length, token, at, result);
    for (const p of ps) {
      args.push(outcomes[p]!.id);
      order.push(p);
    }
    entries++;
  }
  for (const p of positions) {
    const o = outcomes[p]!;
    if (o.kind === 'completed') continue;
    const error = o.kind === 'released' ? undefined : o.error;
    args.push(o.kind, o.id, o.token, o.at, error ? JSON.stringify(error) : '', historyError(error), o.kind === 'retry' ? o.retryAt : '');
    order.push(p);
    entries++;
  }
  return { args, entries, order };
}

/**
 * What the history record of a failed attempt holds after `"error":` (the script splices it in as
 * is): the message, then its structured details when the error has them (a delivery's provider, code,
 * retryable). '' when there is no message.
 */
function historyError(error: JobError | undefined): string {
  if (!error?.message) return '';
  const message = JSON.stringify(error.message);
  return error.details ? `${message},"details":${JSON.stringify(error.details)}` : message;
}

const num = (v: string | null | undefined): number | null => (v == null || v === '' ? null : Number(v));
const json = (v: string | null | undefined): unknown => (v == null || v === '' ? null : JSON.parse(v));
const str = (v: string | null | undefined): string | null => (v == null || v === '' ? null : v);

/** The job hash fields in the order the scripts' readJob reads them (HMGET). */
export const FIELDS = ['d', 'st', 'p', 'sq', 'ra', 'at', 'ma', 'sl', 'ms', 'sa', 'ea', 'r', 'e', 'h', 'pg', 'cr', 'w', 'tk', 'lu'] as const;

/** A job from a row of FIELDS values; null when the hash does not exist. */
export function rowToJob(id: string, queue: string, f: (string | null)[]): Job | null {
  if (!f[0]) return null;
  const d = parseStatic(f[0]);
  return {
    id,
    queue,
    task: d.task,
    payload: d.payload,
    priority: Number(f[2]),
    state: f[1] as JobState,
    attempts: Number(f[5]),
    maxAttempts: Number(f[6]),
    backoff: d.backoff,
    timeout: d.timeout,
    runAt: Number(f[4]),
    createdAt: d.createdAt,
    startedAt: num(f[9]),
    endedAt: num(f[10]),
    result: json(f[11]),
    error: json(f[12]) as Job['error'],
    history: history(f),
    progress: json(f[14]),
    stalls: Number(f[7]),
    maxStalls: Number(f[8]),
    cancelRequested: f[15] === '1',
    // Completion leaves the worker field for the history; only an active job has a worker and lease.
    workerId: f[1] === 'active' ? str(f[16]) : null,
    leaseToken: str(f[17]),
    leaseUntil: num(f[18]),
    description: d.description,
    tags: d.tags,
    callbacks: d.callbacks,
    scheduleId: d.scheduleId,
  };
}

/**
 * The stored history holds the attempts that ended other than in completion. The open attempt of
 * an active job, and the completing attempt of a completed one, are read from the attempt, worker
 * and time fields: claiming and completing, the two steps every job takes, rewrite no JSON.
 */
function history(f: (string | null)[]): Job['history'] {
  const h = (f[13] ? JSON.parse(f[13]) : []) as Job['history'];
  const state = f[1];
  if (state !== 'active' && state !== 'completed') return h;
  const attempt = { attempt: Number(f[5]), workerId: f[16]!, startedAt: Number(f[9]) };
  h.push(state === 'active' ? attempt : { ...attempt, endedAt: Number(f[10]), outcome: 'completed' });
  return h;
}

/** The fields a claim reads of each job, in the order claimedJobs takes them. */
export const CLAIM_FIELDS = ['d', 'p', 'ra', 'at', 'ma', 'sl', 'ms', 'h', 'e', 'pg'] as const;

/** The job ids of claim rows (see claimJobs in lua/lib/claim-jobs.lua): each row's id follows its CLAIM_FIELDS. */
export function rowIds(rows: string[]): string[] {
  return rows.map((row) => {
    let from = 0;
    for (let k = 0; k < CLAIM_FIELDS.length; k++) from = row.indexOf('\n', from) + 1;
    return row.slice(from);
  });
}

/** The jobs of a claim script's answer (see claimJobs in lua/lib/claim-jobs.lua), now active under one lease, each with its open attempt. */
export function claimedJobs(rows: string[], queue: string, token: string, workerId: string, now: number, leaseUntil: number): Job[] {
  const jobs: Job[] = new Array(rows.length);
  const f: string[] = new Array(CLAIM_FIELDS.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let from = 0;
    for (let k = 0; k < f.length; k++) {
      const to = row.indexOf('\n', from);
      f[k] = row.slice(from, to);
      from = to + 1;
    }
    const d = parseStatic(f[0]!);
    const at = Number(f[3]);
    // Every job hash has a history from its add ('[]'), so the claim row always carries one.
    const history = (f[7] === '[]' ? [] : JSON.parse(f[7]!)) as Job['history'];
    history.push({ attempt: at, workerId, startedAt: now });
    jobs[i] = {
      id: row.slice(from), queue, task: d.task, payload: d.payload, priority: Number(f[1]), state: 'active', attempts: at,
      maxAttempts: Number(f[4]), backoff: d.backoff, timeout: d.timeout, runAt: Number(f[2]), createdAt: d.createdAt,
      startedAt: now, endedAt: null, result: null, error: json(f[8]) as Job['error'], history, progress: json(f[9]),
      stalls: Number(f[5]), maxStalls: Number(f[6]), cancelRequested: false, workerId, leaseToken: token, leaseUntil,
      description: d.description, tags: d.tags, callbacks: d.callbacks, scheduleId: d.scheduleId,
    };
  }
  return jobs;
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
