// The workers' hot path: claim, heartbeat, finish (with the next claim in the same script when
// one queue holds it all), progress and log lines, and the client side of the idle hand-off (an add
// leases jobs to a worker that found its queue dry and publishes them to it: handoff.ts decides,
// this sends). Claims in the air are tracked so the jobs of a lost answer go back (lost-claims.ts).
import { randomBytes } from 'node:crypto';
import type { Job } from '../../core/job.js';
import type {
  ClaimRequest, ClaimResult, FinishAndClaimJobs, FinishAnswer, FinishJobs, HandoffJobs, HeartbeatJobs, HeartbeatResult, LogJob, Outcome, ProgressJob,
} from '../../core/store.js';
import { storedLogLine, storedProgress } from '../../core/store.js';
import type { Raw } from './runner.js';
import { isRedisOutOfMemory } from '../../core/store-errors.js';
import { OUTCOME_RULES } from '../../core/state-rules.js';
import { claimScript, finishAnswer, finishScript, heartbeatScript, logScript, progressScript, type ClaimAnswer, type FinishScriptAnswer } from './script-calls.js';
import { claimedJobs, handedRow, outcomeArgs, rowIds } from './codec.js';
import type { RedisContext } from './context.js';
import { Handoffs, type Handed, type Registration, type Ticket } from './handoff.js';
import { LostClaims, type ClaimCall } from './lost-claims.js';
import type { Outbox } from './outbox.js';
import type { PubSub } from './pubsub.js';

/** A claim made together with a finish, and the result it fills. */
interface ClaimWithFinish {
  request: ClaimRequest;
  result: ClaimResult;
}

/** A registration's fields the jobs handed under it need. */
type HandoffLease = Pick<Registration, 'queue' | 'token' | 'worker' | 'leaseMs'>;

/** At most this many clean leases are remembered (the oldest go first); one forgotten only costs its completion the error write. */
const CLEAN_LEASES_KEPT = 100_000;

export class Claims {
  readonly lostClaims: LostClaims;
  private readonly handoffs = new Handoffs();
  /**
   * Lease tokens: this process's random part (base64url), '.', then a counter (base 36): never
   * REGISTRATION_MARK, which ends the token of a registration (handoff.ts).
   */
  private readonly tokenPrefix = randomBytes(6).toString('base64url');
  private tokenSeq = 0;
  /**
   * Job id -> the lease token of its claim here, for claims whose row showed no error: the job
   * holds none while that token does, so its completion under the token need not clear one (the
   * 'clean' entry of lua/finish.lua). Forgotten at the job's outcome; a job not here (claimed by
   * another process, forgotten, claimed with an error) completes as 'completed', which clears it.
   */
  private readonly cleanLeases = new Map<string, string>();

  constructor(private readonly ctx: RedisContext, private readonly outbox: Outbox, private readonly pubsub: PubSub) {
    this.lostClaims = new LostClaims(ctx);
  }

  private newToken(): string {
    return `${this.tokenPrefix}.${(this.tokenSeq++).toString(36)}`;
  }

  async claimJobs(request: ClaimRequest): Promise<ClaimResult> {
    const { ctx } = this;
    // Jobs of claims whose answers were lost go back first: a worker asks again only once they are.
    if (this.lostClaims.pending) await this.lostClaims.release();
    const result: ClaimResult = { jobs: [], nextWakeAt: null };
    const token = this.newToken();
    for (const queue of request.queues) {
      const limit = request.limit - result.jobs.length;
      if (limit <= 0) break;
      ctx.claimedQueues.add(queue);
      const ticket = this.handoffs.ticket(request, queue, limit, token);
      if (ticket.limit <= 0) continue;
      const call = this.lostClaims.start(queue, token, request.now + request.leaseMs);
      let answer: ClaimAnswer;
      try {
        answer = await ctx.run(claimScript({
          queueKeyBase: ctx.keys.queueKeyBase(queue), channel: ctx.keys.scriptChannel, queue, now: request.now, limit: ticket.limit,
          leaseMs: request.leaseMs, workerId: request.workerId, token, previous: ticket.prev, idleUntil: ticket.until,
          forget: this.handoffs.takeForgets(queue),
        }));
      } catch (err) {
        this.claimFailed(call, ticket);
        // Refused for memory after earlier queues leased jobs: those run, rather than wait out their leases.
        if (result.jobs.length > 0 && isRedisOutOfMemory(err)) return result;
        throw err;
      }
      const [rows, wakeAt, registration, handed] = answer;
      const early = ticket.early;
      this.took(result, queue, rows, wakeAt, token, request);
      this.settleTicket(ticket, registration, handed, request, result);
      await this.lostClaims.answered(call, rows, early?.rows ?? null, registration);
    }
    return result;
  }

