// Mapping between the Redis job hash (see lua/lib/keys.lua for its fields) and the core Job.
// Fields that never change after add travel as one JSON blob (`d`), so adding or reading a job
// costs one JSON.stringify / JSON.parse instead of one per field.
import { DEFAULT_BACKOFF_JSON, DEFAULTS, payloadJsonOf, type Job, type JobError, type JobState, type NewJob } from '../../core/job.js';
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
export function staticJson(job: NewJob): string {
  const fixed: StaticFields = { task: job.task, payload: job.payload ?? null, backoff: job.backoff, createdAt: job.createdAt };
  if (job.timeout) fixed.timeout = job.timeout;
  if (job.description !== null) fixed.description = job.description;
  if (job.tags.length) fixed.tags = job.tags;
  if (job.callbacks) fixed.callbacks = job.callbacks;
  if (job.scheduleId !== null) fixed.scheduleId = job.scheduleId;
  return JSON.stringify(fixed);
}

/** Static fields as stored, with the defaults staticJson leaves out filled in (on the parsed object: no copy). */
function parseStatic(text: string): Required<StaticFields> {
  const fixed = JSON.parse(text) as StaticFields;
  fixed.timeout ??= 0;
  fixed.description ??= null;
  fixed.tags ??= [];
  fixed.callbacks ??= null;
  fixed.scheduleId ??= null;
  return fixed as Required<StaticFields>;
}

/** The parts of a static JSON text that the jobs of one add share, parsed once (StaticReader). */
interface SharedStatic {
  /** `{"task":<task>,"payload":` */
  head: string;
  task: string;
  /** `,"backoff":<policy>,"createdAt":<ms>}` */
  tail: string;
  backoff: Job['backoff'];
  createdAt: number;
}

const HEAD_OPEN = '{"task":"';
const HEAD_CLOSE = '","payload":';
const TAIL_OPEN = ',"backoff":';

/**
 * parseStatic for the rows of claims: a job with only the four fields every job has, as the
 * StaticJsonWriter writes it, is `{"task":T,"payload":P,"backoff":B,"createdAt":C}`, and the jobs of
 * one add (which a claim mostly takes together) share all of it but P. The shared head and tail
 * are kept from the last text seen, so only P is parsed: JSON.parse of the whole text was 1 µs of
 * the worker's ~8 µs of client CPU per claimed job (c=50 on Redis, profiled). Why the payload's slice
 * is exact: in JSON text `,"` cannot occur inside a string (its quote would be escaped), so a text
 * that starts with a head whose task holds no escape, and ends with a tail whose policy holds no
 * nested value, has these as its top-level members; and JSON.parse takes the slice between them only
 * if it is one whole value (a slice holding another member, `1,"x":2`, throws and takes the full
 * parse). Each job still gets its own policy object: a copy of the shared one's primitive fields.
 */
export class StaticReader {
  private shared: SharedStatic | null = null;

  /** Whether the head and tail kept now are this text's: it is read by parsing its payload alone. */
  shares(text: string): boolean {
    const shared = this.shared;
    return shared !== null && text.startsWith(shared.head) && text.endsWith(shared.tail) && text.length > shared.head.length + shared.tail.length;
  }

  /**
   * `learn`: keep this text's head and tail if they are not those kept now. A claim's rows learn
   * only when there are several: a lone job (most of all one handed to an idle worker) is often of
   * another task than the batches around it, and learning from it made the next batch's first row
   * parse in full and learn back. Until it keeps any, it learns from a lone row too: a worker that
   * claims one job at a time (concurrency 1 without prefetch) reads bulk-added jobs fast as well.
   */
  read(text: string, learn = true): Required<StaticFields> {
    if (this.shares(text)) {
      const shared = this.shared!;
      let payload: unknown;
      try {
        payload = JSON.parse(text.slice(shared.head.length, text.length - shared.tail.length));
      } catch {
        return parseStatic(text);
      }
      return {
        task: shared.task, payload, backoff: { ...shared.backoff }, createdAt: shared.createdAt,
        timeout: 0, description: null, tags: [], callbacks: null, scheduleId: null,
      };
    }
    const fixed = parseStatic(text);
    if (learn || this.shared === null) this.learn(text, fixed);
    return fixed;
  }

