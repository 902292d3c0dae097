// One function per Lua script (lua/<name>.lua) that lays out its KEYS and ARGV, each argument
// named as the script's own locals name it, and says what the script answers. The store calls
// scripts only through these.
import { allowedList, stallDecision, type OperatorAction } from '../../core/state-rules.js';
import type { JobState } from '../../core/job.js';
import type { Raw } from './runner.js';
import type { ScriptName } from './scripts.js';
import { addEvent } from './codec.js';

/** A script to run with its KEYS and ARGV; R is what it answers. */
export interface ScriptCall<R> {
  readonly script: ScriptName;
  readonly keys: string[];
  readonly args: Raw;
  /** Type only: never set. */
  readonly answer?: R;
}

const scriptCall = <R>(script: ScriptName, keys: string[], args: Raw): ScriptCall<R> => ({ script, keys, args });

/** A queue's hash-tag base, and on a single Redis the id index (scripts keep it exactly there; absent on Cluster). */
interface QueueKeys {
  queueKeyBase: string;
  idIndexKey?: string | undefined;
}
const queueKeys = (k: QueueKeys) => (k.idIndexKey === undefined ? [k.queueKeyBase] : [k.queueKeyBase, k.idIndexKey]);

/** Where a queue script publishes its events: `channel` ('?name' on a single Redis: see publishEvents), for `queue`. */
interface Publishing {
  channel: string;
  queue: string;
}

/** The add script's answer per job: 1 created, [0, row] exists in this queue, [2, queue] exists in another. */
export type AddResult = number | [number, unknown];

/** `jobs`: each job's addArgs (codec.ts); the script gets each job's event after them. */
export function addScript(a: QueueKeys & Publishing & { now: number }, jobs: Raw[]): ScriptCall<AddResult[]> {
  const args: Raw = [a.channel, a.queue, JSON.stringify(a.queue), a.now, jobs.length];
  for (const job of jobs) {
    for (const x of job) args.push(x);
    args.push(addEvent(job, a.now));
  }
  return scriptCall('add', queueKeys(a), args);
}

/** A worker's claim (workerClaim in lua/lib/handoff.lua): what the claim and finish scripts pass it. */
export interface WorkerClaim {
  limit: number;
  leaseMs: number;
  workerId: string;
  token: string;
  /** The registration this worker's last claim left whose jobs have not reached it, or ''. */
  previous: string;
  /** Register for a hand-off until then when the queue runs dry, or '' not to. */
  idleUntil: number | string;
  /** Space-separated tokens of registrations whose jobs reached their worker by message. */
  forget: string;
}

/** Claimed job rows, next wake time or null, the registration made or null, handed rows or null. */
export type ClaimAnswer = [string[], string | null, string | null, string[] | null];

export function claimScript(a: { queueKeyBase: string } & Publishing & { now: number } & WorkerClaim): ScriptCall<ClaimAnswer> {
  return scriptCall('claim', [a.queueKeyBase], [
    a.channel, a.queue, a.now, a.limit, a.leaseMs, a.workerId, a.token, a.previous, a.idleUntil, a.forget,
  ]);
}

/**
 * Outcomes, then the worker's next claim (claimLimit 0 and no previous registration: none).
 * `outcomes`: outcomeArgs's entries (codec.ts); `outbox`: (outcome number, field, entry) triples.
 */
export function finishScript(
  a: { queueKeyBase: string } & Publishing & Omit<WorkerClaim, 'limit'> & { claimLimit: number; now: number },
  outcomes: { entries: number; args: Raw },
  outbox: Raw,
): ScriptCall<[number[], ...ClaimAnswer]> {
  const args: Raw = [
    a.channel, a.queue, outcomes.entries, outbox.length / 3, a.claimLimit, a.workerId, a.token, a.leaseMs, a.now,
    a.previous, a.idleUntil, a.forget,
  ];
  for (const x of outcomes.args) args.push(x);
  for (const x of outbox) args.push(x);
  return scriptCall('finish', [a.queueKeyBase], args);
}

