// One function per Lua script (lua/<name>.lua) that lays out its KEYS and ARGV, each argument
// named as the script's own locals name it, and says what the script answers. The store calls
// scripts only through these.
import { allowedList, stallDecision, type OperatorAction } from '../../core/state-rules.js';
import type { JobState } from '../../core/job.js';
import type { Raw } from './runner.js';
import type { ScriptName } from './scripts.js';
import { DEFAULTS } from '../../core/job.js';
import { MAX_JOB_LOG_LINES } from '../../core/store.js';
import { ABSENT_LIMITS, addMessage, plainId, RUN_AT_CREATED } from './codec.js';

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
const queueKeys = (keys: QueueKeys) => (keys.idIndexKey === undefined ? [keys.queueKeyBase] : [keys.queueKeyBase, keys.idIndexKey]);

/** Where a queue script publishes its events: `channel` ('?name' on a single Redis: see publishEvents), for `queue`. */
interface Publishing {
  channel: string;
  queue: string;
}

/**
 * The add script's answer: the number of jobs when every one was created, else per job 1 created,
 * [0, row] exists in this queue, [2, queue] exists in another. A lone job the add handed at once to
 * an idle worker's registration (addLone in lua/lib/new-jobs.lua): that registration's token.
 */
export type AddAnswer = number | string | AddResult[];
export type AddResult = number | [number, unknown];

// The columns of an addArgs row (codec.ts): id, runAt, priority, maxAttempts, maxStalls, static JSON.
// The four from runAt to maxStalls are the ones a batch may share.
const ADD_ID = 0;
const ADD_RUN_AT = 1;
const ADD_PRIORITY = 2;
const ADD_MAX_ATTEMPTS = 3;
const ADD_MAX_STALLS = 4;
const ADD_STATIC_JSON = 5;

/**
 * `jobs`: each job's addArgs (codec.ts), at least one (every caller sends a non-empty group), their
 * number told by ARGV's length; the work message the add publishes if it creates them all goes
 * before them. Each of runAt, priority, maxAttempts and maxStalls goes once where every job shares
 * it, else '' (runAt: 'due' if every job is due) and each job sends its own, between its id and its
 * static JSON (see lua/add.lua). `lean`: the prefix is marked lean (the 'add-lean' script); then a
 * due job whose runAt is its `createdAt` (given per job where known) sends RUN_AT_CREATED, and its
 * hash leaves ra out. `madeIds`: every id is one Fusion made (AddRows.madeIds, codec.ts).
 */
export function addScript(
  input: QueueKeys & Publishing & { now: number; lean: boolean }, jobs: Raw[], createdAt?: readonly number[], madeIds = false,
): ScriptCall<AddAnswer> {
  const { now } = input;
  if (input.lean && jobs.length === 1 && createdAt && isPlain(jobs[0]!, createdAt[0]!, now, madeIds)) return plainAddScript(input, jobs[0]!);
  const n = jobs.length;
  let runAts: Raw | undefined;
  if (input.lean && createdAt) {
    runAts = new Array(n);
    for (let k = 0; k < n; k++) {
      const runAt = jobs[k]![ADD_RUN_AT]!;
      runAts[k] = runAt === createdAt[k] && createdAt[k]! <= now ? RUN_AT_CREATED : runAt;
    }
  }
  // One pass over the jobs (no closure per job and column: a bulk add of 1,000 jobs spent 0.6 µs
  // per job here): which of the four columns every job shares, and whether all are due.
  const first = jobs[0]!;
  const firstRunAt = runAts ? runAts[0]! : first[ADD_RUN_AT]!;
  let ownRunAt = false;
  let ownPriority = false;
  let ownMaxAttempts = false;
  let ownMaxStalls = false;
  let allDue = true;
  for (let k = 0; k < n; k++) {
    const job = jobs[k]!;
    if ((runAts ? runAts[k] : job[ADD_RUN_AT]) !== firstRunAt) ownRunAt = true;
    if (job[ADD_PRIORITY] !== first[ADD_PRIORITY]) ownPriority = true;
    if (job[ADD_MAX_ATTEMPTS] !== first[ADD_MAX_ATTEMPTS]) ownMaxAttempts = true;
    if (job[ADD_MAX_STALLS] !== first[ADD_MAX_STALLS]) ownMaxStalls = true;
    if (Number(job[ADD_RUN_AT]) > now) allDue = false;
  }
  const message = addMessage(input.queue, now, jobs, madeIds);
  const args: Raw = [
    input.channel, input.queue, now, message,
    ownRunAt ? (allDue ? 'due' : '') : firstRunAt,
    ownPriority ? '' : first[ADD_PRIORITY]!,
    ownMaxAttempts ? '' : first[ADD_MAX_ATTEMPTS]!,
    ownMaxStalls ? '' : first[ADD_MAX_STALLS]!,
  ];
  for (let k = 0; k < n; k++) {
    const job = jobs[k]!;
    args.push(job[ADD_ID]!);
    if (ownRunAt) args.push(runAts ? runAts[k]! : job[ADD_RUN_AT]!);
    if (ownPriority) args.push(job[ADD_PRIORITY]!);
    if (ownMaxAttempts) args.push(job[ADD_MAX_ATTEMPTS]!);
    if (ownMaxStalls) args.push(job[ADD_MAX_STALLS]!);
    args.push(job[ADD_STATIC_JSON]!);
  }
  return scriptCall(input.lean ? 'add-lean' : 'add', queueKeys(input), args);
}

