// The worker registry: each worker's heartbeat row, with an expiry; listing drops the expired.
import type { WorkerInfo } from '../../core/store.js';
import type { PostgresContext } from './context.js';

export async function beatWorker(ctx: PostgresContext, info: WorkerInfo, ttlMs: number): Promise<void> {
  await ctx.pool.query({ ...ctx.statements.workerBeat, values: [info.id, JSON.stringify(info), info.lastSeenAt + ttlMs] });
}

export async function removeWorker(ctx: PostgresContext, id: string): Promise<void> {
  await ctx.pool.query(ctx.statements.workerGone, [id]);
}

export async function listWorkers(ctx: PostgresContext, now: number): Promise<WorkerInfo[]> {
  const { rows } = await ctx.pool.query<{ info: WorkerInfo }>(ctx.statements.workersLive, [now]);
  return rows.map((r) => r.info);
}
