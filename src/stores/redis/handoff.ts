// The client side of the idle hand-off (handOff and claimIdle in scripts.ts): the registrations the
// workers of this process left in their queues, and whether their jobs reached them. No Redis calls
// here; the store sends what this decides.
//
// Slots stay exact. While a registration is unsettled its slots may hold jobs on their way, so only
// one claim at a time per worker and queue (the owner) names it and may register anew; a claim
// beside it leaves those slots out of its limit. A registration settles once: by its message, or by
// a claim naming it, which takes its jobs from Redis if an add took it and the message has not come.
import type { Job } from '../../core/job.js';
import type { ClaimRequest } from '../../core/store.js';

/** One registration, as the claim script wrote it: "token\nslots\nleaseMs\nworker". */
export interface Registration {
  member: string;
  token: string;
  slots: number;
  leaseMs: number;
  queue: string;
  worker: string;
  settled: boolean;
}

/** What one claim in one queue sends, and what to settle when it lands. */
export interface Ticket {
  queue: string;
  worker: string;
  limit: number;
  /** The registration this claim settles ('' for none), and when a new one lapses ('' for none). */
  prev: string;
  until: string | number;
  owner: boolean;
  sent: Registration | null;
}

type Listener = (jobs: Job[]) => void;

interface WorkerState {
  listener: Listener;
  regs: Map<string, Registration>;
  /** Queues where this worker's owning claim is in the air. */
  busy: Set<string>;
}

export function parseRegistration(member: string, queue: string): Registration {
  const [token, slots, leaseMs] = member.split('\n', 3) as [string, string, string];
  const worker = member.slice(token.length + slots.length + leaseMs.length + 3);
  return { member, token, slots: Number(slots), leaseMs: Number(leaseMs), queue, worker, settled: false };
}

export class Handoffs {
  private workers = new Map<string, WorkerState>();
  /** Unsettled registrations by token, also of workers that stopped listening. */
  private tokens = new Map<string, Registration>();
  /** queue → tokens whose jobs came by message: the next script there deletes their lists. */
  private forgets = new Map<string, string[]>();

  listen(worker: string, listener: Listener): void {
    this.workers.set(worker, { listener, regs: new Map(), busy: new Set() });
  }

  /** Stop handing jobs to a worker; returns its unsettled registrations, for the store to take back. */
  unlisten(worker: string): Registration[] {
    const w = this.workers.get(worker);
    this.workers.delete(worker);
    return w ? [...w.regs.values()] : [];
  }

  /** Workers listening now, whose channels a new event connection subscribes again. */
  workerIds(): string[] {
    return [...this.workers.keys()];
  }

  /** A registration the store withdrew itself. */
  drop(reg: Registration): void {
    reg.settled = true;
    this.tokens.delete(reg.token);
  }

  /** Tokens whose lists the next script in this queue deletes, space-separated. */
  takeForgets(queue: string): string {
    const list = this.forgets.get(queue);
    if (!list) return '';
    this.forgets.delete(queue);
    return list.join(' ');
  }

  /** The hand-off part of a claim of `limit` jobs from `queue`. */
  ticket(req: ClaimRequest, queue: string, limit: number): Ticket {
    const worker = req.workerId;
    const w = this.workers.get(worker);
    const t: Ticket = { queue, worker, limit, prev: '', until: '', owner: false, sent: null };
    // Only a worker of one queue registers: one of several would promise the same slots in each.
    if (!w || req.idleMs === undefined || req.queues.length !== 1) return t;
    const reg = w.regs.get(queue) ?? null;
    if (w.busy.has(queue)) {
      t.limit = limit - (reg?.slots ?? 0);
      return t;
    }
    w.busy.add(queue);
    t.owner = true;
    t.sent = reg;
    t.prev = reg?.member ?? '';
    t.until = req.now + req.idleMs;
    return t;
  }

  /**
   * The owner's claim landed with a new registration (or null) and the rows of jobs an add leased
   * under the one it named (or null). Returns rows for the worker to run now, rows to give back
   * (its worker stopped listening), and a new registration nobody listens for (to take back).
   */
  settle(t: Ticket, reg: string | null, handed: string[] | null): { run: string[]; giveBack: string[]; orphan: Registration | null } {
    const out = { run: [] as string[], giveBack: [] as string[], orphan: null as Registration | null };
    if (!t.owner) return out;
    const w = this.workers.get(t.worker);
    w?.busy.delete(t.queue);
    const sent = t.sent;
    if (sent && !sent.settled) {
      this.drop(sent);
      if (w?.regs.get(t.queue) === sent) w.regs.delete(t.queue);
      if (handed?.length) {
        if (w) out.run = handed;
        else out.giveBack = handed;
      }
    }
    if (reg) {
      const r = parseRegistration(reg, t.queue);
      if (!w) out.orphan = r;
      else {
        w.regs.set(t.queue, r);
        this.tokens.set(r.token, r);
      }
    }
    return out;
  }

  /** The owner's claim failed: it may or may not have run, so what it named stays unsettled. */
  abandon(t: Ticket): void {
    if (t.owner) this.workers.get(t.worker)?.busy.delete(t.queue);
  }

  /**
   * A hand-off message for `token`: its registration, settled now, and the listener to run its jobs
   * (null: give them back). Null if it was settled already (a claim handed its jobs over).
   */
  message(token: string): { reg: Registration; listener: Listener | null } | null {
    const reg = this.tokens.get(token);
    if (!reg) return null;
    this.drop(reg);
    const w = this.workers.get(reg.worker);
    if (w?.regs.get(reg.queue) === reg) w.regs.delete(reg.queue);
    const list = this.forgets.get(reg.queue);
    if (list) list.push(token);
    else this.forgets.set(reg.queue, [token]);
    return { reg, listener: w?.listener ?? null };
  }
}
