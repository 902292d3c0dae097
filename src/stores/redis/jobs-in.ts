// Jobs in: the add script (one per queue and chunk), and on Cluster the id index written after it
// (another slot). Adds arriving together were already coalesced by the enqueue funnel
// (core/enqueue.ts), which keeps a few adds in the air.
import type { Job, NewJob } from '../../core/job.js';
import { newJobView } from '../../core/job.js';
import type { AddJobs } from '../../core/store.js';
import type { Raw } from './runner.js';
import { NotReplicatedError } from './replica-wait.js';
import { addScript, type AddAnswer, type AddResult } from './script-calls.js';
import { addArgsOf, rowToJob, type AddRows } from './codec.js';
import { groupPositions, type RedisContext } from './context.js';

/** Most jobs in one add script: a larger add goes in chunks (atomic per chunk). */
const MAX_ADD_BATCH = 2000;

type Added = { job: Job; created: boolean };

interface AddRowsOptions {
  createdAt?: number[];
  madeIds?: boolean;
}

/** Whether an add's answer says it created a job: a count, a hand-off token, or a 1 among the per-job answers. */
const createdAny = (answer: AddAnswer): boolean => typeof answer !== 'object' || answer.some((result) => result === 1);

/** A lone job an add handed at once to the registration of this token (claim.ts: its worker may be here). */
export type HandedByAdd = (token: string, row: Raw, now: number) => void;

export class JobsIn {
  /** Set once the store is built: the hand-off side (claim.ts), which starts the job if its worker is here. */
  handed: HandedByAdd | null = null;

  /** `getJob`: a job wherever it is (an id the add found in another queue). */
  constructor(private readonly ctx: RedisContext, private readonly getJob: (id: string) => Promise<Job | null>) {}

  addJobs({ jobs, now }: AddJobs): Promise<Added[]> {
    if (jobs.length === 0) return Promise.resolve([]);
    // Every job is encoded before any script goes: a job that cannot be (a payload JSON cannot
    // hold) fails the whole add with nothing written, whichever queues it spans.
    let encoded: AddRows;
    try {
      encoded = addArgsOf(jobs);
    } catch (err) {
      return Promise.reject(err);
    }
    const { rows } = encoded;
    const first = jobs[0]!.queue;
    if (jobs.every((j) => j.queue === first)) return this.addToQueue(first, jobs, rows, now, encoded.madeIds);
    return this.addToQueues(jobs, rows, now, encoded.madeIds);
  }

  private async addToQueues(jobs: NewJob[], rows: Raw[], now: number, madeIds: boolean): Promise<Added[]> {
    const out: Added[] = new Array(jobs.length);
    // Each queue's part is one script: a store failure between parts can still leave some queues'
    // jobs added (a retry with the same ids adds the rest; see the Store contract).
    await Promise.all([...groupPositions(jobs, (j) => j.queue)].map(async ([queue, positions]) => {
      const added = await this.addToQueue(queue, positions.map((i) => jobs[i]!), positions.map((i) => rows[i]!), now, madeIds);
      positions.forEach((position, k) => (out[position] = added[k]!));
    }));
    return out;
  }

  /**
   * Add encoded jobs (addArgs rows) to a queue, one script per MAX_ADD_BATCH. `createdAt`: each
   * job's, where known (not for the outbox's stored rows): on a lean prefix a due job whose runAt is
   * its createdAt is stored without ra. `madeIds`: every id is one Fusion made (AddRows.madeIds).
   */
  addRows(queue: string, rows: Raw[], now: number, opts: AddRowsOptions = {}): Promise<AddAnswer> {
    if (!this.ctx.registeredQueues.has(queue)) return this.ctx.registerQueue(queue).then(() => this.addRows(queue, rows, now, opts));
    if (rows.length <= MAX_ADD_BATCH) return this.addChunk(queue, rows, now, opts);
    return this.addChunks(queue, rows, now, opts);
  }

