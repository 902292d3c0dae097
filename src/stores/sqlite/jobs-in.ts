// Adding jobs at the next seqs, under ids that carry the seq when Fusion chose them (ids.ts); a job
// whose id exists is not added, and the stored job is answered. Runs of jobs alike in all but their
// payload and creation time (a batch of one task, the common bulk add, an HTTP group commit) go in by
// one INSERT per up to 64 of them that binds the shared values once (insertAlikeSql); the rest one
// INSERT per job.
import { DEFAULTS, type Job, type JobState, type NewJob } from '../../core/job.js';
import { newJobView, payloadJsonOf } from '../../core/job.js';
import type { StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import type Database from 'better-sqlite3';
import { idPrefix, madeId, mayMakeId, SEQ_LIMIT } from './ids.js';
import { rowToJob } from './rows.js';
import { insertAlikeSql, insertLonePlainSql, type AlikeInsert, type Statement } from './statements.js';

export type AddedJob = { job: Job; created: boolean };

/**
 * Row counts an INSERT of alike jobs is prepared for; a run goes in as the largest that fit. Down to
 * one: a job alike to none goes in the same way, so a lone add in a transaction (the first in a
 * queue, addLoneMade's fallback) runs the code a batch runs. With a branch of its own, that add
 * found it without type feedback after batches and deoptimized the batch path, which V8 then
 * compiled again inside the next batches (~9,900 instructions per job of a 20,000-job row, callgrind).
 * Every power of two: a group commit of the HTTP API holds 20-50 jobs (50 clients: 34 on average),
 * and with sizes 64, 16, 4, 1 a run of 50 went as five statements (16+16+16+1+1), 34 as four; now
 * three (32+16+2) and two (32+2). Each statement run binds the thirteen shared values and steps a
 * fresh VDBE: ~0.2 us a job less in group commits of 50/34/20 jobs (three paired runs).
 */
const ALIKE_MAX = 64;

/** The largest row count an alike INSERT is prepared for (a power of two up to 64) that is at most `run` (0 for none). */
const alikeSize = (run: number) => (run >= ALIKE_MAX ? ALIKE_MAX : run >= 1 ? 1 << (31 - Math.clz32(run)) : 0);

/** Values an alike INSERT binds before its rows' (insertAlikeSql). */
const ALIKE_SHARED = 12;
/** Values an alike INSERT binds per row: the payload and created_at. */
const ALIKE_PER_ROW = 2;

/**
 * An alike INSERT of `rows` rows and its parameter array, both kept on the connection. The array is
 * filled in place and spread into run(): an array literal grown by push and spread deoptimized
 * insertRun ("the array length changed") whenever a batch brought a run of another size, and V8
 * compiled it again inside the next timed rows; a kept array has no literal for V8 to assume a
 * length from, and is allocated once.
 */
function insertAlikeOf(conn: SqliteConnection, rows: number): AlikeInsert {
  let s = conn.insertsBySize.get(rows);
  if (!s) {
    s = { statement: conn.db.prepare(insertAlikeSql(rows)) as Statement, values: new Array<unknown>(ALIKE_SHARED + ALIKE_PER_ROW * rows).fill(null) };
    conn.insertsBySize.set(rows, s);
  }
  return s;
}

/** The default backoff is stored as NULL (migration 003). */
const backoffValue = (j: NewJob) => (j.backoff === DEFAULTS.backoff ? null : JSON.stringify(j.backoff));

/**
 * Whether `y` goes in the same alike INSERT as `x`: all columns but the payload and the times the
 * same, its runAt its createdAt plus x's delay (what the INSERT computes: the same double addition
 * in SQLite as here), the same state at `now` (the add's), none of the rare ones set.
 */
function alike(x: NewJob, y: NewJob, now: number): boolean {
  return y.queue === x.queue && y.task === x.task && y.priority === x.priority && y.maxAttempts === x.maxAttempts
    && y.backoff === x.backoff && y.timeout === x.timeout && y.maxStalls === x.maxStalls
    && y.createdAt + (x.runAt - x.createdAt) === y.runAt && (y.runAt > now) === (x.runAt > now)
    && y.description === null && y.tags.length === 0 && y.callbacks === null && y.scheduleId === null;
}

/**
 * How many pending jobs from `i` on are alike to the one at `i` (at most ALIKE_MAX). A function of
 * its own, not a loop in flush: flush then loops once per run, not once per job, and V8 compiles
 * it once instead of a second time on-stack (OSR) inside a long batch.
 */
function runFrom(pending: NewJob[], i: number, now: number): number {
  const first = pending[i]!;
  const end = Math.min(pending.length, i + ALIKE_MAX);
  let k = i + 1;
  while (k < end && alike(first, pending[k]!, now)) k++;
  return k - i;
}

/** The payloads and creation times of the `size` jobs from `i` on, as the alike INSERT's values after the shared ones (see createdRun). */
function rowsInto(values: unknown[], pending: NewJob[], i: number, size: number): void {
  for (let k = 0; k < size; k++) {
    const j = pending[i + k]!;
    values[ALIKE_SHARED + ALIKE_PER_ROW * k] = payloadJsonOf(j);
    values[ALIKE_SHARED + ALIKE_PER_ROW * k + 1] = j.createdAt;
  }
}

/**
 * A job the alike INSERT cannot write: a column it does not bind, or a runAt that its createdAt
 * plus the difference does not give back exactly (fractional times far apart; never whole ms).
 */
const rare = (j: NewJob) => j.description !== null || j.tags.length !== 0 || j.callbacks !== null || j.scheduleId !== null
  || j.createdAt + (j.runAt - j.createdAt) !== j.runAt;

/**
 * One add inside a transaction: the answers in order and the events. A class, not closures made per
 * call: its methods stay compiled from one add to the next (closures made anew at each add left the
 * batch path cold for thousands of jobs, measured in the engine bench).
 */
class Adder {
  readonly out: AddedJob[] = [];
  /** Jobs whose ids the store makes, not yet inserted, at the seqs from pendingSeq on (a given id flushes them first). */
  pending: NewJob[] = [];
  pendingSeq = 0;
  // Events go only to this connection's listeners (other processes find new rows themselves).
  private readonly listened: boolean;

  constructor(private readonly conn: SqliteConnection, private readonly now: number, private readonly events: StoreEvent[]) {
    this.listened = conn.listeners.size > 0;
  }

  stateOf(j: NewJob): JobState {
    return j.runAt > this.now ? 'scheduled' : 'queued';
  }

  private created(j: NewJob, seq: number, state: JobState, id: string): void {
    this.conn.addedSeq = seq;
    if (this.conn.watching) this.conn.pendingOwnSeqs.push(seq);
    // Indexed stores, not push: the push calls here and in insertJobs deopted ("not a Smi") in the
    // first batches of a process, and recompiling them was a share of its first 20,000 jobs' CPU.
    this.out[this.out.length] = { job: newJobView(j, state, id), created: true };
    if (this.listened) this.events.push({ type: state, queue: j.queue, jobId: id, at: this.now, runAt: j.runAt });
  }

  private insertOne(j: NewJob, seq: number, state: JobState, id: string, given: boolean): void {
    this.conn.statements.insertJob.run(
      seq, id, j.queue, j.task, payloadJsonOf(j), j.priority, state, j.maxAttempts, backoffValue(j), j.timeout,
      j.maxStalls, j.runAt, j.createdAt, j.description, j.tags.length ? JSON.stringify(j.tags) : null,
      j.callbacks ? JSON.stringify(j.callbacks) : null, j.scheduleId, given ? 1 : null,
    );
  }

  /** A job under the id it was given, unless that id is taken: then the stored job is its answer. */
  addGiven(j: NewJob, seq: number, id: string): void {
    const existing = this.conn.rowById(id);
    if (existing) return void this.out.push({ job: rowToJob(existing), created: false });
    const state = this.stateOf(j);
    this.insertOne(j, seq, state, id, true);
    this.created(j, seq, state, id);
  }

  /** A job whose id the store makes, unless a caller gave that id (then it keeps the one Fusion made, as given). */
  private addMade(j: NewJob, seq: number, id: string): void {
    if (this.conn.statements.seqAndQueueOfGivenId.get(id) !== undefined) return this.addGiven(j, seq, j.id);
    const state = this.stateOf(j);
    this.insertOne(j, seq, state, id, false);
    this.created(j, seq, state, id);
  }

  /**
   * Give `jobs` the seqs after `seq`: those whose ids the store makes wait in pending, a given id
   * goes in at once (after the pending). The loop over the jobs is here, not in insertJobs, and the
   * final flush there: V8 then optimizes this loop alone, not with flush and the code flush inlines
   * (insertJobs so compiled took 13-19 ms, --trace-opt on a busy 2-core VM, inside the engine bench's
   * 20,000-job batch row, whose CPU is ~60 ms).
   */
  take(jobs: NewJob[], seq: number): void {
    const conn = this.conn;
    let lastQueue: string | undefined;
    for (let k = 0; k < jobs.length; k++) {
      const j = jobs[k]!;
      if (j.queue !== lastQueue) {
        lastQueue = j.queue;
        if (!conn.knownQueues.has(j.queue) && !conn.pendingQueues.includes(j.queue)) {
          conn.statements.ensureQueue.run(j.queue);
          conn.pendingQueues.push(j.queue);
        }
      }
      seq++;
      if (mayMakeId(j, seq)) {
        if (this.pending.length === 0) this.pendingSeq = seq;
        this.pending[this.pending.length] = j;
      } else {
        // A given id: the jobs before it go in first, so that it is looked for among them too.
        this.flush();
        this.addGiven(j, seq, j.id);
      }
    }
  }

  /** Insert the pending jobs: runs of alike ones as one INSERT per up to 64 under the first's prefix, the rest one by one. */
  flush(): void {
    const pending = this.pending;
    const statements = this.conn.statements;
    let seq = this.pendingSeq;
    for (let i = 0; i < pending.length;) {
      const first = pending[i]!;
      const prefix = idPrefix(first);
      // A rare job is in no run (0): the alike INSERT cannot write it.
      const size = prefix === null || rare(first) ? 0 : alikeSize(runFrom(pending, i, this.now));
      if (prefix === null) {
        // Not an id of the shape this store's are made from: kept as it is, as if given.
        this.addGiven(first, seq++, first.id);
        i++;
        continue;
      }
      if (size === 0) {
        this.addMade(first, seq, madeId(prefix, seq));
        seq++;
        i++;
        continue;
      }
      const end = i + size;
      // One probe of the given ids' index for the lot (their ids sort by seq under one prefix).
      if (statements.givenIdIn.get(madeId(prefix, seq), madeId(prefix, seq + size - 1)) !== undefined) {
        for (; i < end; i++, seq++) this.addMade(pending[i]!, seq, madeId(prefix, seq));
        continue;
      }
      this.insertRun(i, size, seq, prefix);
      i = end;
      seq += size;
    }
    this.pending = [];
  }

  /**
   * The `size` pending jobs from `i` on, alike, in one INSERT at the seqs from `seq` on. A method of
   * its own, not a part of flush: V8 compiles flush's loop (once whole, once at its loop) in less
   * time without it.
   */
  private insertRun(i: number, size: number, seq: number, prefix: string): void {
    const pending = this.pending;
    const first = pending[i]!;
    const state = this.stateOf(first);
    const insert = insertAlikeOf(this.conn, size);
    const values = insert.values;
    values[0] = seq;
    values[1] = prefix;
    values[2] = seq;
    values[3] = first.queue;
    values[4] = first.task;
    values[5] = first.priority;
    values[6] = state;
    values[7] = first.maxAttempts;
    values[8] = backoffValue(first);
    values[9] = first.timeout;
    values[10] = first.maxStalls;
    values[11] = first.runAt - first.createdAt;
    rowsInto(values, pending, i, size);
    // Spread, not the array: better-sqlite3 reads an array's elements through V8's API (Object::Get,
    // ~400 instructions each, 14 of them for a lone job), arguments directly.
    insert.statement.run(...values);
    // The array stays with the connection: it must not keep the payloads (up to 64 of any size) alive.
    values.fill(null, ALIKE_SHARED);
    this.createdRun(i, size, seq, state, prefix);
  }

  /**
   * The answers (and events) of a run insertRun inserted. The loops over a run's jobs are functions
   * of their own, and insertRun has none: called once per run, insertRun stays in the baseline
   * tiers, and V8 optimizes these loops alone instead of compiling them again inlined into it,
   * inside a timed batch row.
   */
  private createdRun(i: number, size: number, seq: number, state: JobState, prefix: string): void {
    const pending = this.pending;
    for (let k = 0; k < size; k++) this.created(pending[i + k]!, seq + k, state, madeId(prefix, seq + k));
  }
}

/** Inside a transaction: insert `jobs`, their events into `events` (emitted after the commit). */
export function insertJobs(conn: SqliteConnection, jobs: NewJob[], now: number, events: StoreEvent[]): AddedJob[] {
  // The seqs taken here make a lone add's guess stale: addJobs guesses again after the commit.
  conn.nextSeq = 0;
  conn.addedSeq = 0;
  const add = new Adder(conn, now, events);
  // The transaction holds the write lock: no one else takes a seq until it ends. A seq is never
  // taken twice, even after its job was removed (raiseSeqFloor), so a made id never comes back.
  add.take(jobs, conn.statements.lastSeqTaken.get() as number);
  add.flush();
  return add.out;
}

/**
 * A lone job whose id the store makes, in a queue this connection knows (no queue row to ensure),
 * as one autocommit statement (insertLoneAt or insertLoneMade in statements.ts) instead of a
 * transaction of five: the answer, or undefined when the statement wrote nothing (a caller holds
 * the id it would make) or does not apply, and the add goes the whole way (insertJobs).
 */
function addLoneMade(conn: SqliteConnection, j: NewJob, now: number): AddedJob | undefined {
  if (j.madeId === undefined || j.id !== j.madeId || !conn.knownQueues.has(j.queue)) return undefined;
  const prefix = idPrefix(j);
  if (prefix === null) return undefined;
  const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
  let seq = conn.nextSeq;
  let id = '';
  const plain = state === 'queued' && plainLone(j);
  const statements = conn.statements;
  if (seq > 0 && seq < SEQ_LIMIT && conn.guessPause === 0) {
    id = madeId(prefix, seq);
    const info = plain ? runLoneAtPlain(conn, j, seq, id) : runLone(statements.insertLoneAt, j, state, seq, id);
    if (info.changes === 0) {
      // Another process took the seq (or a delete raised the floor past it, or a caller gave the
      // id): guess no more for a while, as another process adding here would make most guesses miss.
      conn.guessPause = GUESS_PAUSE;
      seq = 0;
    }
  } else {
    if (conn.guessPause > 0) conn.guessPause--;
    seq = 0;
  }
  if (seq === 0) {
    const info = plain ? runLonePlain(statements.insertLoneMadePlain, j, -1, prefix) : runLone(statements.insertLoneMade, j, state, -1, prefix);
    if (info.changes === 0) {
      conn.nextSeq = 0;
      return undefined;
    }
    seq = Number(info.lastInsertRowid);
    id = madeId(prefix, seq);
  }
  conn.nextSeq = seq + 1;
  // Committed: what tx() does after a commit, done here.
  if (conn.watching) {
    conn.ownSeqs.add(seq);
    conn.afterOwnCommit?.();
  }
  if (conn.listeners.size > 0) conn.emit([{ type: state, queue: j.queue, jobId: id, at: now, runAt: j.runAt }]);
  return { job: newJobView(j, state, id), created: true };
}

/** After a guess missed: this many lone adds take the seq from the file (insertLoneMade) instead. */
const GUESS_PAUSE = 64;

/**
 * Whether a lone job's settings are all Fusion's defaults (DEFAULTS: priority, attempts, backoff,
 * timeout, stalls) and it has no description, tags, callbacks or schedule, so a plain INSERT writes
 * those columns as literals (LONE_PLAIN_TAIL in statements.ts). A queued one only: the plain
 * INSERT writes the state too.
 */
const plainLone = (j: NewJob) => j.priority === DEFAULTS.priority && j.maxAttempts === DEFAULTS.maxAttempts
  && j.backoff === DEFAULTS.backoff && j.timeout === DEFAULTS.timeout && j.maxStalls === DEFAULTS.maxStalls
  && j.description === null && j.tags.length === 0 && j.callbacks === null && j.scheduleId === null;

/**
 * Most (queue, task) pairs a connection keeps a plain lone INSERT for (insertLonePlainOf); the adds
 * of others bind theirs. A bound, so that tasks named without end do not fill memory with statements.
 */
const LONE_PLAIN_INSERTS = 32;

/**
 * The lone INSERT at a guessed seq of a plain job (plainLone) with its queue and task written in
 * (insertLonePlainSql), prepared at the pair's first add on this connection. null when the pair has
 * none (a text that cannot be a literal, or past LONE_PLAIN_INSERTS pairs): its add binds them
 * (insertLoneAtPlain).
 */
function insertLonePlainOf(conn: SqliteConnection, queue: string, task: string): Statement | null {
  const last = conn.lastLonePlain;
  if (last !== null && last.queue === queue && last.task === task) return last.statement;
  let byTask = conn.lonePlainInserts.get(queue);
  let statement = byTask?.get(task);
  if (statement === undefined) {
    if (conn.lonePlainInsertCount >= LONE_PLAIN_INSERTS) return null;
    const sql = insertLonePlainSql(queue, task);
    statement = sql === null ? null : (conn.db.prepare(sql) as Statement);
    if (byTask === undefined) conn.lonePlainInserts.set(queue, (byTask = new Map()));
    byTask.set(task, statement);
    conn.lonePlainInsertCount++;
  }
  conn.lastLonePlain = { queue, task, statement };
  return statement;
}

/** A plain lone job's INSERT at a guessed seq (insertLoneAtSql), with its queue and task written in where it can. */
function runLoneAtPlain(conn: SqliteConnection, j: NewJob, seq: number, id: string): Database.RunResult {
  const literal = insertLonePlainOf(conn, j.queue, j.task);
  return literal !== null ? literal.run(seq, id, payloadJsonOf(j), j.runAt, j.createdAt) : runLonePlain(conn.statements.insertLoneAtPlain, j, seq, id);
}

/**
 * A plain lone INSERT's run (plainLone, LONE_PLAIN_TAIL): the columns not written as literals, with
 * the seq and the id made from it (insertLoneAtPlain) or, at seq -1, the id prefix (insertLoneMadePlain).
 */
function runLonePlain(statement: Statement, j: NewJob, seq: number, idOrPrefix: string): Database.RunResult {
  return seq < 0
    ? statement.run(idOrPrefix, j.queue, j.task, payloadJsonOf(j), j.runAt, j.createdAt)
    : statement.run(seq, idOrPrefix, j.queue, j.task, payloadJsonOf(j), j.runAt, j.createdAt);
}

/** A lone INSERT's run with every column bound (LONE_TAIL): insertLoneAt, or at seq -1 insertLoneMade (as runLonePlain). */
function runLone(statement: Statement, j: NewJob, state: JobState, seq: number, idOrPrefix: string): Database.RunResult {
  const backoff = backoffValue(j);
  const tags = j.tags.length ? JSON.stringify(j.tags) : null;
  const callbacks = j.callbacks ? JSON.stringify(j.callbacks) : null;
  return seq < 0
    ? statement.run(idOrPrefix, j.queue, j.task, payloadJsonOf(j), j.priority, state, j.maxAttempts, backoff, j.timeout,
      j.maxStalls, j.runAt, j.createdAt, j.description, tags, callbacks, j.scheduleId)
    : statement.run(seq, idOrPrefix, j.queue, j.task, payloadJsonOf(j), j.priority, state, j.maxAttempts, backoff, j.timeout,
      j.maxStalls, j.runAt, j.createdAt, j.description, tags, callbacks, j.scheduleId);
}

export function addJobs(conn: SqliteConnection, jobs: NewJob[], now: number): AddedJob[] {
  if (jobs.length === 1) {
    const added = addLoneMade(conn, jobs[0]!, now);
    if (added !== undefined) return [added];
  }
  const events: StoreEvent[] = [];
  const out = conn.tx(() => insertJobs(conn, jobs, now, events));
  // Committed: the next lone add guesses the seq after the newest row (a queue's first add comes
  // here, and its next then needs no insertLoneMade, whose path V8 would find without feedback).
  if (conn.addedSeq > 0) conn.nextSeq = conn.addedSeq + 1;
  conn.emit(events);
  return out;
}

