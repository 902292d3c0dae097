// The worker registry, in the global slot: each worker's info with an expiry, renewed by its beat.
import type { BeatWorker, ListWorkers, WorkerInfo, WorkerRef } from '../../core/store.js';
import { workerBeatScript, workerGoneScript, workersLiveScript } from './script-calls.js';
import type { RedisContext } from './context.js';
import { LEAN_READER } from './codec.js';

/** A worker's info as the registry gives it: the store's own mark left out. */
function withoutLeanReader(info: WorkerInfo & { readsLeanJobs?: boolean }): WorkerInfo {
  delete info.readsLeanJobs;
  return info;
}

export class Workers {
  constructor(private readonly ctx: RedisContext) {}

  /**
   * The info carries LEAN_READER, which `fusion store upgrade` looks for before marking the prefix
   * lean (a worker without it is of an earlier version); the beat answers the prefix's format.
   */
  async beatWorker({ worker, ttlMs }: BeatWorker): Promise<void> {
    this.ctx.setFormat(await this.ctx.run(workerBeatScript({
      globalKeyBase: this.ctx.keys.globalKeyBase, id: worker.id, infoJson: JSON.stringify({ ...worker, ...LEAN_READER }),
      expiresAt: worker.lastSeenAt + ttlMs,
    })));
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    await this.ctx.run(workerGoneScript({ globalKeyBase: this.ctx.keys.globalKeyBase, id }));
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    const infos = await this.ctx.run(workersLiveScript({ globalKeyBase: this.ctx.keys.globalKeyBase, now }));
    return infos.filter((x): x is string => x !== null).map((x) => withoutLeanReader(JSON.parse(x) as WorkerInfo & { readsLeanJobs?: boolean }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
