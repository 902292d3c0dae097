// The worker registry, in the global slot: each worker's info with an expiry, renewed by its beat.
import type { BeatWorker, ListWorkers, WorkerInfo, WorkerRef } from '../../core/store.js';
import { workerBeatScript, workerGoneScript, workersLiveScript } from './script-calls.js';
import type { RedisContext } from './context.js';

export class Workers {
  constructor(private readonly ctx: RedisContext) {}

  async beatWorker({ worker, ttlMs }: BeatWorker): Promise<void> {
    await this.ctx.run(workerBeatScript({
      globalKeyBase: this.ctx.keys.globalKeyBase, id: worker.id, infoJson: JSON.stringify(worker), expiresAt: worker.lastSeenAt + ttlMs,
    }));
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    await this.ctx.run(workerGoneScript({ globalKeyBase: this.ctx.keys.globalKeyBase, id }));
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    const infos = await this.ctx.run(workersLiveScript({ globalKeyBase: this.ctx.keys.globalKeyBase, now }));
    return infos.filter((x): x is string => x !== null).map((x) => JSON.parse(x) as WorkerInfo)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
