// The Redis store. Every state change is one Lua script (lua/, called through script-calls.ts) on one hash-tag slot, so the
// same code runs on a single Redis and on Redis Cluster. What a slot cannot hold atomically across
// queues (follow-up jobs of an outcome, jobs of a schedule) goes through an outbox in the source
// slot, written in the same script and delivered right after; a sweep redelivers if a process died
// in between, and delivery is idempotent by job id.
import { randomBytes } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import type { Job, JobState, LogLine, NewJob } from '../../core/job.js';
import { FINISHED_STATES, JOB_STATES, isFinished, newJobView } from '../../core/job.js';
import { conflict, notFound, FusionError } from '../../core/errors.js';
import type {
  ClaimRequest, ClaimResult, CleanQuery, HeartbeatResult, ListQuery, Outcome, Page, QueueInfo, RecoverResult,
  ScheduleRecord, StateCounts, Store, StoreEvent, StoreEventType, StoreListener, WorkerInfo,
} from '../../core/store.js';
import type {
  AddJobs, AdvanceSchedule, BeatWorker, CountJobs, DueSchedules, FinishAndClaimJobs, FinishJobs, HandoffJobs,
  HeartbeatJobs, JobAction, JobRef, ListWorkers, LogJob, ProgressJob, PromoteDueJobs, QueueAction,
  RecoverExpiredJobs, RescheduleJob, RetryJob, SaveSchedule, ScheduleRef, SetQueueOptions, WorkerRef,
  StoreCapabilities,
} from '../../core/store.js';
import { ScheduleConflict, emptyCounts } from '../../core/store.js';
import { refusal, type OperatorAction } from '../../core/state-rules.js';
import { ScriptRunner, type Raw } from './runner.js';
import {
  addScript, claimScript, cleanScript, finishScript, heartbeatScript, jobOpScript, logScript, progressScript, promoteDueScript,
  queueInfoScript, queueSetScript, recoverScript, releaseClaimScript, scheduleAdvanceScript, scheduleRemoveScript,
  scheduleUpsertScript, statePageScript, sweepLockScript, sweepUnlockScript, workerBeatScript, workerGoneScript, workersLiveScript,
  type AddResult, type ClaimAnswer, type ScriptCall,
} from './script-calls.js';
import { FIELDS, addArgs, claimedJobs, hashToSchedule, outcomeArgs, rowIds, rowToJob } from './codec.js';
import type { RedisClient, RedisTarget } from './connect.js';
import { RedisSharedState } from './shared-state.js';
import type { SharedState } from '../../core/store.js';
import { Handoffs, type Handed, type Registration, type Ticket } from './handoff.js';

export interface RedisStoreOptions {
  /** Key prefix (default "fusion"). Stores with different prefixes share a Redis without seeing each other. */
  prefix?: string;
  /**
   * How scripts run: 'auto' (default) as a function library (FCALL) where Redis has functions
   * (7.0+), as EVALSHA otherwise; 'eval' always as EVALSHA.
   */
  scripts?: 'auto' | 'eval';
  /**
   * How long the sweep lock (one recoverExpired at a time across processes) lasts without renewal
   * (default 5000 ms). A sweep renews it as it goes; a sweeper that dies or loses its connection
   * holds recovery up for at most this long. Keep it at most about the shortest lease.
   */
  sweepLockMs?: number;
}

/**
 * A claim script in the air (claim, or finish with a claim). If its connection drops
 * before the answer, ioredis sends it again after the reconnect, and jobs the first run leased are
 * nobody's: they share its token and lease end, so the store finds them and puts them back.
 */
interface ClaimCall {
  queue: string;
  token: string;
  leaseUntil: number;
  /** The connection closed while it was in the air: its answer, if any, may be a resend's. */
  dropped: boolean;
}

/** A lost claim's leftovers to put back: the ids the client did get, the registration it knows, and whether it failed. */
interface LostClaim {
  call: ClaimCall;
  keep: string[];
  keepReg: string;
  failed: boolean;
}

/** Jobs of one outbox entry: [queue, ...ADD args] each, added at `now`. */
interface OutboxEntry {
  now: number;
  jobs: [string, ...Raw][];
}

/** Most jobs in one ADD script: a larger add goes in chunks (atomic per chunk). */
const MAX_ADD_BATCH = 2000;
const LIST_SCAN_BUDGET = 5000;
/**
 * A field of the id index that keeps it a hash table from its first job. As a listpack (up to
 * hash-max-listpack-entries, 512 by default) every add's HSETNX scans it: ~25k instructions per add
 * on average over ids 200-512 (callgrind), for good in a deployment whose retention keeps it small.
 * A field longer than hash-max-listpack-value converts it. It starts with byte 255, which no UTF-8
 * id holds, and no reader enumerates the index.
 */
const IDX_ANCHOR = Buffer.concat([Buffer.from([255]), Buffer.from('~'.repeat(80))]);
const SWEEP_LOCK_MS = 5000;
/** Expired leases one recovery script takes: a sweep renews its lock between such batches. */
const RECOVER_BATCH = 500;