  /** Keep the head and tail of a text of the four fields alone, if it is one the fast path can take. */
  private learn(text: string, fixed: Required<StaticFields>): void {
    if (!text.startsWith(HEAD_OPEN)) return;
    const taskEnd = text.indexOf('"', HEAD_OPEN.length);
    if (taskEnd < 0 || !text.startsWith(HEAD_CLOSE, taskEnd)) return;
    const head = text.slice(0, taskEnd + HEAD_CLOSE.length);
    const tailAt = text.lastIndexOf(TAIL_OPEN);
    if (tailAt <= head.length) return;
    const tail = text.slice(tailAt);
    const task = text.slice(HEAD_OPEN.length, taskEnd);
    if (task.includes('\\') || task !== fixed.task) return;
    if (!/^,"backoff":\{[^{}\[\]]*\},"createdAt":-?\d+\}$/.test(tail)) return;
    let parsed: { backoff?: unknown; createdAt?: unknown };
    try {
      parsed = JSON.parse('{' + tail.slice(1)) as typeof parsed;
    } catch {
      return;
    }
    if (Object.keys(parsed).length !== 2 || parsed.createdAt !== fixed.createdAt) return;
    this.shared = { head, task, tail, backoff: parsed.backoff as Job['backoff'], createdAt: fixed.createdAt };
  }
}

/**
 * What an absent ma or ms field of a job hash means to this version's readers (they equal core's
 * DEFAULTS). An add leaves fields at their default out only on a prefix marked lean (jobFormat in
 * lua/lib/keys.lua): versions before this one fail on a job hash with fields left out (their claim
 * does arithmetic on the attempts it reads), and may share a prefix until an operator marks it
 * (docs/stores.md).
 */
export const ABSENT_LIMITS = { maxAttempts: 10, maxStalls: 3 } as const;

/** A lean add's runAt for a job whose runAt is its createdAt and due: its hash leaves ra out (lua/add.lua). */
export const RUN_AT_CREATED = 'c';

/** What a worker's info JSON carries when its process reads lean job hashes (the upgrade's check: format-upgrade.lua). */
export const LEAN_READER = { readsLeanJobs: true } as const;

/** The add script's arguments for one job (also the outbox's stored form of a job). */
export function addArgs(job: NewJob): (string | number)[] {
  return [job.id, job.runAt, job.priority, job.maxAttempts, job.maxStalls, staticJson(job)];
}

/** addArgs rows of an add's jobs, and what the add may take for granted of them (see addScript). */
export interface AddRows {
  rows: (string | number)[][];
  /** Every id is one Fusion made (newId, so madeId must be its output): plain, so JSON takes it as it is, untested. */
  madeIds: boolean;
}

/**
 * addArgs of each job of one add, their static JSON written by a StaticJsonWriter: a bulk enqueue's
 * jobs share their task and backoff policy.
 */
export function addArgsOf(jobs: readonly NewJob[]): AddRows {
  const writer = new StaticJsonWriter();
  const rows: (string | number)[][] = new Array(jobs.length);
  let madeIds = true;
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    if (job.madeId === undefined || job.id !== job.madeId) madeIds = false;
    rows[i] = [job.id, job.runAt, job.priority, job.maxAttempts, job.maxStalls, writer.write(job)];
  }
  return { rows, madeIds };
}

/** A value whose own toJSON JSON.stringify calls with its key, which differs alone and inside an object. */
const hasToJson = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function';

/**
 * The text pieces StaticJsonWriter joins, kept from one add to the next: each is keyed by values
 * that cannot change (a task name, a policy's text, a time), so a lone add, whose writer is new,
 * still finds the head and tail the adds before it made (the same task within the same millisecond).
 */
const pieces = {
  task: undefined as string | undefined,
  taskJson: undefined as string | undefined,
  /** The text before the payload's (of `task`), and after it, for `tailFor` and `tailAt`. */
  head: '',
  tailFor: undefined as string | undefined,
  tailAt: undefined as number | undefined,
  tail: '',
};

/**
 * staticJson's text, byte for byte, for the jobs of one add. A job with only the four fields every
 * job has (the usual one) has its text joined from parts: the task name's JSON and the backoff
 * policy's, which the jobs of a batch share, written once, and the payload's, instead of an object
 * built and stringified whole (bulk enqueue on Redis: 0.7 → 0.2-0.3 µs per job, most of it the
 * policy's four fields written again for every job). Any other job goes through staticJson. A
 * policy's text is kept by the object's identity, so a writer lives for one add (no caller code
 * runs within it to change the object); the default policy's is written once per process.
 */
