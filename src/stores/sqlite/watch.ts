// Cross-process wake-up. PRAGMA data_version changes only when another connection commits, so a
// check that finds nothing costs one tiny statement; on a change, jobs added since the last seen
// seq become 'queued'/'scheduled' events, as if added here. A commit by another process writes
// the -wal file, so a watch on the directory (inotify) runs the check at once; the timer stays as
// the fallback where the file system has no such events, and for a check that ran before the
// writer published its commit. Work an UPDATE made (retry, promote, reschedule, release, lease
// recovery, a cancel request, a resumed queue) comes from the work_log table the same way.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { StoreEvent } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';

interface AddedRow { seq: number; id: string; queue: string; run_at: number; created_at: number }
interface WorkRow { seq: number; origin: string; type: StoreEvent['type']; queue: string; job_id: string | null; at: number; run_at: number | null }

export class CrossProcessWatcher {
  private timer: NodeJS.Timeout | null = null;
  private fileWatch: FSWatcher | null = null;
  private checkQueued = false;
  private dataVersion = 0;
  /** Highest seq already reported (or present when watching began). */
  private seenSeq = 0;
  /** Highest work_log seq already read. */
  private seenWork = 0;

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
    const wal = `${basename(conn.path)}-wal`;
    try {
      this.fileWatch = watch(dirname(conn.path), { persistent: false }, (_event, name) => {
        if (name === wal) this.checkSoon();
      });
      // A watch that fails later (directory gone, watch limit) leaves the timer alone, at full rate.
      const fw = this.fileWatch;
      fw.on('error', () => {
        fw.close();
        if (this.fileWatch !== fw) return; // stopped already
        this.fileWatch = null;
        this.armTimer();
      });
    } catch {
      this.fileWatch = null;
    }
    this.armTimer();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.fileWatch?.close();
    this.fileWatch = null;
    this.conn.watching = false;
    this.conn.ownSeqs.clear();
  }

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