/**
 * A plain add (lua/add.lua): one job on a lean prefix, due, its runAt its createdAt, its limits at
 * their default and an id JSON takes as it is, the usual single enqueue. Only what the script cannot
 * know goes: the queue's base (its one key), the channel, now, the id, the static JSON and the
 * priority unless it is the default; the script finds the queue name, on a single Redis the id index
 * (other scripts' KEYS[2]), and builds the message from KEYS[1] and the channel. Each argument left
 * out spares Redis ~1.5k instructions (callgrind).
 */
function isPlain(job: Raw, createdAt: number, now: number, madeIds: boolean): boolean {
  return job[ADD_RUN_AT] === createdAt && createdAt <= now && job[ADD_MAX_ATTEMPTS] === ABSENT_LIMITS.maxAttempts
    && job[ADD_MAX_STALLS] === ABSENT_LIMITS.maxStalls && (madeIds || plainId(job[ADD_ID] as string));
}

function plainAddScript(input: QueueKeys & Publishing & { now: number }, job: Raw): ScriptCall<AddAnswer> {
  const args: Raw = [input.channel, input.now, job[ADD_ID]!, job[ADD_STATIC_JSON]!];
  if (job[ADD_PRIORITY] !== DEFAULTS.priority) args.push(job[ADD_PRIORITY]!);
  return scriptCall('add-lean', [input.queueKeyBase], args);
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

export function claimScript(input: { queueKeyBase: string } & Publishing & { now: number } & WorkerClaim): ScriptCall<ClaimAnswer> {
  return scriptCall('claim', [input.queueKeyBase], [
    input.channel, input.queue, input.now, input.limit, input.leaseMs, input.workerId, input.token, input.previous, input.idleUntil, input.forget,
  ]);
}

/**
 * The finish script's answer: first the number of outcomes where every one applied as sent, else
 * per outcome 1, 0 or 2 (finish.lua), then the claim's. An idle worker's usual finish (every outcome
 * applied, nothing claimed, no wake time, nothing handed, a registration made) answers the
 * registration alone: finishAnswer.
 */
export type FinishScriptAnswer = [number[] | number, ...ClaimAnswer];

/** A finish answer as its full form (a registration alone: see FinishScriptAnswer). */
export function finishAnswer(answer: FinishScriptAnswer | string): FinishScriptAnswer {
  // The count is of outcomes applied: any number reads as "every one".
  return typeof answer === 'string' ? [0, [], null, answer, null] : answer;
}

/**
 * Outcomes, then the worker's next claim (claimLimit 0 and no previous registration: none).
 * `outcomes`: outcomeArgs's entries (codec.ts); `outbox`: (outcome number, field, entry) triples.
 * `atMaxmemory`: the variant Redis runs at maxmemory (scripts.ts), for outcomes without a claim.
 */
export function finishScript(
  input: { queueKeyBase: string } & Publishing & Omit<WorkerClaim, 'limit'> & { claimLimit: number; now: number },
  outcomes: { entries: number; args: Raw },
  outbox: Raw,
  atMaxmemory = false,
): ScriptCall<FinishScriptAnswer | string> {
  const args: Raw = [
    input.channel, input.queue, outcomes.entries, outbox.length / 3, input.claimLimit, input.workerId, input.token, input.leaseMs, input.now,
    input.previous, input.idleUntil, input.forget,
  ];
  for (const value of outcomes.args) args.push(value);
  for (const value of outbox) args.push(value);
  return scriptCall(atMaxmemory ? 'finish-at-maxmemory' : 'finish', [input.queueKeyBase], args);
}

/** Per lease: 0 lost, 1 held, 2 held and asked to cancel. */
export function heartbeatScript(input: { queueKeyBase: string; leaseUntil: number }, leases: { id: string; token: string }[]): ScriptCall<number[]> {
  const args: Raw = [input.leaseUntil, leases.length];
  for (const lease of leases) args.push(lease.id, lease.token);
  return scriptCall('heartbeat', [input.queueKeyBase], args);
}

export function progressScript(input: { queueKeyBase: string } & Publishing & { now: number; id: string; token: string; progressJson: string }): ScriptCall<number> {
  return scriptCall('progress', [input.queueKeyBase], [input.channel, input.queue, input.now, input.id, input.token, input.progressJson]);
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
export function recoverScript(input: { queueKeyBase: string } & Publishing & { now: number; limit: number }): ScriptCall<[string[], string[], string[]]> {
  return scriptCall('recover', [input.queueKeyBase], [input.channel, input.queue, input.now, input.limit, ...STALL_BRANCHES]);
}

/** How many jobs moved. */
export function promoteDueScript(input: { queueKeyBase: string } & Publishing & { now: number; limit: number }): ScriptCall<number> {
  return scriptCall('promote-due', [input.queueKeyBase], [input.channel, input.queue, input.now, input.limit]);
}

export type JobActionAnswer = ['ok', string[]] | ['missing'] | ['conflict', string] | ['removed'];

/** `argument`: reschedule's runAt; retry's '1' to reset attempts, '0' not to. The allowed states come from the core table. */
export function jobOpScript(
  input: QueueKeys & Publishing & { now: number; action: OperatorAction; id: string; argument: string | number },
): ScriptCall<JobActionAnswer> {
  return scriptCall('job-op', queueKeys(input), [input.channel, input.queue, input.now, input.action, input.id, input.argument, allowedList(input.action)]);
}

/** Removed ids. */
export function cleanScript(input: QueueKeys & { endedBefore: number; limit: number; states: JobState[] }): ScriptCall<string[]> {
  return scriptCall('clean', queueKeys(input), [input.endedBefore, input.limit, ...input.states]);
}

/** `fields`: meta field/value pairs, '' deleting the field; `eventType`: '' for none. */
export function queueSetScript(input: { queueKeyBase: string } & Publishing & { now: number; eventType: string; fields: Raw }): ScriptCall<number> {
  return scriptCall('queue-set', [input.queueKeyBase], [input.channel, input.queue, input.now, input.eventType, ...input.fields]);
}

/** Meta as flat field/value pairs, counts in JOB_STATES order, the oldest queued job's static JSON or null. */
export function queueInfoScript(input: { queueKeyBase: string }): ScriptCall<[string[], number[], string | null]> {
  return scriptCall('queue-info', [input.queueKeyBase], []);
}

/** Flat id, score pairs. */
/** `after`: the (score, member) a page starts after (at, when inclusive); none for the first page. */
export function statePageScript(input: {
  queueKeyBase: string; state: JobState; count: number; reverse: boolean; after: { score: string; member: string; inclusive: boolean } | null;
}): ScriptCall<string[]> {
  const a = input.after;
  return scriptCall('state-page', [input.queueKeyBase], [input.state, input.count, input.reverse ? '1' : '0', a ? a.score : '', a ? a.member : '', a?.inclusive ? '1' : '0']);
}

export function logScript(input: { queueKeyBase: string; id: string; at: number; message: string }): ScriptCall<number> {
  return scriptCall('log', [input.queueKeyBase], [input.id, input.at, input.message, MAX_JOB_LOG_LINES]);
}

/**
 * runCount and lastRunAt undefined: kept as they are. expectedCreatedAt goes only where given (the
 * script compares it only then). The schedule's hash as flat field/value pairs.
 */
export function scheduleUpsertScript(input: {
  globalKeyBase: string; id: string; specJson: string; nextRunAt: number | null; paused: boolean; runCount: number | undefined;
  lastRunAt: number | null | undefined; now: number; expectedVersion: number | undefined; expectedCreatedAt: number | undefined;
}): ScriptCall<string[]> {
  const args: Raw = [
    input.id, input.specJson, input.nextRunAt ?? '', input.paused ? '1' : '0', input.runCount ?? '', input.lastRunAt === undefined ? '' : input.lastRunAt === null ? '-' : input.lastRunAt,
    input.now, input.expectedVersion ?? '',
  ];
  if (input.expectedCreatedAt !== undefined) args.push(input.expectedCreatedAt);
  return scriptCall('schedule-upsert', [input.globalKeyBase], args);
}

export function scheduleRemoveScript(input: { globalKeyBase: string; id: string; expected?: { version: number; createdAt: number } }): ScriptCall<number> {
  const e = input.expected;
  return scriptCall('schedule-remove', [input.globalKeyBase], e ? [input.id, e.version, e.createdAt] : [input.id]);
}

/**
 * `outboxEntry` '' when the run makes no jobs. Advanced: the outbox field the script wrote the entry
 * under ('' for none), named by the script from the schedule's id, version and creation time; 0 the
 * version moved on or the schedule was created again (its createdAt is not `expectedCreatedAt`).
 */
export function scheduleAdvanceScript(input: {
  globalKeyBase: string; id: string; expectedVersion: number; expectedCreatedAt: number | undefined; nextRunAt: number | null; runCount: number;
  lastRunAt: number | null; now: number; outboxEntry: string;
}): ScriptCall<string | 0> {
  return scriptCall('schedule-advance', [input.globalKeyBase], [
    input.id, input.expectedVersion, input.expectedCreatedAt ?? '', input.nextRunAt ?? '', input.runCount, input.lastRunAt ?? '', input.now, input.outboxEntry,
  ]);
}

/** A worker's beat; answers the prefix's job hash format: 'lean' or '' (jobFormat in lua/lib/keys.lua). */
export function workerBeatScript(input: { globalKeyBase: string; id: string; infoJson: string; expiresAt: number }): ScriptCall<string> {
  return scriptCall('worker-beat', [input.globalKeyBase], [input.id, input.infoJson, input.expiresAt]);
}

/** 'lean' or '', marking an empty prefix lean (jobFormat in lua/lib/keys.lua). */
export function jobFormatScript(input: { globalKeyBase: string }): ScriptCall<string> {
  return scriptCall('job-format', [input.globalKeyBase], []);
}

/** 'lean' (marked now), 'already' or 'refused', and the live workers that do not read lean hashes. */
export function formatUpgradeScript(input: { globalKeyBase: string; now: number; force: boolean }): ScriptCall<['lean' | 'already' | 'refused', string[]]> {
  return scriptCall('format-upgrade', [input.globalKeyBase], [input.now, input.force ? '1' : '0']);
}

/** Live workers' info JSON (null where one expired meanwhile). */
export function workersLiveScript(input: { globalKeyBase: string; now: number }): ScriptCall<(string | null)[]> {
  return scriptCall('workers-live', [input.globalKeyBase], [input.now]);
}

export function workerGoneScript(input: { globalKeyBase: string; id: string }): ScriptCall<number> {
  return scriptCall('worker-gone', [input.globalKeyBase], [input.id]);
}

/** 1 this token holds the lock now, 0 another does. */
export function sweepLockScript(input: { globalKeyBase: string; token: string; ttlMs: number }): ScriptCall<number> {
  return scriptCall('sweep-lock', [input.globalKeyBase], [input.token, input.ttlMs]);
}

export function sweepUnlockScript(input: { globalKeyBase: string; token: string }): ScriptCall<number> {
  return scriptCall('sweep-unlock', [input.globalKeyBase], [input.token]);
}

/** Released ids. `kept`: ids the client did receive. */
export function releaseClaimScript(input: { queueKeyBase: string } & Publishing & {
  now: number; token: string; leaseUntilMin: number; leaseUntilMax: number; keepRegistration: string; kept: string[];
}): ScriptCall<string[]> {
  return scriptCall('release-claim', [input.queueKeyBase], [
    input.channel, input.queue, input.now, input.token, input.leaseUntilMin, input.leaseUntilMax, input.keepRegistration, ...input.kept,
  ]);
}