  /** A claim script failed: a hand-off ticket it carried is abandoned, and whatever it leased goes back. */
  private claimFailed(call: ClaimCall, ticket: Ticket | null): void {
    const early = ticket?.early ?? null;
    if (ticket) this.abandon(ticket);
    this.lostClaims.failed(call, early ? rowIds(early.rows) : []);
  }

  /**
   * The jobs of claim rows leased under `token`, each remembered in its queue, and as a clean lease
   * where its row showed no error (an absent or empty error field: what the completion would clear).
   */
  private leased(rows: string[], queue: string, token: string, worker: string, now: number, leaseUntil: number): Job[] {
    const jobs = claimedJobs(rows, queue, token, worker, now, leaseUntil);
    const clean = this.cleanLeases;
    for (const job of jobs) {
      this.ctx.rememberQueue(job.id, queue);
      if (job.error !== null) {
        clean.delete(job.id);
        continue;
      }
      if (clean.size >= CLEAN_LEASES_KEPT && !clean.has(job.id)) clean.delete(clean.keys().next().value!);
      clean.set(job.id, token);
    }
    return jobs;
  }

  /**
   * Whether a completion is of a clean lease (see cleanLeases), taking its mark: the completion ends
   * the lease. outcomeArgs asks once per completion.
   */
  private readonly takeClean = (outcome: Outcome): boolean => {
    if (this.cleanLeases.get(outcome.id) !== outcome.token) return false;
    this.cleanLeases.delete(outcome.id);
    return true;
  };

  /** Add a claim script's answer to a claim result. */
  private took(result: ClaimResult, queue: string, rows: string[], wakeAt: string | null, token: string, request: ClaimRequest): void {
    if (rows.length > 0) {
      for (const job of this.leased(rows, queue, token, request.workerId, request.now, request.now + request.leaseMs)) result.jobs.push(job);
    }
    if (wakeAt !== null && (result.nextWakeAt === null || Number(wakeAt) < result.nextWakeAt)) result.nextWakeAt = Number(wakeAt);
  }

  async heartbeatJobs({ leases, leaseMs, now }: HeartbeatJobs): Promise<HeartbeatResult[]> {
    const { ctx } = this;
    const out: HeartbeatResult[] = leases.map((l) => ({ id: l.id, ok: false, cancelRequested: false }));
    const { groups } = await ctx.groupByQueue(leases);
    await Promise.all([...groups].map(async ([queue, positions]) => {
      const held = await ctx.run(heartbeatScript({ queueKeyBase: ctx.keys.queueKeyBase(queue), leaseUntil: now + leaseMs }, positions.map((p) => leases[p]!)));
      positions.forEach((p, k) => {
        out[p] = { id: leases[p]!.id, ok: held[k]! > 0, cancelRequested: held[k] === 2 };
      });
    }));
    return out;
  }

  async finishJobs({ outcomes }: FinishJobs): Promise<FinishAnswer[]> {
    return this.finishGroups(outcomes, (await this.ctx.groupByQueue(outcomes)).groups);
  }

  private async finishGroups(outcomes: Outcome[], groups: Map<string, number[]>): Promise<FinishAnswer[]> {
    const applied = outcomes.map((): FinishAnswer => false);
    await Promise.all([...groups].map(([queue, positions]) => this.finishInQueue(queue, outcomes, positions, applied, null)));
    return applied;
  }

  /**
   * One script when the outcomes and the claim are all in one queue (a single-queue worker, the
   * usual case): the slot holds them all. Otherwise the outcomes first, then the claim.
   */
  async finishAndClaimJobs({ outcomes, claim: request }: FinishAndClaimJobs): Promise<{ applied: FinishAnswer[]; claim: ClaimResult }> {
    if (this.lostClaims.pending) await this.lostClaims.release();
    const { groups } = await this.ctx.groupByQueue(outcomes);
    const queue = request.queues[0]!;
    if (request.queues.length !== 1 || groups.size > 1 || (groups.size === 1 && !groups.has(queue))) {
      const applied = await this.finishGroups(outcomes, groups);
      // Stored: a claim Redis refuses for memory must not make the worker send them again.
      const claim = await this.claimJobs(request).catch((err: unknown) => {
        if (isRedisOutOfMemory(err)) return { jobs: [], nextWakeAt: null };
        throw err;
      });
      return { applied, claim };
    }
    const applied = outcomes.map((): FinishAnswer => false);
    const result: ClaimResult = { jobs: [], nextWakeAt: null };
    await this.finishInQueue(queue, outcomes, groups.get(queue) ?? [], applied, { request, result });
    return { applied, claim: result };
  }

