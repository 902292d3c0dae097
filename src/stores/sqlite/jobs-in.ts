// Adding jobs at the next seqs, under ids that carry the seq when Fusion chose them (ids.ts); a job
// whose id exists is not added, and the stored job is answered. Runs of jobs alike in all but their
// payload (a batch of one task, the common bulk add) go in by one INSERT per up to 64 of them that
// binds the shared values once (insertAlikeSql); the rest one INSERT per job.
import { DEFAULTS, type Job, type JobState, type NewJob } from '../../core/job.js';
import { newJobView, payloadJsonOf } from '../../core/job.js';
import type { StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { idPrefix, madeId, mayMakeId } from './ids.js';
import { rowToJob } from './rows.js';
import { insertAlikeSql, type Statement } from './statements.js';

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
const ALIKE_SIZES = [64, 32, 16, 8, 4, 2, 1];

function insertAlikeOf(conn: SqliteConnection, rows: number): Statement {
  let s = conn.insertsBySize.get(rows);
  if (!s) conn.insertsBySize.set(rows, (s = conn.db.prepare(insertAlikeSql(rows)) as Statement));
  return s;
}

/** The default backoff is stored as NULL (migration 003). */
const backoffValue = (j: NewJob) => (j.backoff === DEFAULTS.backoff ? null : JSON.stringify(j.backoff));

/**
 * Whether `y` goes in the same alike INSERT as `x`: all columns but the payload the same (their
 * state too, as it follows from runAt), none of the rare ones set.
 */
function alike(x: NewJob, y: NewJob): boolean {
  return y.queue === x.queue && y.task === x.task && y.priority === x.priority && y.maxAttempts === x.maxAttempts
    && y.backoff === x.backoff && y.timeout === x.timeout && y.maxStalls === x.maxStalls && y.runAt === x.runAt
    && y.createdAt === x.createdAt && y.description === null && y.tags.length === 0 && y.callbacks === null && y.scheduleId === null;
}

/** A job with a column the alike INSERT does not bind. */
const rare = (j: NewJob) => j.description !== null || j.tags.length !== 0 || j.callbacks !== null || j.scheduleId !== null;

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

  /** Insert the pending jobs: runs of alike ones as one INSERT per up to 64 under the first's prefix, the rest one by one. */
  flush(): void {
    const pending = this.pending;
    const statements = this.conn.statements;
    let seq = this.pendingSeq;
    for (let i = 0; i < pending.length;) {
      const first = pending[i]!;
      const prefix = idPrefix(first);
      // A job with a rare column is in no run (0): the alike INSERT does not bind those columns.
      let run = 0;
      if (prefix !== null && !rare(first)) {
        run = 1;
        while (run < ALIKE_SIZES[0]! && i + run < pending.length && alike(first, pending[i + run]!)) run++;
      }
      const size = ALIKE_SIZES.find((s) => s <= run);
      if (prefix === null) {
        // Not an id of the shape this store's are made from: kept as it is, as if given.
        this.addGiven(first, seq++, first.id);
        i++;
        continue;
      }
      if (size === undefined) {
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
    const end = i + size;
    const state = this.stateOf(first);
    const values: unknown[] = [seq, prefix, seq, first.queue, first.task, first.priority, state, first.maxAttempts, backoffValue(first),
      first.timeout, first.maxStalls, first.runAt, first.createdAt];
    for (let k = i; k < end; k++) values.push(payloadJsonOf(pending[k]!));
    // Spread, not the array: better-sqlite3 reads an array's elements through V8's API (Object::Get,
    // ~400 instructions each, 14 of them for a lone job), arguments directly.
    insertAlikeOf(this.conn, size).run(...values);
    for (; i < end; i++, seq++) this.created(pending[i]!, seq, state, madeId(prefix, seq));
  }
}

/** Inside a transaction: insert `jobs`, their events into `events` (emitted after the commit). */
export function insertJobs(conn: SqliteConnection, jobs: NewJob[], now: number, events: StoreEvent[]): AddedJob[] {
  const statements = conn.statements;
  const add = new Adder(conn, now, events);
  // The transaction holds the write lock: no one else takes a seq until it ends. A seq is never
  // taken twice, even after its job was removed (raiseSeqFloor), so a made id never comes back.
  let seq = statements.lastSeqTaken.get() as number;
  let lastQueue: string | undefined;
  for (const j of jobs) {
    if (j.queue !== lastQueue) {
      lastQueue = j.queue;
      if (!conn.knownQueues.has(j.queue) && !conn.pendingQueues.includes(j.queue)) {
        statements.ensureQueue.run(j.queue);
        conn.pendingQueues.push(j.queue);
      }
    }
    seq++;
    if (mayMakeId(j, seq)) {
      if (add.pending.length === 0) add.pendingSeq = seq;
      add.pending[add.pending.length] = j;
    } else {
      // A given id: the jobs before it go in first, so that it is looked for among them too.
      add.flush();
      add.addGiven(j, seq, j.id);
    }
  }
  add.flush();
  return add.out;
}

/**
 * A lone job whose id the store makes, in a queue this connection knows (no queue row to ensure),
 * as one autocommit statement (insertLoneMade in statements.ts) instead of a transaction of five:
 * the answer, or undefined when the statement wrote nothing (a caller holds the id it would make)
 * or does not apply, and the add goes the whole way (insertJobs).
 */
function addLoneMade(conn: SqliteConnection, j: NewJob, now: number): AddedJob | undefined {
  if (j.madeId === undefined || j.id !== j.madeId || !conn.knownQueues.has(j.queue)) return undefined;
  const prefix = idPrefix(j);
  if (prefix === null) return undefined;
  const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
  const info = conn.statements.insertLoneMade.run(
    prefix, j.queue, j.task, payloadJsonOf(j), j.priority, state, j.maxAttempts, backoffValue(j), j.timeout,
    j.maxStalls, j.runAt, j.createdAt, j.description, j.tags.length ? JSON.stringify(j.tags) : null,
    j.callbacks ? JSON.stringify(j.callbacks) : null, j.scheduleId,
  );
  if (info.changes === 0) return undefined;
  // Committed: what tx() does after a commit, done here.
  const seq = Number(info.lastInsertRowid);
  const id = madeId(prefix, seq);
  if (conn.watching) {
    conn.ownSeqs.add(seq);
    conn.afterOwnCommit?.();
  }
  if (conn.listeners.size > 0) conn.emit([{ type: state, queue: j.queue, jobId: id, at: now, runAt: j.runAt }]);
  return { job: newJobView(j, state, id), created: true };
}

export function addJobs(conn: SqliteConnection, jobs: NewJob[], now: number): AddedJob[] {
  if (jobs.length === 1) {
    const added = addLoneMade(conn, jobs[0]!, now);
    if (added !== undefined) return [added];
  }
  const events: StoreEvent[] = [];
  const out = conn.tx(() => insertJobs(conn, jobs, now, events));
  conn.emit(events);
  return out;
}

