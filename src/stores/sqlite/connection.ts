// One open SQLite file and what every part of the store shares on it: the prepared statements, the
// IMMEDIATE transaction every operation runs in, the listeners events go to, and the work log that
// carries an UPDATE's work to other processes. The store's parts (claim.ts, operator.ts, ...) are
// functions of this connection; SqliteStore (store.ts) is their facade.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { notFound } from '../../core/errors.js';
import { WORK_EVENTS, type StoreEvent, type StoreListener } from '../../core/store.js';
import { seqOfId } from './ids.js';
import { migrate } from './migrate.js';
import type { JobRow } from './rows.js';
import { prepareStatements, type AlikeInsert, type LonePlainInsert, type Statement, type Statements } from './statements.js';

/** The work_log keeps about this many latest entries (trimmed every 1000 inserts). */
export const WORK_LOG_KEEP = 10_000;
/** At most this many leased jobs are remembered for their finish (SqliteConnection.leased). */
const LEASED_KEEP = 10_000;

export interface ConnectionOptions {
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
}

export class SqliteConnection {
  readonly db: Database.Database;
  readonly statements: Statements;
  readonly listeners = new Set<StoreListener>();
  /** This connection's mark: the prefix of its lease tokens and the origin of its work_log rows. */
  readonly origin = randomBytes(6).toString('base64url');
  private leaseSeq = 0;
  /** True while the cross-process watcher runs: only then are this connection's new rows remembered. */
  watching = false;
  /** Told of each commit of this connection while the watcher runs (watch.ts pauses its file watch in bursts). */
  afterOwnCommit: (() => void) | null = null;
  /** Rows this connection inserted and committed: their events were emitted at commit, the watcher skips them. */
  readonly ownSeqs = new Set<number>();
  /**
   * The seq the next lone add on this connection tries first (jobs-in.ts, addLoneMade): one past
   * the newest row an add here committed; 0 when unknown. A guess only: the INSERT checks it
   * (another process may have taken it), so it is never wrong, only missed.
   */
  nextSeq = 0;
  /** The newest row the add under way inserted (jobs-in.ts, insertJobs); 0 for none. */
  addedSeq = 0;
  /** Lone adds left to go without a guess, after one missed (another process adds to this file). */
  guessPause = 0;
  /** Rows inserted by the transaction under way: own once it commits. */
  readonly pendingOwnSeqs: number[] = [];
  /**
   * Queues whose row this connection has seen: an add to one skips the ensure-queue INSERT. No
   * operation deletes a queue row, so once seen it stays.
   */
  readonly knownQueues = new Set<string>();
  /** Queues ensured by the transaction under way: known once it commits. */
  readonly pendingQueues: string[] = [];
  /** Claim picks by literal LIMIT (claim.ts, see pickSql in statements.ts). */
  readonly picksBySize = new Map<number, Statement>();
  /** INSERTs of alike jobs by row count (jobs-in.ts), prepared at their first use on this connection. */
  readonly insertsBySize = new Map<number, AlikeInsert>();
  /**
   * Lone INSERTs of plain jobs with their queue and task written in (jobs-in.ts, insertLonePlainOf),
   * by queue, then task; null for a pair whose text cannot be a literal.
   */
  readonly lonePlainInserts = new Map<string, Map<string, Statement | null>>();
  /** How many pairs lonePlainInserts holds (at most LONE_PLAIN_INSERTS in jobs-in.ts). */
  lonePlainInsertCount = 0;
  /** The last pair insertLonePlainOf answered: a caller adding one kind of job finds it without a lookup. */
  lastLonePlain: LonePlainInsert | null = null;
  /** One transaction wrapper for every call: better-sqlite3 builds a new one per db.transaction() (~4% of a c=1 cycle). */
  private readonly runTx: Database.Transaction<(fn: () => unknown) => unknown>;

  constructor(readonly path: string, opts: ConnectionOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    this.db.pragma('temp_store = MEMORY');
    migrate(this.db);
    this.statements = prepareStatements(this.db);
    this.runTx = this.db.transaction((fn: () => unknown) => fn());
  }