  private async finishInQueue(
    queue: string, outcomes: Outcome[], positions: number[], applied: FinishAnswer[], claim: ClaimWithFinish | null,
  ): Promise<void> {
    const { ctx } = this;
    const token = claim ? this.newToken() : '';
    const request = claim?.request;
    if (claim) ctx.claimedQueues.add(queue);
    const ticket = request ? this.handoffs.ticket(request, queue, request.limit, token) : null;
    const forget = this.handoffs.takeForgets(queue);
    const finished = outcomeArgs(outcomes, positions, this.takeClean);
    // The other outcomes end their leases too (or find them gone): their clean marks go as well.
    for (const p of positions) {
      const o = outcomes[p]!;
      if (o.kind !== 'completed' && this.cleanLeases.get(o.id) === o.token) this.cleanLeases.delete(o.id);
    }
    const { order } = finished;
    // Follow-up jobs as (outcome number, outbox field, entry) triples: the script writes each with its outcome.
    const outbox: Raw = [];
    order.forEach((p, x) => {
      const o = outcomes[p]!;
      if (o.enqueue?.length) outbox.push(x + 1, `${o.token}:${o.id}`, this.outbox.entry(o.enqueue, o.at));
    });
    const call = request ? this.lostClaims.start(queue, token, request.now + request.leaseMs) : null;
    const queueKeyBase = ctx.keys.queueKeyBase(queue);
    let answer: FinishScriptAnswer;
    let claimed = claim;
    try {
      answer = finishAnswer(await ctx.run(finishScript({
        queueKeyBase, channel: ctx.keys.scriptChannel, queue, claimLimit: Math.max(0, ticket?.limit ?? 0), workerId: request?.workerId ?? '',
        token, leaseMs: request?.leaseMs ?? 0, now: request?.now ?? 0, previous: ticket?.prev ?? '', idleUntil: ticket?.until ?? '', forget,
      }, finished, outbox)));
    } catch (err) {
      if (call) this.claimFailed(call, ticket);
      if (!isRedisOutOfMemory(err)) throw err;
      // Redis is at maxmemory and refused the script before it wrote anything. The outcomes alone go through
      // (finish-at-maxmemory, scripts.ts): this worker's jobs end once, however long Redis stays
      // full, and it claims nothing more until Redis takes writes again.
      claimed = null;
      answer = finishAnswer(await ctx.run(finishScript({
        queueKeyBase, channel: ctx.keys.scriptChannel, queue, claimLimit: 0, workerId: '', token: '', leaseMs: 0, now: 0, previous: '',
        idleUntil: '', forget,
      }, finished, outbox, true)));
    }
    const [appliedHere, rows, wakeAt, registration, handed] = answer;
    if (claimed) {
      const early = ticket!.early;
      this.took(claimed.result, queue, rows, wakeAt, token, claimed.request);
      this.settleTicket(ticket!, registration, handed, claimed.request, claimed.result);
      await this.lostClaims.answered(call!, rows, early?.rows ?? null, registration);
    }
    // The number of outcomes where every one applied as sent, else per outcome 1, 0 (not applied) or
    // 2 (applied as a cancellation).
    const appliedAt = (x: number) => typeof appliedHere === 'number' || appliedHere[x] === 1;
    for (let x = 0; x < order.length; x++) {
      const cancelled = typeof appliedHere !== 'number' && appliedHere[x] === 2;
      if (!cancelled && !appliedAt(x)) continue;
      const o = outcomes[order[x]!]!;
      applied[order[x]!] = cancelled ? 'cancelled' : true;
      // A job that ended leaves this process's memory of its queue; one put back keeps it.
      if (cancelled || OUTCOME_RULES[o.kind].ends) ctx.forgetQueue(o.id);
    }
    // Follow-up jobs: delivered now; the outbox keeps them if this process dies first.
    for (let x = 0; x < outbox.length; x += 3) {
      if (appliedAt((outbox[x] as number) - 1)) {
        await this.outbox.afterWrite(ctx.keys.queueOutbox(queue), outbox[x + 1] as string, outbox[x + 2] as string);
      }
    }
  }

  async progressJob({ lease, progress, now }: ProgressJob): Promise<boolean> {
    const { ctx } = this;
    const progressJson = storedProgress(progress);
    const [queue] = await ctx.queuesOf([lease.id]);
    if (!queue) return false;
    const updated = await ctx.run(progressScript({
      queueKeyBase: ctx.keys.queueKeyBase(queue), channel: ctx.keys.scriptChannel, queue, now, id: lease.id, token: lease.token,
      progressJson,
    }));
    return updated === 1;
  }

  async logJob({ id, message, now }: LogJob): Promise<void> {
    const queue = await this.ctx.locate(id);
    if (queue) await this.ctx.run(logScript({ queueKeyBase: this.ctx.keys.queueKeyBase(queue), id, at: now, message: storedLogLine(message) }));
  }

  // ---- idle hand-off ----