export class RedisStore implements Store {
  readonly capabilities: StoreCapabilities = {
    finishAndClaim: (p) => this.finishAndClaimJobs(p),
    handoff: (p) => this.handoffJobs(p),
    /** Each call is a network round trip: workers keep two outcome batches in flight. */
    pipelined: true,
    workEvents: (listener) => this.subscribe(listener, { workOnly: true }),
  };
  readonly prefix: string;
  readonly cluster: boolean;
  readonly client: RedisClient;
  private sub: RedisClient | null = null;
  private subReady: Promise<void> | null = null;
  /** listener → whether it wants every event, not only WORK_EVENTS. */
  private listeners = new Map<StoreListener, boolean>();
  private fullSubscribed = false;
  /** The hash-tag base of global keys (schedules, workers, the sweep lock). */
  private readonly globalKeyBase: string;
  /** Channels: every event but the work events, and the work events (see lua/lib/events.lua). */
  private readonly chan: string;
  private readonly workChan: string;
  /** Hand-off channels are this plus a worker id (handOff in lua/lib/handoff.lua). */
  private readonly handChan: string;
  /** The channel the scripts publish on (see publishEvents in lua/lib/events.lua). */
  private readonly scriptChannel: string;
  private handoffs = new Handoffs();
  /** The id → queue hash. */
  private readonly idIndexKey: string;
  /** The id index where scripts keep it in the same step (a single Redis); undefined on Cluster, where the store writes it after. */
  private readonly scriptIdIndexKey: string | undefined;
  /** Queues this process has registered in the global queue set. */
  private registered = new Set<string>();
  /** Queues this process's workers claim from: they get a wake after an event-connection reconnect. */
  private claimedQueues = new Set<string>();
  /** id → queue for jobs this process claimed: spares an index lookup on heartbeat and finish. */
  private queueOfJob = new Map<string, string>();
  private tokenPrefix = randomBytes(6).toString('base64url');
  private tokenSeq = 0;
  private closed = false;
  private readonly scripts: ScriptRunner;
  private readonly sweepLockMs: number;
  private calls = new Set<ClaimCall>();
  private lost: LostClaim[] = [];
  private releasing: Promise<void> | null = null;
  private releaseTimer: NodeJS.Timeout | null = null;
  /** The last connection error seen, for diagnostics. */
  lastError: Error | null = null;
  /** Counters for diagnostics and tests: lost claims put back (and their jobs), sweep lock renewals. */
  readonly stats = { lostClaims: 0, releasedJobs: 0, sweepRenewals: 0 };
  private sharedState?: RedisSharedState;
  get shared(): SharedState { return (this.sharedState ??= new RedisSharedState(this.client, this.prefix)); }
  constructor(private target: RedisTarget, opts: RedisStoreOptions = {}) {
    this.prefix = opts.prefix ?? target.prefix ?? 'fusion';
    if (!/^[^{}\s]{1,100}$/.test(this.prefix)) {
      throw new FusionError('invalid_store', 'a Redis key prefix must be 1-100 characters without braces or spaces', { prefix: this.prefix });
    }
    this.cluster = target.cluster;
    this.globalKeyBase = `{${this.prefix}}`;
    this.chan = `${this.prefix}:events`;
    this.workChan = `${this.chan}:w`;
    this.handChan = `${this.chan}:h:`;
    // On a single Redis, scripts may skip events nobody subscribes to (see publishEvents in lua/lib/events.lua).
    this.scriptChannel = this.cluster ? this.chan : `?${this.chan}`;
    this.idIndexKey = `${this.globalKeyBase}:ids`;
    this.scriptIdIndexKey = this.cluster ? undefined : this.idIndexKey;
    this.client = target.create(`${this.prefix}:cmd`);
    this.scripts = new ScriptRunner(this.client, (opts.scripts ?? 'auto') === 'auto');
    this.sweepLockMs = Math.max(50, opts.sweepLockMs ?? SWEEP_LOCK_MS);
    // Connection errors surface as failed calls (and ping() for readiness); ioredis reconnects on its own.
    this.client.on('error', (err: Error) => (this.lastError = err));
    this.client.on('ready', () => {
      // A Redis that restarted without its data has lost the queue set: register queues again on next use.
      this.registered.clear();
      if (this.lost.length) void this.releaseLost().catch(() => this.retryRelease());
    });
    const dropped = () => {
      for (const c of this.calls) c.dropped = true;
    };
    this.client.on('close', dropped);
    if (this.client instanceof Cluster) this.client.on('+node', (node: Redis) => node.on('close', dropped));
  }

  /** The hash-tag base of a queue's keys. */
  private queueKeyBase(queue: string): string {
    return `{${this.prefix}:${queue}}`;
  }

  private run<T>(call: ScriptCall<T>): Promise<T> {
    // A listener that just subscribed must see the events of the calls that follow it.
    if (this.subReady) return this.subReady.then(() => this.scripts.call(call));
    return this.scripts.call(call);
  }

  private remember(id: string, queue: string): void {
    if (this.queueOfJob.size >= 100_000) this.queueOfJob.delete(this.queueOfJob.keys().next().value!);
    this.queueOfJob.set(id, queue);
  }

  private async register(queue: string): Promise<void> {
    if (this.registered.has(queue)) return;
    await Promise.all([this.client.sadd(`${this.globalKeyBase}:queues`, queue), this.client.hsetnx(this.idIndexKey, IDX_ANCHOR, '1')]);
    this.registered.add(queue);
  }

  private async allQueues(): Promise<string[]> {
    return (await this.client.smembers(`${this.globalKeyBase}:queues`)).sort();
  }

  /** The queue of each id, from the cache, then the index; null if unknown. */
  private async queuesOf(ids: string[]): Promise<(string | null)[]> {
    const out = ids.map((id) => this.queueOfJob.get(id) ?? null);
    const missing = ids.filter((_, i) => out[i] === null);
    if (missing.length) {
      const found = await this.client.hmget(this.idIndexKey, ...missing);
      let k = 0;
      for (let i = 0; i < ids.length; i++) if (out[i] === null) out[i] = found[k++] ?? null;
    }
    return out;
  }

  private async locate(id: string): Promise<string | null> {
    const [q] = await this.queuesOf([id]);
    if (q) return q;
    if (!this.cluster) return null;
    // On Cluster the index is written after the job (another slot): look in every queue before saying no.
    for (const queue of await this.allQueues()) {
      if (await this.client.exists(`${this.queueKeyBase(queue)}:j:${id}`)) return queue;
    }
    return null;
  }

  // ---- jobs in ----

  /**
   * Add rows to a queue, one script per MAX_ADD_BATCH. Adds arriving together were already
   * coalesced by the enqueue funnel (core/enqueue.ts), which keeps a few adds in the air.
   */
  private async addRows(queue: string, rows: Raw[], now: number): Promise<AddResult[]> {
    if (!this.registered.has(queue)) await this.register(queue);
    if (rows.length <= MAX_ADD_BATCH) return this.addChunk(queue, rows, now);
    const res: AddResult[] = [];
    for (let i = 0; i < rows.length; i += MAX_ADD_BATCH) res.push(...(await this.addChunk(queue, rows.slice(i, i + MAX_ADD_BATCH), now)));
    return res;
  }

  private async addChunk(queue: string, rows: Raw[], now: number): Promise<AddResult[]> {
    const res = await this.run(addScript({
      queueKeyBase: this.queueKeyBase(queue), idIndexKey: this.scriptIdIndexKey, channel: this.scriptChannel, queue, now,
    }, rows));
    if (this.cluster) {
      const created = rows.filter((_, k) => res[k] === 1).flatMap((r) => [r[0]!, queue]);
      if (created.length) await this.client.hset(this.idIndexKey, ...created);
    }
    return res;
  }