/** Per lease: 0 lost, 1 held, 2 held and asked to cancel. */
export function heartbeatScript(a: { queueKeyBase: string; leaseUntil: number }, leases: { id: string; token: string }[]): ScriptCall<number[]> {
  const args: Raw = [a.leaseUntil, leases.length];
  for (const l of leases) args.push(l.id, l.token);
  return scriptCall('heartbeat', [a.queueKeyBase], args);
}

export function progressScript(a: { queueKeyBase: string } & Publishing & { now: number; id: string; token: string; progressJson: string }): ScriptCall<number> {
  return scriptCall('progress', [a.queueKeyBase], [a.channel, a.queue, a.now, a.id, a.token, a.progressJson]);
}

/**
 * Stand-ins for a job's stall count and limit in the branch texts below: numbers no error text
 * holds otherwise, distinct, neither inside the other, the stall count above the limit.
 */
const STALLS_MARK = 987_654_321_012_345;
const LIMIT_MARK = 123_456_789_098_765;

/** One branch of stallDecision as recover.lua takes it: state, '1' if the attempt counts, error JSON, message JSON ('' for none). */
function stallBranch(job: { stalls: number; maxStalls: number; cancelRequested: boolean }): string[] {
  const decision = stallDecision(job);
  const error = decision.error;
  return [decision.state, decision.countsAttempt ? '1' : '0', error ? JSON.stringify(error) : '', error ? JSON.stringify(error.message) : ''];
}

/**
 * Stall recovery's decisions, from core: asked to cancel, past the stall limit (the stall about to
 * be counted is STALLS_MARK, the limit LIMIT_MARK), and any other; then the two marks.
 */
const STALL_BRANCHES: Raw = [
  ...stallBranch({ stalls: 0, maxStalls: 1, cancelRequested: true }),
  ...stallBranch({ stalls: STALLS_MARK - 1, maxStalls: LIMIT_MARK, cancelRequested: false }),
  ...stallBranch({ stalls: 0, maxStalls: 1, cancelRequested: false }),
  String(STALLS_MARK), String(LIMIT_MARK),
];

/** Requeued, failed and cancelled ids. The three branches of stall recovery come from core's stallDecision. */
export function recoverScript(a: { queueKeyBase: string } & Publishing & { now: number; limit: number }): ScriptCall<[string[], string[], string[]]> {
  return scriptCall('recover', [a.queueKeyBase], [a.channel, a.queue, a.now, a.limit, ...STALL_BRANCHES]);
}

/** How many jobs moved. */
export function promoteDueScript(a: { queueKeyBase: string } & Publishing & { now: number; limit: number }): ScriptCall<number> {
  return scriptCall('promote-due', [a.queueKeyBase], [a.channel, a.queue, a.now, a.limit]);
}

export type JobActionAnswer = ['ok', string[]] | ['missing'] | ['conflict', string] | ['removed'];

/** `argument`: reschedule's runAt; retry's '1' to reset attempts, '0' not to. The allowed states come from the core table. */
export function jobOpScript(
  a: QueueKeys & Publishing & { now: number; action: OperatorAction; id: string; argument: string | number },
): ScriptCall<JobActionAnswer> {
  return scriptCall('job-op', queueKeys(a), [a.channel, a.queue, a.now, a.action, a.id, a.argument, allowedList(a.action)]);
}

/** Removed ids. */
export function cleanScript(a: QueueKeys & { endedBefore: number; limit: number; states: JobState[] }): ScriptCall<string[]> {
  return scriptCall('clean', queueKeys(a), [a.endedBefore, a.limit, ...a.states]);
}

/** `fields`: meta field/value pairs, '' deleting the field; `eventType`: '' for none. */
export function queueSetScript(a: { queueKeyBase: string } & Publishing & { now: number; eventType: string; fields: Raw }): ScriptCall<number> {
  return scriptCall('queue-set', [a.queueKeyBase], [a.channel, a.queue, a.now, a.eventType, ...a.fields]);
}

