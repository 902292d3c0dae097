// The worker registry: each live worker's row, kept by its beats, gone when its beats stop.
import type { WorkerInfo } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';

export function beatWorker(conn: SqliteConnection, info: WorkerInfo, ttlMs: number): void {
  conn.statements.upsertWorker.run(info.id, JSON.stringify(info), info.lastSeenAt + ttlMs);
}

export function removeWorker(conn: SqliteConnection, id: string): void {
  conn.statements.deleteWorker.run(id);
}

export function listWorkers(conn: SqliteConnection, now: number): WorkerInfo[] {
  conn.statements.deleteExpiredWorkers.run(now);
  return (conn.statements.liveWorkers.all(now) as { info: string }[]).map((r) => JSON.parse(r.info));
}
