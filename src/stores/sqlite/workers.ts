// The worker registry: each live worker's row, kept by its beats, gone when its beats stop.
import type { WorkerInfo } from '../../core/store.js';
import type { SqliteConnection } from './connection.js';

export function beatWorker(c: SqliteConnection, info: WorkerInfo, ttlMs: number): void {
  c.statements.upsertWorker.run(info.id, JSON.stringify(info), info.lastSeenAt + ttlMs);
}

export function removeWorker(c: SqliteConnection, id: string): void {
  c.statements.deleteWorker.run(id);
}

export function listWorkers(c: SqliteConnection, now: number): WorkerInfo[] {
  c.statements.deleteExpiredWorkers.run(now);
  return (c.statements.liveWorkers.all(now) as { info: string }[]).map((r) => JSON.parse(r.info));
}
