// Cross-process wake-up. PRAGMA data_version changes only when another connection commits, so a
// check that finds nothing costs one tiny statement; on a change, jobs added since the last seen
// seq become 'queued'/'scheduled' events, as if added here. A commit by another process writes
// the -wal file, so a watch on the directory (inotify) runs the check at once; the timer stays as
// the fallback where the file system has no such events, and for a check that ran before the
// writer published its commit. Work an UPDATE made (retry, promote, reschedule, release, lease
// recovery, a cancel request, a paused or resumed queue, new queue limits) comes from the work_log
// table the same way.
//
// The watch sees this connection's own commits too: each WAL frame is two writes, and the kernel
// makes an inotify event of each (about 14 per job a worker at concurrency 1 finishes and claims:
// ~10 us of system time per job, a seventh of its cost). Those events are read only when the event
// loop turns, and a busy worker commits many times within one turn (its cycle runs in microtasks).
// So from this connection's third commit within a turn the watch is closed, and it opens again at
// the end of that turn, followed by a check: a commit by another process meanwhile is seen then,
// when the events the watch would have queued would have been read anyway. Closing and opening the
// watch costs about what the events of one commit do (~13 us, measured), so a turn of one or two
// commits keeps it. Measured on Linux (inotify) only: elsewhere the watch stays open.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';

interface AddedRow { seq: number; id: string; queue: string; run_at: number; created_at: number }
interface WorkRow { seq: number; origin: string; type: StoreEvent['type']; queue: string; job_id: string | null; at: number; run_at: number | null }

/** Where closing and opening the watch was measured to cost less than the events it spares (see the top). */
const PAUSES_IN_BURSTS = process.platform === 'linux';

export class CrossProcessWatcher {
  private timer: NodeJS.Timeout | null = null;
  private fileWatch: FSWatcher | null = null;
  private checkQueued = false;
  private dataVersion = 0;
  /** Highest seq already reported (or present when watching began). */
  private seenSeq = 0;
  /** Highest work_log seq already read. */
  private seenWork = 0;
  /** This connection's commits in the current turn of the event loop (see the top of this file). */
  private ownCommits = 0;
  /** The file watch is closed until the turn ends: this connection commits in a burst. */
  private paused = false;

  /** `intervalMs`: the fallback timer's period (5 × that while the -wal file is watched); 0: never watch. */
  constructor(private readonly conn: SqliteConnection, private readonly intervalMs: number) {}

  start(): void {
    const conn = this.conn;
    if (this.timer || this.intervalMs <= 0 || !conn.db.open) return;
    this.dataVersion = conn.statements.dataVersion.get() as number;
    this.seenSeq = conn.statements.lastJobSeq.get() as number;
    this.seenWork = conn.statements.lastWorkSeq.get() as number;
    conn.ownSeqs.clear();
    conn.watching = true;
    conn.afterOwnCommit = this.onOwnCommit;
    this.openWatch();
    this.armTimer();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.fileWatch?.close();
    this.fileWatch = null;
    this.paused = false;
    this.conn.watching = false;
    this.conn.afterOwnCommit = null;
    this.conn.ownSeqs.clear();
  }

  /** Watch the file's directory for writes to the -wal file; without such reports the timer runs at full rate. */
  private openWatch(): void {
    const wal = `${basename(this.conn.path)}-wal`;
    try {
      const fw = watch(dirname(this.conn.path), { persistent: false }, (_event, name) => {
        if (name === wal) this.checkSoon();
      });
      this.fileWatch = fw;
      // A watch that fails later (directory gone, watch limit) leaves the timer alone, at full rate.
      fw.on('error', () => {
        fw.close();
        if (this.fileWatch !== fw) return; // stopped or paused already
        this.fileWatch = null;
        this.armTimer();
      });
    } catch {
      this.fileWatch = null;
    }
  }

  /** This connection committed: from its third commit within a turn, close the watch until the turn ends. */
  private readonly onOwnCommit = (): void => {
    if (!PAUSES_IN_BURSTS) return;
    if (this.ownCommits++ === 0) {
      setImmediate(this.turnEnded);
      return;
    }
    if (this.ownCommits < 3 || this.paused || !this.fileWatch) return;
    this.paused = true;
    this.fileWatch.close();
    this.fileWatch = null;
  };

  /** The turn of the event loop ended: watch again, then look for what others committed while the watch was closed. */
  private readonly turnEnded = (): void => {
    this.ownCommits = 0;
    if (!this.paused) return;
    this.paused = false;
    if (!this.timer) return; // stopped meanwhile
    this.openWatch();
    if (!this.fileWatch) this.armTimer();
    this.check();
  };

  private armTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.check(), this.fileWatch ? this.intervalMs * 5 : this.intervalMs);
    this.timer.unref();
  }

  /** One check per turn of the event loop however many file events came in it. */
  private checkSoon(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      if (this.timer) this.check();
    });
  }

  private check(): void {
    const conn = this.conn;
    if (!conn.db.open) return this.stop();
    const v = conn.statements.dataVersion.get() as number;
    if (v === this.dataVersion) {
      // Nobody else committed since the last scan: every newer row is ours, so move past them.
      for (const seq of conn.ownSeqs) if (seq > this.seenSeq) this.seenSeq = seq;
      conn.ownSeqs.clear();
      return;
    }
    this.dataVersion = v;
    const events: StoreEvent[] = [];
    for (;;) {
      const rows = conn.statements.jobsAddedAfter.all(this.seenSeq) as AddedRow[];
      for (const r of rows) {
        this.seenSeq = r.seq;
        if (conn.ownSeqs.delete(r.seq)) continue;
        // A job is added scheduled exactly when it is due after its creation time.
        const scheduled = r.run_at > r.created_at;
        events.push({ type: scheduled ? 'scheduled' : 'queued', queue: r.queue, jobId: r.id, at: r.created_at, runAt: r.run_at });
      }
      if (rows.length < 1000) break;
    }
    for (const seq of conn.ownSeqs) if (seq <= this.seenSeq) conn.ownSeqs.delete(seq);
    for (;;) {
      const rows = conn.statements.workAfter.all(this.seenWork) as WorkRow[];
      for (const r of rows) {
        this.seenWork = r.seq;
        if (r.origin === conn.origin) continue;
        const e: StoreEvent = { type: r.type, queue: r.queue, at: r.at };
        if (r.job_id !== null) e.jobId = r.job_id;
        if (r.run_at !== null) e.runAt = r.run_at;
        events.push(e);
      }
      if (rows.length < 1000) break;
    }
    conn.emit(events);
  }
}