/** Meta as flat field/value pairs, counts in JOB_STATES order, the oldest queued job's static JSON or null. */
export function queueInfoScript(a: { queueKeyBase: string }): ScriptCall<[string[], number[], string | null]> {
  return scriptCall('queue-info', [a.queueKeyBase], []);
}

/** Flat id, score pairs. */
export function statePageScript(a: { queueKeyBase: string; state: JobState; offset: number; count: number; reverse: boolean }): ScriptCall<string[]> {
  return scriptCall('state-page', [a.queueKeyBase], [a.state, a.offset, a.count, a.reverse ? '1' : '0']);
}

export function logScript(a: { queueKeyBase: string; id: string; at: number; message: string }): ScriptCall<number> {
  return scriptCall('log', [a.queueKeyBase], [a.id, a.at, a.message]);
}

/** runCount and lastRunAt undefined: kept as they are. The schedule's hash as flat field/value pairs. */
export function scheduleUpsertScript(a: {
  globalKeyBase: string; id: string; specJson: string; nextRunAt: number | null; paused: boolean; runCount: number | undefined;
  lastRunAt: number | null | undefined; now: number; expectedVersion: number | undefined;
}): ScriptCall<string[]> {
  return scriptCall('schedule-upsert', [a.globalKeyBase], [
    a.id, a.specJson, a.nextRunAt ?? '', a.paused ? '1' : '0', a.runCount ?? '', a.lastRunAt === undefined ? '' : a.lastRunAt === null ? '-' : a.lastRunAt,
    a.now, a.expectedVersion ?? '',
  ]);
}

export function scheduleRemoveScript(a: { globalKeyBase: string; id: string }): ScriptCall<number> {
  return scriptCall('schedule-remove', [a.globalKeyBase], [a.id]);
}

/** `outboxField` '' when the run makes no jobs. 1 advanced, 0 the version moved on. */
export function scheduleAdvanceScript(a: {
  globalKeyBase: string; id: string; expectedVersion: number; nextRunAt: number | null; runCount: number; lastRunAt: number | null;
  now: number; outboxField: string; outboxEntry: string;
}): ScriptCall<number> {
  return scriptCall('schedule-advance', [a.globalKeyBase], [
    a.id, a.expectedVersion, a.nextRunAt ?? '', a.runCount, a.lastRunAt ?? '', a.now, a.outboxField, a.outboxEntry,
  ]);
}

export function workerBeatScript(a: { globalKeyBase: string; id: string; infoJson: string; expiresAt: number }): ScriptCall<number> {
  return scriptCall('worker-beat', [a.globalKeyBase], [a.id, a.infoJson, a.expiresAt]);
}

/** Live workers' info JSON (null where one expired meanwhile). */
export function workersLiveScript(a: { globalKeyBase: string; now: number }): ScriptCall<(string | null)[]> {
  return scriptCall('workers-live', [a.globalKeyBase], [a.now]);
}

export function workerGoneScript(a: { globalKeyBase: string; id: string }): ScriptCall<number> {
  return scriptCall('worker-gone', [a.globalKeyBase], [a.id]);
}

/** 1 this token holds the lock now, 0 another does. */
export function sweepLockScript(a: { globalKeyBase: string; token: string; ttlMs: number }): ScriptCall<number> {
  return scriptCall('sweep-lock', [a.globalKeyBase], [a.token, a.ttlMs]);
}

export function sweepUnlockScript(a: { globalKeyBase: string; token: string }): ScriptCall<number> {
  return scriptCall('sweep-unlock', [a.globalKeyBase], [a.token]);
}

/** Released ids. `kept`: ids the client did receive. */
export function releaseClaimScript(a: { queueKeyBase: string } & Publishing & {
  now: number; token: string; leaseUntilMin: number; leaseUntilMax: number; keepRegistration: string; claimFailed: boolean; kept: string[];
}): ScriptCall<string[]> {
  return scriptCall('release-claim', [a.queueKeyBase], [
    a.channel, a.queue, a.now, a.token, a.leaseUntilMin, a.leaseUntilMax, a.keepRegistration, a.claimFailed ? '1' : '0', ...a.kept,
  ]);
}