  /**
   * Deletes up to `seq` (remove, clean): the floor of seqs rises to it, so a made id never comes
   * back for another job, and the next lone add's guess (newest + 1) is dropped, as it would miss
   * if the newest job went, and a miss pauses guessing.
   */
  raiseSeqFloor(seq: number): void {
    this.statements.raiseSeqFloor.run(seq);
    this.nextSeq = 0;
  }

  /** A lease token no other claim (here or in another process) has given. */
  nextLeaseToken(): string {
    return `${this.origin}.${(this.leaseSeq++).toString(36)}`;
  }

  /** `fn` in one IMMEDIATE transaction; what it noted for after the commit applies only if it commits. */
  tx<T>(fn: () => T): T {
    let out: T;
    try {
      out = this.runTx.immediate(fn) as T;
      if (this.pendingOwnSeqs.length) for (const seq of this.pendingOwnSeqs.splice(0)) this.ownSeqs.add(seq);
      if (this.pendingQueues.length) for (const q of this.pendingQueues.splice(0)) this.knownQueues.add(q);
    } catch (err) {
      this.pendingOwnSeqs.length = 0;
      this.pendingQueues.length = 0;
      throw err;
    }
    // Outside the try: nothing done after the commit may make it look failed to the caller.
    this.afterOwnCommit?.();
    return out;
  }

  emit(events: StoreEvent[]): void {
    if (this.listeners.size === 0 || events.length === 0) return;
    for (const l of this.listeners) for (const e of events) l(e);
  }

  /**
   * Inside a transaction: record the work events an UPDATE made, so watchers in other processes
   * wake for them as they do for new rows (a retried job starts at once, not at the next poll).
   */
  shareWork(events: StoreEvent[]): void {
    for (const e of events) {
      if (!WORK_EVENTS.has(e.type)) continue;
      const seq = Number(this.statements.insertWork.run(this.origin, e.type, e.queue, e.jobId ?? null, e.at, e.runAt ?? null).lastInsertRowid);
      if (seq % 1000 === 0) this.statements.trimWorkLog.run(seq - WORK_LOG_KEEP);
    }
  }

  /** The job's row by id: at the seq an id of this store's making carries (ids.ts), else among the given ids. */
  rowById(id: string): JobRow | undefined {
    const seq = seqOfId(id);
    const row = seq === null ? undefined : (this.statements.jobAt.get(seq, id) as JobRow | undefined);
    return row ?? (this.statements.jobByGivenId.get(id) as JobRow | undefined);
  }

  /**
   * Where the jobs this connection leased are ([seq, queue] by id, set by claims, taken by their
   * finish: locateLeased): a finish of a job claimed here needs no SELECT to find its row and its
   * queue (~7k instructions, callgrind, of a c=1 cycle's ~190k). A job's seq and queue never
   * change. An entry whose row is gone (removed) sends the finish's UPDATE to a seq no row has, or
   * that a later add took again (seq is a rowid, reused after the newest row goes): the UPDATE also
   * asks for the lease token, unique to this claim, so it changes nothing. Entries of outcomes never reported (a
   * lost lease) are dropped with the rest once there are LEASED_KEEP of them.
   */
  readonly leased = new Map<string, [seq: number, queue: string]>();

  /** A job this connection claimed: remembered for its finish (see leased). */
  noteLeased(id: string, seq: number, queue: string): void {
    if (this.leased.size >= LEASED_KEEP) this.leased.clear();
    this.leased.set(id, [seq, queue]);
  }

  /** A job's [seq, queue] for its finish: as its claim here noted it, else as locate finds it. */
  locateLeased(id: string): [seq: number, queue: string] | undefined {
    const noted = this.leased.get(id);
    if (noted === undefined) return this.locate(id);
    this.leased.delete(id);
    return noted;
  }

  /** The job's [seq, queue] by id, found as rowById finds its row. */
  locate(id: string): [seq: number, queue: string] | undefined {
    const seq = seqOfId(id);
    const queue = seq === null ? undefined : (this.statements.queueAt.get(seq, id) as string | undefined);
    if (queue !== undefined) return [seq!, queue];
    return this.statements.seqAndQueueOfGivenId.get(id) as [number, string] | undefined;
  }

  /** The job's row, or the not-found error. */
  mustGet(id: string): JobRow {
    const row = this.rowById(id);
    if (!row) throw notFound('job', id);
    return row;
  }
}