  private async addChunks(queue: string, rows: Raw[], now: number, opts: AddRowsOptions): Promise<AddResult[]> {
    const results: AddResult[] = [];
    for (let i = 0; i < rows.length; i += MAX_ADD_BATCH) {
      const chunk = rows.slice(i, i + MAX_ADD_BATCH);
      const answer = await this.addChunk(queue, chunk, now, { ...opts, createdAt: opts.createdAt?.slice(i, i + MAX_ADD_BATCH) });
      for (let k = 0; k < chunk.length; k++) results.push(typeof answer !== 'object' ? 1 : answer[k]!);
    }
    return results;
  }

  private addChunk(queue: string, rows: Raw[], now: number, { createdAt, madeIds }: AddRowsOptions): Promise<AddAnswer> {
    const { ctx } = this;
    const call = addScript({
      queueKeyBase: ctx.keys.queueKeyBase(queue), idIndexKey: ctx.keys.scriptIdIndex, channel: ctx.keys.scriptChannel, queue, now, lean: ctx.leanJobs,
    }, rows, createdAt, madeIds);
    const sent = ctx.runAdd(call, createdAny);
    if (!ctx.cluster) return sent;
    const index = async (answer: AddAnswer) => {
      const created = rows.filter((_, k) => typeof answer !== 'object' || answer[k] === 1).flatMap((row) => [row[0]!, queue]);
      if (created.length) await ctx.client.hset(ctx.keys.idIndex, ...created);
    };
    return sent.then(
      async (answer) => {
        await index(answer);
        return answer;
      },
      // Stored, but not confirmed by the replicas: indexed all the same (a retry finds the job and writes no index).
      async (err: unknown) => {
        if (err instanceof NotReplicatedError) await index(err.answer as AddAnswer);
        throw err;
      },
    );
  }

  private addToQueue(queue: string, jobs: NewJob[], rows: Raw[], now: number, madeIds: boolean): Promise<Added[]> {
    return this.addRows(queue, rows, now, { createdAt: jobs.map((job) => job.createdAt), madeIds }).then(
      (answer) => {
        if (typeof answer === 'string') answer = this.startHanded(answer, rows[0]!, now);
        if (typeof answer === 'number') return jobs.map((job) => ({ job: newJobView(job, job.runAt > now ? 'scheduled' : 'queued'), created: true }));
        return this.answered(queue, jobs, answer, now);
      },
      (err: unknown) => {
        // Stored but not confirmed by the replicas: a job handed to a worker here still starts (if
        // the hand-off message has not started it already).
        if (err instanceof NotReplicatedError && typeof err.answer === 'string') this.startHanded(err.answer, rows[0]!, now);
        throw err;
      },
    );
  }

  /**
   * Handed at once to an idle worker: if that worker is in this process it starts the job now.
   * The answer comes before the hand-off message (Redis writes the script's caller first), and
   * the rest of this add's promise chain runs before the message is read; where adds wait for
   * replicas the message may come first, and whichever comes second finds the job started.
   * A throw there must not fail an add Redis made: the job stays leased until the lease lapses, and
   * the lease sweep then takes it back as a stall (as after a worker's crash).
   */
  private startHanded(token: string, row: Raw, now: number): 1 {
    try {
      this.handed?.(token, row, now);
    } catch (err) {
      this.ctx.lastError = err as Error;
    }
    return 1;
  }

  private async answered(queue: string, jobs: NewJob[], results: AddResult[], now: number): Promise<Added[]> {
    const out: Added[] = new Array(jobs.length);
    const inOtherQueue: number[] = [];
    for (let k = 0; k < jobs.length; k++) {
      const job = jobs[k]!;
      const result = results[k]!;
      if (result === 1) out[k] = { job: newJobView(job, job.runAt > now ? 'scheduled' : 'queued'), created: true };
      else if (typeof result !== 'number' && result[0] === 0) out[k] = { job: rowToJob(job.id, queue, result[1] as string[])!, created: false };
      else inOtherQueue.push(k);
    }
    // The id exists in another queue (single Redis only: the index says where).
    for (const k of inOtherQueue) out[k] = { job: (await this.getJob(jobs[k]!.id))!, created: false };
    return out;
  }
}