  /**
   * Idle hand-off (handOff in lua/lib/handoff.lua): `listener` gets the jobs an add leased to this worker
   * because its last claim found the queue dry. Single-queue claims with idleMs register for it.
   */
  handoffJobs({ workerId, listener }: HandoffJobs): () => Promise<void> {
    const channel = this.ctx.keys.handoffChannel(workerId);
    this.handoffs.listen(workerId, listener);
    this.pubsub.listenOn(channel);
    return async () => {
      const registrations = this.handoffs.unlisten(workerId);
      await Promise.all(registrations.map((r) => this.takeBack(r)));
      await this.pubsub.stopListeningOn(channel);
    };
  }

  /** The hand-off channels of the workers listening now (subscribed again after a reconnect). */
  handoffChannels(): string[] {
    return this.handoffs.workerIds().map((worker) => this.ctx.keys.handoffChannel(worker));
  }

  /** A hand-off message: jobs an add leased to one of this process's idle workers (handOff in lua/lib/handoff.lua). */
  handoffMessage(text: string): void {
    const message = JSON.parse(text) as { q: string; t: string; a: string; r: string[] };
    const handed = { rows: message.r, now: Number(message.a) };
    const got = this.handoffs.message(message.t, handed);
    if (got) this.handTo(got.reg, handed, got.listener);
  }

  /**
   * A lone job an add of this process handed at once to the registration of `token`: if that
   * registration is one of this process's workers', its worker starts the job now, from the add's
   * answer, and the hand-off message that follows finds it settled. Otherwise nothing: the message
   * goes to the worker's own process. `row`: the job's addArgs row.
   */
  handedByAdd(token: string, row: Raw, now: number): void {
    const handed = { rows: [handedRow(row)], now };
    const got = this.handoffs.message(token, handed);
    if (got) this.handTo(got.reg, handed, got.listener);
  }

  /** After a claim with a hand-off ticket: run the jobs it handed back, take back an orphan registration. */
  private settleTicket(ticket: Ticket, registration: string | null, handed: string[] | null, request: ClaimRequest, result: ClaimResult): void {
    const { run, giveBack, orphan, early } = this.handoffs.settle(ticket, registration, handed);
    if (early) this.handTo(early.reg, early.handed, early.listener);
    const sent = ticket.sent;
    if (sent && run.length > 0) {
      for (const job of this.leased(run, ticket.queue, sent.token, ticket.worker, request.now, request.now + sent.leaseMs)) result.jobs.push(job);
    }
    if (sent && giveBack.length > 0) this.handTo(sent, { rows: giveBack, now: request.now }, null);
    if (orphan) void this.takeBack(orphan);
  }

  /** Jobs an add leased under a registration: to its worker, or back to the queue if it stopped. */
  private handTo(lease: HandoffLease, handed: Handed, listener: ((jobs: Job[]) => void) | null): void {
    const jobs = this.leased(handed.rows, lease.queue, lease.token, lease.worker, handed.now, handed.now + lease.leaseMs);
    if (listener) listener(jobs);
    else void this.giveBack(jobs);
  }

  /** A failed claim's ticket; jobs a message brought for it meanwhile are still this worker's. */
  private abandon(ticket: Ticket): void {
    const early = this.handoffs.abandon(ticket);
    if (early) this.handTo(ticket, early.handed, early.listener);
  }

  /** Withdraw a registration; jobs an add already leased under it go back to the queue. */
  private async takeBack(registration: Registration): Promise<void> {
    if (registration.settled) return;
    const { ctx } = this;
    this.handoffs.drop(registration);
    try {
      const [, , , handed] = await ctx.run(claimScript({
        queueKeyBase: ctx.keys.queueKeyBase(registration.queue), channel: ctx.keys.scriptChannel, queue: registration.queue, now: ctx.clock.now(),
        limit: 0, leaseMs: registration.leaseMs, workerId: registration.worker, token: registration.token, previous: registration.member,
        idleUntil: '', forget: '',
      }));
      if (handed) this.handoffs.forget(registration);
      if (handed?.length) await this.giveBack(claimedJobs(handed, registration.queue, registration.token, registration.worker, ctx.clock.now(), 0));
    } catch (err) {
      // The registration lapses on its own; jobs leased under it come back when their lease does.
      ctx.lastError = err as Error;
    }
  }

  /** Jobs leased to a worker that no longer takes them: back to queued, their attempt not counted. */
  private async giveBack(jobs: Job[]): Promise<void> {
    const at = this.ctx.clock.now();
    for (const job of jobs) this.ctx.rememberQueue(job.id, job.queue);
    await this.finishJobs({ outcomes: jobs.map((j) => ({ kind: 'released' as const, id: j.id, token: j.leaseToken!, at })) })
      .catch((err) => (this.ctx.lastError = err as Error));
  }
}
