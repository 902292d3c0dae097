// Claims whose answers were lost. A claim script (claim, or finish with a claim) whose connection
// drops before the answer is sent again by ioredis after the reconnect, and the jobs the first run
// leased are nobody's: they share its token and lease end, so the store finds them and puts them
// back (release-claim.lua) before it claims again. A claim that failed outright may or may not
// have run: the same put-back covers it. So do jobs an add handed to a registration of the claim's
// that the client never learnt of (its answer named none): handoff.ts drops their message.
import type { RedisContext } from './context.js';
import { releaseClaimScript } from './script-calls.js';
import { rowIds } from './codec.js';

/** A claim script in the air. */
export interface ClaimCall {
  queue: string;
  token: string;
  leaseUntil: number;
  /** The connection closed while it was in the air: its answer, if any, may be a resend's. */
  dropped: boolean;
}

/** A lost claim's leftovers to put back: the ids the client did get, and the registration it knows ('' for none). */
interface LostClaim {
  call: ClaimCall;
  keptIds: string[];
  keptRegistration: string;
}

/** How long a put-back that failed (Redis unreachable) waits before it tries again. */
const RETRY_MS = 200;

export class LostClaims {
  private inFlight = new Set<ClaimCall>();
  private lost: LostClaim[] = [];
  private releasing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: RedisContext) {}

  /** Whether lost claims wait to be put back (a claim puts them back first). */
  get pending(): boolean {
    return this.lost.length > 0;
  }

  /** The command connection closed: every claim in the air may be answered by a resend. */
  connectionDropped(): void {
    for (const call of this.inFlight) call.dropped = true;
  }

  start(queue: string, token: string, leaseUntil: number): ClaimCall {
    const call: ClaimCall = { queue, token, leaseUntil, dropped: false };
    this.inFlight.add(call);
    return call;
  }

  /**
   * A claim script answered. If its connection dropped meanwhile, the answer may be a resend's:
   * what the first run leased under the same token, other than the jobs of `rows` and of
   * `earlyRows` (a hand-off message that came before the answer), is put back now. The message's
   * jobs reached the worker only if the answer names a registration (Handoffs.settle): a resend
   * that found work names none, and the jobs an add leased under the first run's are put back too.
   */
  async answered(call: ClaimCall, rows: string[], earlyRows: string[] | null, keptRegistration: string | null): Promise<void> {
    this.inFlight.delete(call);
    if (!call.dropped) return;
    const keptIds = rowIds(rows);
    if (earlyRows && keptRegistration !== null) keptIds.push(...rowIds(earlyRows));
    this.lost.push({ call, keptIds, keptRegistration: keptRegistration ?? '' });
    // Best effort now; if the connection dropped again, the next claim (or the reconnect) does it.
    await this.release().catch(() => this.retryLater());
  }

  /** A claim script failed: whatever it leased, other than `keptIds`, is put back before this store claims again. */
  failed(call: ClaimCall, keptIds: string[]): void {
    this.inFlight.delete(call);
    this.lost.push({ call, keptIds, keptRegistration: '' });
    void this.release().catch(() => this.retryLater());
  }

  /** Put back the jobs of lost claims, in order; rejects while Redis cannot be reached. */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      const { ctx } = this;
      try {
        while (this.lost.length) {
          const { call, keptIds, keptRegistration } = this.lost[0]!;
          const ids = await ctx.run(releaseClaimScript({
            queueKeyBase: ctx.keys.queueKeyBase(call.queue), channel: ctx.keys.scriptChannel, queue: call.queue, now: ctx.clock.now(),
            token: call.token, leaseUntilMin: call.leaseUntil - 0.5, leaseUntilMax: call.leaseUntil + 0.5,
            keepRegistration: keptRegistration, kept: keptIds,
          }));
          this.lost.shift();
          ctx.stats.lostClaims++;
          ctx.stats.releasedJobs += ids.length;
        }
      } finally {
        this.releasing = null;
      }
    })();
    return this.releasing;
  }

  /** After a reconnect: put back what waits. */
  reconnected(): void {
    if (this.lost.length) void this.release().catch(() => this.retryLater());
  }

  /** A last try at close; if it fails the jobs come back when their leases run out. */
  async close(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.lost.length) await this.release().catch(() => {});
  }

  private retryLater(): void {
    if (this.ctx.closed || this.retryTimer || !this.lost.length) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.release().catch(() => this.retryLater());
    }, RETRY_MS);
    this.retryTimer.unref();
  }
}
