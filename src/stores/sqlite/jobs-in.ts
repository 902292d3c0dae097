// Adding jobs at the next seqs, under ids that carry the seq when Fusion chose them (ids.ts); a job
// whose id exists is not added, and the stored job is answered. Runs of jobs alike in all but their
// payload (a batch of one task, the common bulk add) go in by one INSERT per up to 64 of them that
// binds the shared values once (insertAlikeSql); the rest one INSERT per job.
import { DEFAULTS, type Job, type JobState, type NewJob } from '../../core/job.js';
import { newJobView } from '../../core/job.js';
import type { StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';
import { idPrefix, madeId, mayMakeId } from './ids.js';
import { rowToJob } from './rows.js';
import { insertAlikeSql, type Statement } from './statements.js';

export type AddedJob = { job: Job; created: boolean };

/** Row counts an INSERT of alike jobs is prepared for; a run goes in as the largest that fit. */
const ALIKE_SIZES = [64, 16, 4];

function insertAlikeOf(conn: SqliteConnection, rows: number): Statement {
  let s = conn.insertsBySize.get(rows);
  if (!s) conn.insertsBySize.set(rows, (s = conn.db.prepare(insertAlikeSql(rows)) as Statement));
  return s;
}

interface Pending {
  j: NewJob;
  seq: number;
  state: JobState;
}

/** The default backoff is stored as NULL (migration 003). */
const backoffValue = (j: NewJob) => (j.backoff === DEFAULTS.backoff ? null : JSON.stringify(j.backoff));

/** Whether `b` goes in the same alike INSERT as `a`: all columns but the payload the same, none of the rare ones set. */
function alike(a: Pending, b: Pending): boolean {
  const x = a.j;
  const y = b.j;
  return b.state === a.state && y.queue === x.queue && y.task === x.task && y.priority === x.priority && y.maxAttempts === x.maxAttempts
    && y.backoff === x.backoff && y.timeout === x.timeout && y.maxStalls === x.maxStalls && y.runAt === x.runAt
    && y.createdAt === x.createdAt && y.description === null && y.tags.length === 0 && y.callbacks === null && y.scheduleId === null;
}

/** Inside a transaction: insert `jobs`, their events into `events` (emitted after the commit). */
export function insertJobs(conn: SqliteConnection, jobs: NewJob[], now: number, events: StoreEvent[]): AddedJob[] {
  const statements = conn.statements;
  const out: AddedJob[] = [];
  // Events go only to this connection's listeners (other processes find new rows themselves).
  const listened = conn.listeners.size > 0;
  const created = (p: Pending, id: string) => {
    if (conn.watching) conn.pendingOwnSeqs.push(p.seq);
    out.push({ job: newJobView(p.j, p.state, id), created: true });
    if (listened) events.push({ type: p.state, queue: p.j.queue, jobId: id, at: now, runAt: p.j.runAt });
  };
  const insertOne = ({ j, seq, state }: Pending, id: string, given: boolean) => {
    statements.insertJob.run(
      seq, id, j.queue, j.task, JSON.stringify(j.payload ?? null), j.priority, state, j.maxAttempts, backoffValue(j), j.timeout,
      j.maxStalls, j.runAt, j.createdAt, j.description, j.tags.length ? JSON.stringify(j.tags) : null,
      j.callbacks ? JSON.stringify(j.callbacks) : null, j.scheduleId, given ? 1 : null,
    );
  };
  /** A job under the id it was given, unless that id is taken: then the stored job is its answer. */
  const addGiven = (p: Pending, id: string) => {
    const existing = conn.rowById(id);
    if (existing) return void out.push({ job: rowToJob(existing), created: false });
    insertOne(p, id, true);
    created(p, id);
  };
  /** A job whose id the store makes, unless a caller gave that id (then it keeps the one Fusion made, as given). */
  const addMade = (p: Pending, id: string) => {
    if (statements.seqOfGivenId.get(id) !== undefined) return addGiven(p, p.j.id);
    insertOne(p, id, false);
    created(p, id);
  };
  let pending: Pending[] = [];
  const flush = () => {
    for (let i = 0; i < pending.length;) {
      const first = pending[i]!;
      let run = 1;
      while (run < ALIKE_SIZES[0]! && i + run < pending.length && alike(first, pending[i + run]!)) run++;
      const size = ALIKE_SIZES.find((s) => s <= run);
      const prefix = idPrefix(first.j);
      if (size === undefined || first.j.description !== null || first.j.tags.length || first.j.callbacks || first.j.scheduleId !== null) {
        addMade(first, madeId(prefix, first.seq));
        i++;
        continue;
      }
      const rows = pending.slice(i, i + size);
      i += size;
      // One probe of the given ids' index for the lot (their ids sort by seq under one prefix).
      if (statements.givenIdIn.get(madeId(prefix, first.seq), madeId(prefix, first.seq + size - 1)) !== undefined) {
        for (const p of rows) addMade(p, madeId(prefix, p.seq));
        continue;
      }
      const j = first.j;
      const values: unknown[] = [first.seq, prefix, j.queue, j.task, j.priority, first.state, j.maxAttempts, backoffValue(j), j.timeout,
        j.maxStalls, j.runAt, j.createdAt];
      for (const p of rows) values.push(JSON.stringify(p.j.payload ?? null));
      insertAlikeOf(conn, size).run(values);
      for (const p of rows) created(p, madeId(prefix, p.seq));
    }
    pending = [];
  };
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
    const p: Pending = { j, seq: ++seq, state: j.runAt > now ? 'scheduled' : 'queued' };
    if (mayMakeId(j, p.seq)) {
      pending.push(p);
    } else {
      // A given id: the jobs before it go in first, so that it is looked for among them too.
      flush();
      addGiven(p, j.id);
    }
  }
  flush();
  return out;
}

export function addJobs(conn: SqliteConnection, jobs: NewJob[], now: number): AddedJob[] {
  if (jobs.length === 1) {
    const alone = addAlone(conn, jobs[0]!, now);
    if (alone) return alone;
  }
  const events: StoreEvent[] = [];
  const out = conn.tx(() => insertJobs(conn, jobs, now, events));
  conn.emit(events);
  return out;
}

/**
 * One job whose id the store makes, into a queue this connection knows: one statement, its own
 * transaction (insertMadeAlone). Null when it takes the general path: an unknown queue, a given
 * id, or nothing inserted.
 */
function addAlone(conn: SqliteConnection, j: NewJob, now: number): AddedJob[] | null {
  if (!conn.knownQueues.has(j.queue) || !mayMakeId(j, 0)) return null;
  const state: JobState = j.runAt > now ? 'scheduled' : 'queued';
  const prefix = idPrefix(j);
  const info = conn.statements.insertMadeAlone.run(
    prefix, j.queue, j.task, JSON.stringify(j.payload ?? null), j.priority, state, j.maxAttempts, backoffValue(j), j.timeout,
    j.maxStalls, j.runAt, j.createdAt, j.description, j.tags.length ? JSON.stringify(j.tags) : null,
    j.callbacks ? JSON.stringify(j.callbacks) : null, j.scheduleId, prefix,
  );
  if (info.changes === 0) return null;
  const seq = Number(info.lastInsertRowid);
  if (conn.watching) conn.ownSeqs.add(seq);
  const id = madeId(prefix, seq);
  if (conn.listeners.size) conn.emit([{ type: state, queue: j.queue, jobId: id, at: now, runAt: j.runAt }]);
  return [{ job: newJobView(j, state, id), created: true }];
}