export class StaticJsonWriter {
  private backoff: unknown;
  private backoffJson: string | undefined;

  write(job: NewJob): string {
    const payload = job.payload ?? null;
    if (job.timeout || job.description !== null || job.tags.length || job.callbacks || job.scheduleId !== null
      || !Number.isFinite(job.createdAt) || hasToJson(payload)) return staticJson(job);
    const payloadJson = payloadJsonOf(job) as string | undefined;
    if (job.backoff !== this.backoff) {
      this.backoff = job.backoff;
      this.backoffJson = job.backoff === DEFAULTS.backoff ? DEFAULT_BACKOFF_JSON
        : hasToJson(job.backoff) ? undefined : (JSON.stringify(job.backoff) as string | undefined);
    }
    // The two stringify calls above may run the caller's code (a toJSON or a getter inside), which may
    // add a job of its own and so rewrite `pieces`: they are read and written only from here on.
    const p = pieces;
    if (job.task !== p.task) {
      p.task = job.task;
      p.taskJson = JSON.stringify(job.task) as string | undefined;
      p.head = '{"task":' + p.taskJson + ',"payload":';
    }
    // What JSON leaves out inside an object (a function, a symbol, undefined) is left out as staticJson does.
    if (payloadJson === undefined || this.backoffJson === undefined || p.taskJson === undefined) return staticJson(job);
    // Joined from three pieces, two of them shared: fewer string pieces per job for the collector to
    // copy while the add waits for Redis than joining the seven parts for each job.
    if (p.tailFor !== this.backoffJson || p.tailAt !== job.createdAt) {
      p.tailFor = this.backoffJson;
      p.tailAt = job.createdAt;
      p.tail = ',"backoff":' + this.backoffJson + ',"createdAt":' + job.createdAt + '}';
    }
    return p.head + payloadJson + p.tail;
  }
}

/** A stored ma or ms field ('' or absent: the ABSENT_LIMITS value). */
const limit = (v: string | null | undefined, absent: number): number => (v == null || v === '' ? absent : Number(v));

/**
 * The work message an add of these addArgs rows publishes when it creates them all (see
 * lua/add.lua): each job's event, queued or scheduled by the script's runAt > now test ('' queued).
 */
export function addMessage(queue: string, now: number, rows: readonly (readonly (string | number)[])[], madeIds = false): string {
  const head = '{"q":' + JSON.stringify(queue) + ',"a":' + now + ',"e":[';
  if (madeIds && allDue(rows, now)) return head + queuedEvents(rows) + ']}';
  let text = head;
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]!;
    const id = row[0] as string;
    const runAt = Number(row[1]);
    // Ids the id generator makes (and most given ones) need no escaping: JSON.stringify only when
    // they might. `madeIds`: every id is one Fusion made, plain without the test (which copies the
    // id, not a flat string: half the cost of a 1,000-job message).
    const idJson = madeIds || plainId(id) ? '"' + id + '"' : JSON.stringify(id);
    text += (k === 0 ? '' : ',') + (runAt > now ? '["scheduled",' + idJson + ',' + runAt + ']' : '["queued",' + idJson + ']');
  }
  return text + ']}';
}

const allDue = (rows: readonly (readonly (string | number)[])[], now: number): boolean => {
  for (let k = 0; k < rows.length; k++) if (Number(rows[k]![1]) > now) return false;
  return true;
};

/**
 * The events of due jobs whose ids JSON takes as they are (a bulk enqueue's), joined at once: one
 * flat string, where adding each job's event to the text made five string pieces per job for the
 * collector, then a copy of them all when the command was written.
 */
function queuedEvents(rows: readonly (readonly (string | number)[])[]): string {
  const ids: string[] = new Array(rows.length);
  for (let k = 0; k < rows.length; k++) ids[k] = rows[k]![0] as string;
  return '["queued","' + ids.join('"],["queued","') + '"]';
}

const PLAIN_ID = /^[\w.:-]*$/;

/** Whether an id goes into a JSON string as it is (ids the id generator makes do). */
export const plainId = (id: string): boolean => PLAIN_ID.test(id);