  async addJobs({ jobs, now }: AddJobs): Promise<{ job: Job; created: boolean }[]> {
    if (jobs.length === 0) return [];
    // Every job is encoded before any script goes: a job that cannot be (a payload JSON cannot
    // hold) fails the whole add with nothing written, whichever queues it spans.
    const rows = jobs.map(addArgs);
    const first = jobs[0]!.queue;
    if (jobs.every((j) => j.queue === first)) return this.addToQueue(first, jobs, rows, now);
    const byQueue = new Map<string, number[]>();
    jobs.forEach((j, i) => {
      const list = byQueue.get(j.queue);
      if (list) list.push(i);
      else byQueue.set(j.queue, [i]);
    });
    const out: { job: Job; created: boolean }[] = new Array(jobs.length);
    // Each queue's part is one script: a store failure between parts can still leave some queues'
    // jobs added (a retry with the same ids adds the rest; see the Store contract).
    await Promise.all([...byQueue].map(async ([queue, positions]) => {
      const res = await this.addToQueue(queue, positions.map((i) => jobs[i]!), positions.map((i) => rows[i]!), now);
      positions.forEach((pos, k) => (out[pos] = res[k]!));
    }));
    return out;
  }

  private async addToQueue(queue: string, jobs: NewJob[], rows: Raw[], now: number): Promise<{ job: Job; created: boolean }[]> {
    const res = await this.addRows(queue, rows, now);
    const out: { job: Job; created: boolean }[] = new Array(jobs.length);
    const elsewhere: number[] = [];
    for (let k = 0; k < jobs.length; k++) {
      const j = jobs[k]!;
      const r = res[k]!;
      if (r === 1) out[k] = { job: newJobView(j, j.runAt > now ? 'scheduled' : 'queued'), created: true };
      else if (typeof r !== 'number' && r[0] === 0) out[k] = { job: rowToJob(j.id, queue, r[1] as string[])!, created: false };
      else elsewhere.push(k);
    }
    // The id exists in another queue (single Redis only: the index says where).
    for (const k of elsewhere) out[k] = { job: (await this.getJob({ id: jobs[k]!.id }))!, created: false };
    return out;
  }

  private async deliver(outboxKey: string, field: string, entry: string): Promise<void> {
    const e = JSON.parse(entry) as OutboxEntry;
    const byQueue = new Map<string, Raw[]>();
    for (const [queue, ...args] of e.jobs) {
      const list = byQueue.get(queue);
      if (list) list.push(args);
      else byQueue.set(queue, [args]);
    }
    for (const [queue, rows] of byQueue) await this.addRows(queue, rows, e.now);
    await this.client.hdel(outboxKey, field);
  }

  /** Redeliver outbox entries left by a process that died between an outcome and its delivery. */
  private async drainOutbox(outboxKey: string): Promise<void> {
    const [, flat] = await this.client.hscan(outboxKey, '0', 'COUNT', 100);
    for (let i = 0; i < flat.length; i += 2) await this.deliver(outboxKey, flat[i]!, flat[i + 1]!);
  }

  private outboxEntry(jobs: NewJob[], now: number): string {
    const e: OutboxEntry = { now, jobs: jobs.map((j) => [j.queue, ...addArgs(j)]) };
    return JSON.stringify(e);
  }

  // ---- workers' hot path ----

  private newToken(): string {
    return `${this.tokenPrefix}.${(this.tokenSeq++).toString(36)}`;
  }

  async claimJobs(req: ClaimRequest): Promise<ClaimResult> {
    // Jobs of claims whose answers were lost go back first: a worker asks again only once they are.
    if (this.lost.length) await this.releaseLost();
    const out: ClaimResult = { jobs: [], nextWakeAt: null };
    const token = this.newToken();
    for (const queue of req.queues) {
      const limit = req.limit - out.jobs.length;
      if (limit <= 0) break;
      this.claimedQueues.add(queue);
      const t = this.handoffs.ticket(req, queue, limit, token);
      if (t.limit <= 0) continue;
      const call = this.startCall(queue, token, req);
      let reply: ClaimAnswer;
      try {
        reply = await this.run(claimScript({
          queueKeyBase: this.queueKeyBase(queue), channel: this.scriptChannel, queue, now: req.now, limit: t.limit, leaseMs: req.leaseMs,
          workerId: req.workerId, token, previous: t.prev, idleUntil: t.until, forget: this.handoffs.takeForgets(queue),
        }));
      } catch (err) {
        this.claimFailed(call, t);
        throw err;
      }
      const [rows, wake, reg, handed] = reply;
      const early = t.early;
      this.took(out, queue, rows, wake, token, req);
      this.settleTicket(t, reg, handed, req, out);
      await this.endCall(call, rows, early, reg);
    }
    return out;
  }

  private startCall(queue: string, token: string, req: ClaimRequest): ClaimCall {
    const call: ClaimCall = { queue, token, leaseUntil: req.now + req.leaseMs, dropped: false };
    this.calls.add(call);
    return call;
  }

  /**
   * A claim script answered. If its connection dropped meanwhile, the answer may be a resend's:
   * what the first run leased under the same token, other than what came back, is put back now.
   */
  private async endCall(call: ClaimCall, rows: string[], early: Handed | null, reg: string | null): Promise<void> {
    this.calls.delete(call);
    if (!call.dropped) return;
    const keep = rowIds(rows);
    if (early) keep.push(...rowIds(early.rows));
    this.lost.push({ call, keep, keepReg: reg ?? '', failed: false });
    // Best effort now; if the connection dropped again, the next claim (or the reconnect) does it.
    await this.releaseLost().catch(() => this.retryRelease());
  }

  /**
   * A claim script failed: it may or may not have run (a dropped connection, a Redis that gave up
   * mid-script). Whatever it leased is put back before this store claims again.
   */
  private claimFailed(call: ClaimCall, t: Ticket | null): void {
    this.calls.delete(call);
    const early = t?.early ?? null;
    if (t) this.abandon(t);
    this.lost.push({ call, keep: early ? rowIds(early.rows) : [], keepReg: '', failed: true });
    void this.releaseLost().catch(() => this.retryRelease());
  }