/**
 * The finish script's outcome entries for outcomes[positions]. Completions sharing token, end time,
 * result and kind go as one entry (see lua/finish.lua): jobs of one claim finishing together come
 * one after another, so a group is a run of them. A completion `clean` says is known to have no
 * error stored (its claim under the same token read none) goes as 'clean', which leaves the error
 * field alone; any other as 'completed', which clears it. `order` holds the outcomes' positions in
 * the order the script numbers them.
 */
export function outcomeArgs(
  outcomes: Outcome[], positions: number[], clean: (outcome: Outcome) => boolean = () => false,
): { args: (string | number)[]; entries: number; order: number[] } {
  const args: (string | number)[] = [];
  const groups: { kind: 'clean' | 'completed'; token: string; at: number; result: string; members: number[] }[] = [];
  const order: number[] = [];
  let entries = 0;
  let last: (typeof groups)[number] | null = null;
  for (const position of positions) {
    const outcome = outcomes[position]!;
    if (outcome.kind !== 'completed') continue;
    // Most handlers return nothing: no JSON.stringify call for it.
    const result = outcome.result == null ? 'null' : JSON.stringify(outcome.result) ?? 'null';
    const kind = clean(outcome) ? 'clean' : 'completed';
    if (last && last.kind === kind && last.token === outcome.token && last.at === outcome.at && last.result === result) last.members.push(position);
    else groups.push((last = { kind, token: outcome.token, at: outcome.at, result, members: [position] }));
  }
  for (const { kind, token, at, result, members } of groups) {
    args.push(kind, members.length, token, at, result);
    for (const position of members) {
      args.push(outcomes[position]!.id);
      order.push(position);
    }
    entries++;
  }
  for (const position of positions) {
    const outcome = outcomes[position]!;
    if (outcome.kind === 'completed') continue;
    const error = outcome.kind === 'released' || outcome.kind === 'snoozed' ? undefined : outcome.error;
    const retryAt = 'retryAt' in outcome ? outcome.retryAt : '';
    args.push(outcome.kind, outcome.id, outcome.token, outcome.at, error ? JSON.stringify(error) : '', historyError(error), retryAt);
    order.push(position);
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
export function rowToJob(id: string, queue: string, fields: (string | null)[]): Job | null {
  if (!fields[0]) return null;
  const fixed = parseStatic(fields[0]);
  return {
    id,
    queue,
    task: fixed.task,
    payload: fixed.payload,
    priority: Number(fields[2]),
    state: fields[1] as JobState,
    attempts: Number(fields[5]),
    maxAttempts: limit(fields[6], ABSENT_LIMITS.maxAttempts),
    backoff: fixed.backoff,
    timeout: fixed.timeout,
    runAt: fields[4] ? Number(fields[4]) : fixed.createdAt,
    createdAt: fixed.createdAt,
    startedAt: num(fields[9]),
    endedAt: num(fields[10]),
    result: json(fields[11]),
    error: json(fields[12]) as Job['error'],
    history: history(fields),
    progress: json(fields[14]),
    stalls: Number(fields[7]),
    maxStalls: limit(fields[8], ABSENT_LIMITS.maxStalls),
    cancelRequested: fields[15] === '1',
    // Completion leaves the worker field for the history, and the lease end (lua/finish.lua): only
    // an active job has a worker and lease.
    workerId: fields[1] === 'active' ? str(fields[16]) : null,
    leaseToken: fields[1] === 'active' ? str(fields[17]) : null,
    leaseUntil: fields[1] === 'active' ? num(fields[18]) : null,
    description: fixed.description,
    tags: fixed.tags,
    callbacks: fixed.callbacks,
    scheduleId: fixed.scheduleId,
  };
}

/**
 * The stored history holds the attempts that ended other than in completion. The open attempt of
 * an active job, and the completing attempt of a completed one, are read from the attempt, worker
 * and time fields: claiming and completing, the two steps every job takes, rewrite no JSON.
 */
function history(fields: (string | null)[]): Job['history'] {
  const ended = (fields[13] ? JSON.parse(fields[13]) : []) as Job['history'];
  const state = fields[1];
  if (state !== 'active' && state !== 'completed') return ended;
  const attempt = { attempt: Number(fields[5]), workerId: fields[16]!, startedAt: Number(fields[9]) };
  ended.push(state === 'active' ? attempt : { ...attempt, endedAt: Number(fields[10]), outcome: 'completed' });
  return ended;
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

/**
 * The claim row (claimedJobs) of a lone job its own add handed at once to an idle worker, from its
 * addArgs row: what handOffNew (lua/lib/handoff.lua) publishes, a first attempt with no history,
 * error or progress. runAt goes as it is where the script sends '' for one equal to createdAt: both
 * read back as the same number.
 */
export function handedRow([id, runAt, priority, maxAttempts, maxStalls, staticJson]: readonly (string | number)[]): string {
  return `${staticJson}\n${priority}\n${runAt}\n1\n${maxAttempts}\n0\n${maxStalls}\n[]\n\n\n${id}`;
}

/**
 * A claim row's lines after its priority's for a job of only d, st, p and sq, the usual lean job
 * (PLAIN_ROW_MIDDLE in lua/lib/claim-jobs.lua less its first newline), and the fields they hold:
 * matched at once, where reading the eight lines one by one took a search and a slice each.
 */
const PLAIN_ROW_FIELDS = ['', '', '', '1', '', '', '', '[]', '', ''] as const;
const PLAIN_ROW_REST = PLAIN_ROW_FIELDS.slice(2).join('\n') + '\n';

/** Claims' rows, read one process-wide reader: the head and tail it keeps are those of the last add's jobs. */
const staticReader = new StaticReader();

/** The jobs of a claim script's answer (see claimJobs in lua/lib/claim-jobs.lua), now active under one lease, each with its open attempt. */
export function claimedJobs(rows: string[], queue: string, token: string, workerId: string, now: number, leaseUntil: number): Job[] {
  const jobs: Job[] = new Array(rows.length);
  const fields: string[] = new Array(CLAIM_FIELDS.length);
  const learn = rows.length > 1;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let from = 0;
    for (let k = 0; k < 2; k++) {
      const to = row.indexOf('\n', from);
      fields[k] = row.slice(from, to);
      from = to + 1;
    }
    if (row.startsWith(PLAIN_ROW_REST, from)) {
      for (let k = 2; k < fields.length; k++) fields[k] = PLAIN_ROW_FIELDS[k]!;
      from += PLAIN_ROW_REST.length;
    } else {
      for (let k = 2; k < fields.length; k++) {
        const to = row.indexOf('\n', from);
        fields[k] = row.slice(from, to);
        from = to + 1;
      }
    }
    const fixed = staticReader.read(fields[0]!, learn);
    const attempt = Number(fields[3]);
    const open = { attempt, workerId, startedAt: now };
    // A job that never ended an attempt has no history ('', the add leaves it out) or '[]'. A
    // literal of one, not a push onto []: the push grows an empty array to 17 slots.
    let history: Job['history'];
    if (fields[7] === '' || fields[7] === '[]') history = [open];
    else {
      history = JSON.parse(fields[7]!) as Job['history'];
      history.push(open);
    }
    jobs[i] = {
      id: row.slice(from), queue, task: fixed.task, payload: fixed.payload, priority: Number(fields[1]), state: 'active', attempts: attempt,
      maxAttempts: limit(fields[4], ABSENT_LIMITS.maxAttempts), backoff: fixed.backoff, timeout: fixed.timeout, runAt: fields[2] ? Number(fields[2]) : fixed.createdAt, createdAt: fixed.createdAt,
      startedAt: now, endedAt: null, result: null, error: json(fields[8]) as Job['error'], history, progress: json(fields[9]),
      stalls: Number(fields[5]), maxStalls: limit(fields[6], ABSENT_LIMITS.maxStalls), cancelRequested: false, workerId, leaseToken: token, leaseUntil,
      description: fixed.description, tags: fixed.tags, callbacks: fixed.callbacks, scheduleId: fixed.scheduleId,
    };
  }
  return jobs;
}

export function hashToSchedule(id: string, flat: string[]): ScheduleRecord {
  const hash: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return {
    id,
    spec: JSON.parse(hash.spec!),
    nextRunAt: num(hash.nx),
    paused: hash.pa === '1',
    runCount: Number(hash.rc ?? 0),
    lastRunAt: num(hash.lr),
    createdAt: Number(hash.ca),
    updatedAt: Number(hash.ua),
    version: Number(hash.v),
  };
}