  /** Put back the jobs of lost claims, in order; rejects while Redis cannot be reached. */
  private releaseLost(): Promise<void> {
    this.releasing ??= (async () => {
      try {
        while (this.lost.length) {
          const { call, keep, keepReg, failed } = this.lost[0]!;
          const ids = await this.run(releaseClaimScript({
            queueKeyBase: this.queueKeyBase(call.queue), channel: this.scriptChannel, queue: call.queue, now: Date.now(), token: call.token,
            leaseUntilMin: call.leaseUntil - 0.5, leaseUntilMax: call.leaseUntil + 0.5, keepRegistration: keepReg, claimFailed: failed, kept: keep,
          }));
          this.lost.shift();
          this.stats.lostClaims++;
          this.stats.releasedJobs += ids.length;
        }
      } finally {
        this.releasing = null;
      }
    })();
    return this.releasing;
  }

  private retryRelease(): void {
    if (this.closed || this.releaseTimer || !this.lost.length) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      void this.releaseLost().catch(() => this.retryRelease());
    }, 200);
    this.releaseTimer.unref();
  }

  /** After a claim with a hand-off ticket: run the jobs it handed back, take back an orphan registration. */
  private settleTicket(t: Ticket, reg: string | null, handed: string[] | null, req: ClaimRequest, out: ClaimResult): void {
    const { run, giveBack, orphan, early } = this.handoffs.settle(t, reg, handed);
    if (early) this.handTo(early.reg, early.handed, early.listener);
    const sent = t.sent;
    if (sent && run.length > 0) {
      for (const job of claimedJobs(run, t.queue, sent.token, t.worker, req.now, req.now + sent.leaseMs)) {
        this.remember(job.id, t.queue);
        out.jobs.push(job);
      }
    }
    if (sent && giveBack.length > 0) this.handTo(sent, { rows: giveBack, now: req.now }, null);
    if (orphan) void this.takeBack(orphan);
  }

  /**
   * Idle hand-off (handOff in lua/lib/handoff.lua): `listener` gets the jobs an add leased to this worker
   * because its last claim found the queue dry. Single-queue claims with idleMs register for it.
   */
  handoffJobs({ workerId, listener }: HandoffJobs): () => Promise<void> {
    this.handoffs.listen(workerId, listener);
    if (!this.sub) this.openSubscriber();
    this.whenSubscribed(this.sub!.subscribe(this.handChan + workerId));
    return async () => {
      const regs = this.handoffs.unlisten(workerId);
      await Promise.all(regs.map((r) => this.takeBack(r)));
      await (this.sub?.unsubscribe(this.handChan + workerId) as Promise<unknown> | undefined)?.catch(() => {});
    };
  }

  /** A failed claim's ticket; jobs a message brought for it meanwhile are still this worker's. */
  private abandon(t: Ticket): void {
    const early = this.handoffs.abandon(t);
    if (early) this.handTo(t, early.handed, early.listener);
  }

  /** Withdraw a registration; jobs an add already leased under it go back to the queue. */
  private async takeBack(reg: Registration): Promise<void> {
    if (reg.settled) return;
    this.handoffs.drop(reg);
    try {
      const [, , , handed] = await this.run(claimScript({
        queueKeyBase: this.queueKeyBase(reg.queue), channel: this.scriptChannel, queue: reg.queue, now: Date.now(), limit: 0,
        leaseMs: reg.leaseMs, workerId: reg.worker, token: reg.token, previous: reg.member, idleUntil: '', forget: '',
      }));
      if (handed) this.handoffs.forget(reg);
      if (handed?.length) await this.giveBack(claimedJobs(handed, reg.queue, reg.token, reg.worker, Date.now(), 0));
    } catch (err) {
      // The registration lapses on its own; jobs leased under it come back when their lease does.
      this.lastError = err as Error;
    }
  }

  /** Jobs leased to a worker that no longer takes them: back to queued, their attempt not counted. */
  private async giveBack(jobs: Job[]): Promise<void> {
    const at = Date.now();
    for (const j of jobs) this.remember(j.id, j.queue);
    await this.finishJobs({ outcomes: jobs.map((j) => ({ kind: 'released' as const, id: j.id, token: j.leaseToken!, at })) }).catch((err) => (this.lastError = err as Error));
  }

  /** Add a claim script's answer to a claim result. */
  private took(out: ClaimResult, queue: string, rows: string[], wake: string | null, token: string, req: ClaimRequest): void {
    if (rows.length > 0) {
      for (const job of claimedJobs(rows, queue, token, req.workerId, req.now, req.now + req.leaseMs)) {
        this.remember(job.id, queue);
        out.jobs.push(job);
      }
    }
    if (wake !== null && (out.nextWakeAt === null || Number(wake) < out.nextWakeAt)) out.nextWakeAt = Number(wake);
  }

  /** Group items by the queue of their job id; unknown ids go to `lost`. */
  private async groupByQueue<T extends { id: string }>(items: T[]): Promise<{ groups: Map<string, number[]>; lost: number[] }> {
    const queues = await this.queuesOf(items.map((x) => x.id));
    const groups = new Map<string, number[]>();
    const lost: number[] = [];
    queues.forEach((q, i) => {
      if (q === null) return void lost.push(i);
      const list = groups.get(q);
      if (list) list.push(i);
      else groups.set(q, [i]);
    });
    return { groups, lost };
  }

  async heartbeatJobs({ leases, leaseMs, now }: HeartbeatJobs): Promise<HeartbeatResult[]> {
    const out: HeartbeatResult[] = leases.map((l) => ({ id: l.id, ok: false, cancelRequested: false }));
    const { groups } = await this.groupByQueue(leases);
    await Promise.all([...groups].map(async ([queue, positions]) => {
      const res = await this.run(heartbeatScript({ queueKeyBase: this.queueKeyBase(queue), leaseUntil: now + leaseMs }, positions.map((p) => leases[p]!)));
      positions.forEach((p, k) => {
        out[p] = { id: leases[p]!.id, ok: res[k]! > 0, cancelRequested: res[k] === 2 };
      });
    }));
    return out;
  }

  async finishJobs({ outcomes }: FinishJobs): Promise<boolean[]> {
    return this.finishGroups(outcomes, (await this.groupByQueue(outcomes)).groups);
  }

  private async finishGroups(outcomes: Outcome[], groups: Map<string, number[]>): Promise<boolean[]> {
    const applied = outcomes.map(() => false);
    await Promise.all([...groups].map(([queue, positions]) => this.finishInQueue(queue, outcomes, positions, applied, null)));
    return applied;
  }

  /**
   * One script when the outcomes and the claim are all in one queue (a single-queue worker, the
   * usual case): the slot holds them all. Otherwise the outcomes first, then the claim.
   */
  async finishAndClaimJobs({ outcomes, claim: req }: FinishAndClaimJobs): Promise<{ applied: boolean[]; claim: ClaimResult }> {
    if (this.lost.length) await this.releaseLost();
    const { groups } = await this.groupByQueue(outcomes);
    const queue = req.queues[0]!;
    if (req.queues.length !== 1 || groups.size > 1 || (groups.size === 1 && !groups.has(queue))) {
      return { applied: await this.finishGroups(outcomes, groups), claim: await this.claimJobs(req) };
    }
    const applied = outcomes.map(() => false);
    const claim: ClaimResult = { jobs: [], nextWakeAt: null };
    await this.finishInQueue(queue, outcomes, groups.get(queue) ?? [], applied, { req, out: claim });
    return { applied, claim };
  }

  private async finishInQueue(
    queue: string, outcomes: Outcome[], positions: number[], applied: boolean[], claim: { req: ClaimRequest; out: ClaimResult } | null,
  ): Promise<void> {
    const token = claim ? this.newToken() : '';
    const req = claim?.req;
    if (claim) this.claimedQueues.add(queue);
    const t = req ? this.handoffs.ticket(req, queue, req.limit, token) : null;
    const forget = this.handoffs.takeForgets(queue);
    const finished = outcomeArgs(outcomes, positions);
    const { order } = finished;
    const outbox: Raw = [];
    order.forEach((p, x) => {
      const o = outcomes[p]!;
      if (o.enqueue?.length) outbox.push(x + 1, `${o.token}:${o.id}`, this.outboxEntry(o.enqueue, o.at));
    });
    const call = req ? this.startCall(queue, token, req) : null;
    let reply: [number[], ...ClaimAnswer];
    try {
      reply = await this.run(finishScript({
        queueKeyBase: this.queueKeyBase(queue), channel: this.scriptChannel, queue, claimLimit: Math.max(0, t?.limit ?? 0),
        workerId: req?.workerId ?? '', token, leaseMs: req?.leaseMs ?? 0, now: req?.now ?? 0, previous: t?.prev ?? '',
        idleUntil: t?.until ?? '', forget,
      }, finished, outbox));
    } catch (err) {
      if (call) this.claimFailed(call, t);
      throw err;
    }
    const [res, rows, wake, reg, handed] = reply;
    if (claim) {
      const early = t!.early;
      this.took(claim.out, queue, rows, wake, token, claim.req);
      this.settleTicket(t!, reg, handed, claim.req, claim.out);
      await this.endCall(call!, rows, early, reg);
    }
    for (let x = 0; x < order.length; x++) {
      if (res[x] !== 1) continue;
      const o = outcomes[order[x]!]!;
      applied[order[x]!] = true;
      if (o.kind !== 'released' && o.kind !== 'retry') this.queueOfJob.delete(o.id);
    }
    // Follow-up jobs: delivered now; the outbox keeps them if this process dies first.
    for (let x = 0; x < outbox.length; x += 3) {
      if (res[(outbox[x] as number) - 1] === 1) await this.deliver(`${this.queueKeyBase(queue)}:o`, outbox[x + 1] as string, outbox[x + 2] as string);
    }
  }

  async progressJob({ lease, progress, now }: ProgressJob): Promise<boolean> {
    const [queue] = await this.queuesOf([lease.id]);
    if (!queue) return false;
    const r = await this.run(progressScript({
      queueKeyBase: this.queueKeyBase(queue), channel: this.scriptChannel, queue, now, id: lease.id, token: lease.token,
      progressJson: JSON.stringify(progress ?? null) ?? 'null',
    }));
    return r === 1;
  }

  async logJob({ id, message, now }: LogJob): Promise<void> {
    const queue = await this.locate(id);
    if (queue) await this.run(logScript({ queueKeyBase: this.queueKeyBase(queue), id, at: now, message }));
  }

  async jobLogs({ id }: JobRef): Promise<LogLine[]> {
    const queue = await this.locate(id);
    if (!queue) return [];
    const lines = await this.client.lrange(`${this.queueKeyBase(queue)}:l:${id}`, 0, -1);
    return lines.map((l) => {
      const sp = l.indexOf(' ');
      return { at: Number(l.slice(0, sp)), message: l.slice(sp + 1) };
    });
  }

  /**
   * One sweep at a time across every process: a second sweeper would only race the first. The lock
   * holds this sweep's token for sweepLockMs and is renewed between batches once a third of that
   * has passed, so a sweeper that dies, or whose connection drops, holds recovery up for at most
   * sweepLockMs. Taking and renewing are one script that answers 1 when the token holds the lock,
   * so a take whose answer was lost and that ioredis sent again still reports it taken.
   */
  async recoverExpiredJobs({ now, limit = 1000 }: RecoverExpiredJobs): Promise<RecoverResult> {
    const res: RecoverResult = { requeued: [], failed: [], cancelled: [] };
    const lockToken = randomBytes(8).toString('hex');
    let lockedAt = performance.now();
    if ((await this.run(sweepLockScript({ globalKeyBase: this.globalKeyBase, token: lockToken, ttlMs: this.sweepLockMs }))) !== 1) return res;
    const held = async (): Promise<boolean> => {
      if (performance.now() - lockedAt < this.sweepLockMs / 3) return true;
      const sent = performance.now();
      if ((await this.run(sweepLockScript({ globalKeyBase: this.globalKeyBase, token: lockToken, ttlMs: this.sweepLockMs }))) !== 1) return false;
      lockedAt = sent;
      this.stats.sweepRenewals++;
      return true;
    };
    try {
      sweep: for (const queue of await this.allQueues()) {
        for (;;) {
          const n = Math.min(RECOVER_BATCH, limit - res.requeued.length - res.failed.length - res.cancelled.length);
          // Lost: the lock lapsed (this sweep stalled past it) and another sweeper carries on.
          if (n <= 0 || !(await held())) break sweep;
          const [rq, fl, cn] = await this.run(recoverScript({ queueKeyBase: this.queueKeyBase(queue), channel: this.scriptChannel, queue, now, limit: n }));
          res.requeued.push(...rq);
          res.failed.push(...fl);
          res.cancelled.push(...cn);
          if (rq.length + fl.length + cn.length < n) break;
        }
        if (!(await held())) break;
        await this.drainOutbox(`${this.queueKeyBase(queue)}:o`);
      }
      if (await held()) await this.drainOutbox(`${this.globalKeyBase}:o`);
    } finally {
      await this.run(sweepUnlockScript({ globalKeyBase: this.globalKeyBase, token: lockToken })).catch(() => {});
    }
    return res;
  }

  async promoteDueJobs({ now, limit = 10_000 }: PromoteDueJobs): Promise<number> {
    let moved = 0;
    for (const queue of await this.allQueues()) {
      if (moved >= limit) break;
      moved += await this.run(promoteDueScript({ queueKeyBase: this.queueKeyBase(queue), channel: this.scriptChannel, queue, now, limit: limit - moved }));
    }
    return moved;
  }

  // ---- reads ----

  async getJob({ id }: JobRef): Promise<Job | null> {
    const queue = await this.locate(id);
    if (!queue) return null;
    return rowToJob(id, queue, await this.client.hmget(`${this.queueKeyBase(queue)}:j:${id}`, ...FIELDS));
  }

  /**
   * Without a state: newest first (by enqueue seq) across queues, with a seq cursor. With a state:
   * that state's own index order (queued in run order, scheduled by due time, active by lease,
   * finished newest end first) with an offset cursor, like BullMQ's getJobs.
   */
  async listJobs(q: ListQuery): Promise<Page<Job>> {
    const queues = q.queue !== undefined ? [q.queue] : await this.allQueues();
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
    const batch = q.task !== undefined ? 200 : limit + 1;
    const byState = q.state !== undefined;
    let cur: Cursor = q.cursor !== undefined ? parseCursor(q.cursor, byState) : byState ? { offset: 0 } : null;
    const items: { job: Job; after: Cursor }[] = [];
    let scanned = 0;
    for (;;) {
      const cands = byState
        ? await this.statePage(queues, q.state!, (cur as { offset: number }).offset, batch)
        : await this.seqPage(queues, cur as SeqCursor | null, batch);
      const rows = await Promise.all(cands.map((c) => this.client.hmget(`${this.queueKeyBase(c.queue)}:j:${c.id}`, ...FIELDS)));
      for (let i = 0; i < cands.length && items.length <= limit; i++) {
        const c = cands[i]!;
        cur = byState ? { offset: (cur as { offset: number }).offset + 1 } : { seq: c.seq!, queue: c.queue };
        scanned++;
        const job = rowToJob(c.id, c.queue, rows[i]!);
        if (!job || (q.task !== undefined && job.task !== q.task)) continue;
        items.push({ job, after: cur });
      }
      if (items.length > limit) {
        return { items: items.slice(0, limit).map((x) => x.job), nextCursor: cursorOf(items[limit - 1]!.after) };
      }
      if (cands.length < batch) return { items: items.map((x) => x.job), nextCursor: null };
      // A filtered list over a long history answers with what it found and a cursor to go on, never an unbounded scan.
      if (scanned >= LIST_SCAN_BUDGET) return { items: items.map((x) => x.job), nextCursor: cursorOf(cur) };
    }
  }

  /** Up to `count` jobs after the cursor, ordered (seq desc, queue desc) across queues. */
  private async seqPage(queues: string[], cur: SeqCursor | null, count: number): Promise<Cand[]> {
    const lists = await Promise.all(queues.map(async (queue) => {
      const max = cur === null ? '+inf' : queue < cur.queue ? String(cur.seq) : `(${cur.seq}`;
      const r = await this.client.zrevrangebyscore(`${this.queueKeyBase(queue)}:a`, max, '-inf', 'WITHSCORES', 'LIMIT', 0, count);
      const out: Cand[] = [];
      for (let i = 0; i < r.length; i += 2) out.push({ id: r[i]!, seq: Number(r[i + 1]), queue });
      return out;
    }));
    return lists.flat().sort((a, b) => b.seq! - a.seq! || (a.queue < b.queue ? 1 : a.queue > b.queue ? -1 : 0)).slice(0, count);
  }

  /** Jobs [offset, offset+count) of one state, merged across queues in the state's index order. */
  private async statePage(queues: string[], state: JobState, offset: number, count: number): Promise<Cand[]> {
    const rev = isFinished(state);
    const lists = await Promise.all(queues.map(async (queue) => {
      const r = await this.run(statePageScript({ queueKeyBase: this.queueKeyBase(queue), state, offset: 0, count: offset + count, reverse: rev }));
      const out: Cand[] = [];
      for (let i = 0; i < r.length; i += 2) {
        const sc = r[i + 1]!;
        // queued: "-priority:seq" → compare priority band, then seq (fixed width, so numeric order).
        const [a, b] = sc.includes(':') ? sc.split(':') : [sc, '0'];
        out.push({ id: r[i]!, queue, key: [Number(a), Number(b)] });
      }
      return out;
    }));
    const dir = rev ? -1 : 1;
    return lists.flat()
      .sort((x, y) => dir * (x.key![0] - y.key![0] || x.key![1] - y.key![1]) || (x.queue < y.queue ? -1 : x.queue > y.queue ? 1 : 0))
      .slice(offset, offset + count);
  }

  private async queueInfo(queue: string): Promise<{ meta: Record<string, string>; counts: StateCounts; oldest: number | null }> {
    const [metaFlat, counts, oldest] = await this.run(queueInfoScript({ queueKeyBase: this.queueKeyBase(queue) }));
    const meta: Record<string, string> = {};
    for (let i = 0; i < metaFlat.length; i += 2) meta[metaFlat[i]!] = metaFlat[i + 1]!;
    const c = emptyCounts();
    JOB_STATES.forEach((s, i) => (c[s] = counts[i]!));
    return { meta, counts: c, oldest: oldest ? (JSON.parse(oldest) as { createdAt: number }).createdAt : null };
  }

  async countJobs({ queue }: CountJobs = {}): Promise<Record<string, StateCounts>> {
    const queues = queue !== undefined ? [queue] : await this.allQueues();
    const infos = await Promise.all(queues.map((x) => this.queueInfo(x)));
    return Object.fromEntries(queues.map((x, i) => [x, infos[i]!.counts]));
  }

  async listQueues(): Promise<QueueInfo[]> {
    const names = await this.allQueues();
    const infos = await Promise.all(names.map((x) => this.queueInfo(x)));
    return names.map((name, i) => {
      const { meta, counts, oldest } = infos[i]!;
      return {
        name,
        paused: meta.paused === '1',
        rateLimit: meta.rmax !== undefined ? { max: Number(meta.rmax), windowMs: Number(meta.rwin) } : null,
        concurrency: meta.conc !== undefined ? Number(meta.conc) : null,
        counts,
        oldestQueuedAt: oldest,
      };
    });
  }

  // ---- operator actions ----

  private async jobOp(action: OperatorAction, id: string, now: number, argument: string | number = ''): Promise<Job | null> {
    const queue = await this.locate(id);
    if (!queue) throw notFound('job', id);
    const r = await this.run(jobOpScript({
      queueKeyBase: this.queueKeyBase(queue), idIndexKey: this.scriptIdIndexKey, channel: this.scriptChannel, queue, now, action, id, argument,
    }));
    if (r[0] === 'missing') throw notFound('job', id);
    if (r[0] === 'conflict') throw refusal(action, id, r[1] as JobState);
    if (r[0] === 'removed') {
      this.queueOfJob.delete(id);
      if (this.cluster) await this.client.hdel(this.idIndexKey, id);
      return null;
    }
    return rowToJob(id, queue, r[1])!;
  }

  async cancelJob({ id, now }: JobAction): Promise<Job> {
    return (await this.jobOp('cancel', id, now))!;
  }

  async rescheduleJob({ id, runAt, now }: RescheduleJob): Promise<Job> {
    return (await this.jobOp('reschedule', id, now, runAt))!;
  }

  async promoteJob({ id, now }: JobAction): Promise<Job> {
    return (await this.jobOp('promote', id, now))!;
  }

  async retryJob({ id, now, ...opts }: RetryJob): Promise<Job> {
    return (await this.jobOp('retry', id, now, opts.resetAttempts === false ? '0' : '1'))!;
  }

  async removeJob({ id, now }: JobAction): Promise<void> {
    await this.jobOp('remove', id, now);
  }

  async cleanJobs(q: CleanQuery): Promise<number> {
    const states = (q.states ?? FINISHED_STATES).filter((s) => isFinished(s));
    if (states.length === 0) return 0;
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 100_000);
    const queues = q.queue !== undefined ? [q.queue] : await this.allQueues();
    let removed = 0;
    for (const queue of queues) {
      // Bounded slices per script call, so retention never holds Redis for long.
      while (removed < limit) {
        const n = Math.min(limit - removed, 500);
        const ids = await this.run(cleanScript({ queueKeyBase: this.queueKeyBase(queue), idIndexKey: this.scriptIdIndexKey, endedBefore: q.endedBefore, limit: n, states }));
        for (const id of ids) this.queueOfJob.delete(id);
        if (this.cluster && ids.length) await this.client.hdel(this.idIndexKey, ...ids);
        removed += ids.length;
        if (ids.length < n) break;
      }
      if (removed >= limit) break;
    }
    return removed;
  }

  private async queueSet(queue: string, now: number, event: StoreEventType | '', fields: Raw): Promise<void> {
    await this.register(queue);
    await this.run(queueSetScript({ queueKeyBase: this.queueKeyBase(queue), channel: this.scriptChannel, queue, now, eventType: event, fields }));
  }

  async pauseQueue({ queue, now }: QueueAction): Promise<void> {
    await this.queueSet(queue, now, 'paused', ['paused', '1']);
  }

  async resumeQueue({ queue, now }: QueueAction): Promise<void> {
    await this.queueSet(queue, now, 'resumed', ['paused', '']);
  }

  async setQueueOptions({ queue, options: opts, now }: SetQueueOptions): Promise<void> {
    const fields: Raw = [];
    if (opts.rateLimit !== undefined) {
      fields.push('rmax', opts.rateLimit?.max ?? '', 'rwin', opts.rateLimit?.windowMs ?? '', 'rs', '', 'rc', '');
    }
    if (opts.concurrency !== undefined) fields.push('conc', opts.concurrency ?? '');
    // Options can open room (higher limits): let idle workers look again.
    await this.queueSet(queue, now, 'resumed', fields);
  }

  // ---- schedules (global slot) ----

  private async schedules(ids: string[]): Promise<ScheduleRecord[]> {
    const hashes = await Promise.all(ids.map((id) => this.client.hgetall(`${this.globalKeyBase}:sc:${id}`)));
    const out: ScheduleRecord[] = [];
    ids.forEach((id, i) => {
      const arr = Object.entries(hashes[i]!).flat();
      if (arr.length) out.push(hashToSchedule(id, arr));
    });
    return out;
  }

  async saveSchedule({ schedule: rec, now, expectedVersion }: SaveSchedule): Promise<ScheduleRecord> {
    const flat = await this.run(scheduleUpsertScript({
      globalKeyBase: this.globalKeyBase, id: rec.id, specJson: JSON.stringify(rec.spec ?? null), nextRunAt: rec.nextRunAt ?? null,
      paused: rec.paused, runCount: rec.runCount, lastRunAt: rec.lastRunAt, now, expectedVersion,
    }));
    if (flat[0] === '!conflict') throw new ScheduleConflict(rec.id, expectedVersion!, Number(flat[1]));
    return hashToSchedule(rec.id, flat);
  }

  async getSchedule({ id }: ScheduleRef): Promise<ScheduleRecord | null> {
    return (await this.schedules([id]))[0] ?? null;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.schedules(await this.client.zrange(`${this.globalKeyBase}:sca`, '0', '-1'));
  }

  async removeSchedule({ id }: ScheduleRef): Promise<boolean> {
    return (await this.run(scheduleRemoveScript({ globalKeyBase: this.globalKeyBase, id }))) === 1;
  }

  async dueSchedules({ now, limit }: DueSchedules): Promise<ScheduleRecord[]> {
    return this.schedules(await this.client.zrangebyscore(`${this.globalKeyBase}:scd`, '-inf', String(now), 'LIMIT', 0, limit));
  }

  async nextScheduleAt(): Promise<number | null> {
    const r = await this.client.zrange(`${this.globalKeyBase}:scd`, '0', '0', 'WITHSCORES');
    return r.length ? Number(r[1]) : null;
  }

  async advanceSchedule({ id, expectedVersion, next, jobs, now }: AdvanceSchedule): Promise<boolean> {
    const field = jobs.length ? `${id}@${expectedVersion}` : '';
    const entry = field ? this.outboxEntry(jobs, now) : '';
    const ok = await this.run(scheduleAdvanceScript({
      globalKeyBase: this.globalKeyBase, id, expectedVersion, nextRunAt: next.nextRunAt ?? null, runCount: next.runCount,
      lastRunAt: next.lastRunAt ?? null, now, outboxField: field, outboxEntry: entry,
    }));
    if (ok !== 1) return false;
    if (field) await this.deliver(`${this.globalKeyBase}:o`, field, entry);
    return true;
  }

  // ---- workers ----

  async beatWorker({ worker: info, ttlMs }: BeatWorker): Promise<void> {
    await this.run(workerBeatScript({ globalKeyBase: this.globalKeyBase, id: info.id, infoJson: JSON.stringify(info), expiresAt: info.lastSeenAt + ttlMs }));
  }

  async removeWorker({ id }: WorkerRef): Promise<void> {
    await this.run(workerGoneScript({ globalKeyBase: this.globalKeyBase, id }));
  }

  async listWorkers({ now }: ListWorkers): Promise<WorkerInfo[]> {
    const infos = await this.run(workersLiveScript({ globalKeyBase: this.globalKeyBase, now }));
    return infos.filter((x): x is string => x !== null).map((x) => JSON.parse(x) as WorkerInfo)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // ---- events ----

  subscribe(listener: StoreListener, opts: { workOnly?: boolean } = {}): () => void {
    const all = !opts.workOnly;
    this.listeners.set(listener, all);
    if (!this.closed) {
      if (!this.sub) this.openSubscriber();
      if (all && !this.fullSubscribed) {
        this.fullSubscribed = true;
        this.whenSubscribed(this.sub!.subscribe(this.chan));
      }
    }
    return () => this.listeners.delete(listener);
  }

  /** Calls made from now on wait for this subscription, so a new listener sees their events. */
  private whenSubscribed(p: Promise<unknown>): void {
    const next = Promise.all([this.subReady, p]).then(() => {}, () => {});
    this.subReady = next;
    void next.then(() => {
      if (this.subReady === next) this.subReady = null;
    });
  }

  private openSubscriber(): void {
    const sub = this.target.create(`${this.prefix}:events`);
    this.sub = sub;
    let connectedOnce = false;
    sub.on('message', (chan: string, msg: string) => this.onMessage(chan, msg));
    // After a reconnect, events published while we were away are gone: tell listeners every queue
    // may have work, so idle workers claim at once instead of waiting for their poll.
    sub.on('ready', () => {
      // Wake listeners only once the channels are subscribed again, so no enqueue falls in between.
      const channels = [this.workChan, ...(this.fullSubscribed ? [this.chan] : []), ...this.handoffs.workerIds().map((w) => this.handChan + w)];
      if (connectedOnce) void (sub.subscribe(...channels) as Promise<unknown>).then(() => this.resync(), () => this.resync());
      connectedOnce = true;
    });
    sub.on('error', (err: Error) => (this.lastError = err));
    this.whenSubscribed(sub.subscribe(this.workChan));
  }

  private async resync(): Promise<void> {
    const queues = new Set([...this.claimedQueues, ...this.registered, ...(await this.allQueues().catch(() => []))]);
    const at = Date.now();
    this.emit([...queues].map((queue) => ({ type: 'resumed' as const, queue, at })));
  }

  private onMessage(chan: string, msg: string): void {
    if (chan.startsWith(this.handChan)) return this.onHandoff(msg);
    if (this.listeners.size === 0) return;
    const work = chan === this.workChan;
    let m: { q: string; a: number; e: [StoreEventType, string?, (number | false)?, string?][] };
    try {
      m = JSON.parse(msg);
    } catch {
      return;
    }
    const events: StoreEvent[] = m.e.map(([type, jobId, runAt, pg]) => {
      const e: StoreEvent = { type, queue: m.q, at: m.a };
      if (jobId !== undefined) e.jobId = jobId;
      if (typeof runAt === 'number') e.runAt = runAt;
      if (pg !== undefined) e.progress = JSON.parse(pg);
      return e;
    });
    this.emit(events, work);
  }

  /** Jobs an add leased to one of this process's idle workers (handOff in lua/lib/handoff.lua). */
  private onHandoff(msg: string): void {
    const m = JSON.parse(msg) as { q: string; t: string; a: string; r: string[] };
    const handed = { rows: m.r, now: Number(m.a) };
    const got = this.handoffs.message(m.t, handed);
    if (got) this.handTo(got.reg, handed, got.listener);
  }

  /** Jobs an add leased under a registration: to its worker, or back to the queue if it stopped. */
  private handTo(
    reg: { queue: string; token: string; worker: string; leaseMs: number }, handed: Handed, listener: ((jobs: Job[]) => void) | null,
  ): void {
    const jobs = claimedJobs(handed.rows, reg.queue, reg.token, reg.worker, handed.now, handed.now + reg.leaseMs);
    for (const j of jobs) this.remember(j.id, reg.queue);
    if (listener) listener(jobs);
    else void this.giveBack(jobs);
  }

  private emit(events: StoreEvent[], work = true): void {
    for (const [l, all] of this.listeners) if (work || all) for (const e of events) l(e);
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    // A last try for lost claims' jobs; if it fails they come back when their leases run out.
    if (this.lost.length) await this.releaseLost().catch(() => {});
    await Promise.all([this.client, this.sub].map(async (c) => {
      if (!c) return;
      try {
        await c.quit();
      } catch {
        c.disconnect();
      }
    }));
  }
}

interface SeqCursor {
  seq: number;
  queue: string;
}
type Cursor = SeqCursor | { offset: number } | null;
interface Cand {
  id: string;
  queue: string;
  seq?: number;
  key?: [number, number];
}

function cursorOf(c: Cursor): string | null {
  if (c === null) return null;
  return 'offset' in c ? `o${c.offset.toString(36)}` : `${c.seq.toString(36)}~${c.queue}`;
}

function parseCursor(c: string, byState: boolean): Cursor {
  const bad = () => new FusionError('invalid_cursor', 'cursor is not one this store gave', { cursor: c });
  if (byState) {
    const offset = c.startsWith('o') ? Number.parseInt(c.slice(1), 36) : NaN;
    if (!Number.isInteger(offset) || offset < 0) throw bad();
    return { offset };
  }
  const i = c.indexOf('~');
  const seq = i > 0 ? Number.parseInt(c.slice(0, i), 36) : NaN;
  if (!Number.isFinite(seq)) throw bad();
  return { seq, queue: c.slice(i + 1) };
}
