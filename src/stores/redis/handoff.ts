// The client side of the idle hand-off (handOff and claimIdle in lua/lib/handoff.lua): the registrations the
// workers of this process left in their queues, and whether their jobs reached them. No Redis calls
// here; the store sends what this decides.
//
// Slots stay exact. While a registration is unsettled its slots may hold jobs on their way, so only
// one claim at a time per worker and queue (the owner) names it and may register anew; a claim
// beside it leaves those slots out of its limit. A registration settles once: by its message, by the
// answer of an add of this process that took it (its job's row then comes from the add: claim.ts
// handedByAdd), or by a claim naming it, which takes its jobs from Redis if an add took it and the
// message has not come.
// A message can also come before the answer of the claim that registered (they travel on different
// connections): it waits on that claim's ticket, found by the registration's token.
//
// A registration's token is its claim's lease token and REGISTRATION_MARK, which no claim's token
// holds (claim.ts: newToken), so the jobs an add hands over get a lease token of their own. Under
// the claim's token, a job that claim took whose lease ran out while the registration lived could
// come back by recovery and be handed to the registration under the stalled run's token, whose
// heartbeat and completion would then hold the new lease.
import type { Job } from '../../core/job.js';
import type { ClaimRequest } from '../../core/store.js';

/** Ends every registration's token (lua/lib/handoff.lua reads it from here): never in a claim's token. */
export const REGISTRATION_MARK = '~';

/** The token of the registration a claim under `claimToken` leaves, as workerClaim makes it. */
export const registrationToken = (claimToken: string): string => claimToken + REGISTRATION_MARK;

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

/** A hand-off message's jobs: claim rows, leased at `now`. */
export interface Handed {
  rows: string[];
  now: number;
}

/** What one claim in one queue sends, and what to settle when it lands. */
export interface Ticket {
  queue: string;
  worker: string;
  /** The token of a registration this claim leaves (registrationToken), and the lease length it carries. */
  token: string;
  leaseMs: number;
  limit: number;
  /** The registration this claim settles ('' for none), and when a new one lapses ('' for none). */
  prev: string;
  until: string | number;
  owner: boolean;
  sent: Registration | null;
  /** A message for the registration this claim left, come before the claim's answer. */
  early: Handed | null;
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
  /** Owning claims in the air, by the token of the registration each may leave. */
  private flying = new Map<string, Ticket>();
  /** queue → tokens whose jobs came by message: the next script there deletes their lists. */
  private forgets = new Map<string, string[]>();

  listen(worker: string, listener: Listener): void {
    this.workers.set(worker, { listener, regs: new Map(), busy: new Set() });
  }

  /** Stop handing jobs to a worker; returns its unsettled registrations, for the store to take back. */
  unlisten(worker: string): Registration[] {
    const workerState = this.workers.get(worker);
    this.workers.delete(worker);
    return workerState ? [...workerState.regs.values()] : [];
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

  /** The hand-off part of a claim of `limit` jobs from `queue`, under lease token `token`. */
  ticket(req: ClaimRequest, queue: string, limit: number, token: string): Ticket {
    const worker = req.workerId;
    const workerState = this.workers.get(worker);
    const ticket: Ticket = {
      queue, worker, token: registrationToken(token), leaseMs: req.leaseMs, limit, prev: '', until: '', owner: false, sent: null, early: null,
    };
    // Only a worker of one queue registers: one of several would promise the same slots in each.
    if (!workerState || req.idleMs === undefined || req.queues.length !== 1) return ticket;
    const reg = workerState.regs.get(queue) ?? null;
    if (workerState.busy.has(queue)) {
      ticket.limit = limit - (reg?.slots ?? 0);
      return ticket;
    }
    workerState.busy.add(queue);
    this.flying.set(ticket.token, ticket);
    ticket.owner = true;
    ticket.sent = reg;
    ticket.prev = reg?.member ?? '';
    ticket.until = req.now + req.idleMs;
    return ticket;
  }

  /**
   * The owner's claim landed with a new registration (or null) and the rows of jobs an add leased
   * under the one it named (or null). Returns rows for the worker to run now, rows to give back
   * (its worker stopped listening), a new registration nobody listens for (to take back), and the
   * message of the new one if it came first (to deliver as if it came now). With no registration in
   * the answer, a message that came first is dropped (see below).
   */
  settle(ticket: Ticket, reg: string | null, handed: string[] | null): {
    run: string[]; giveBack: string[]; orphan: Registration | null; early: { reg: Registration; handed: Handed; listener: Listener | null } | null;
  } {
    const out = { run: [] as string[], giveBack: [] as string[], orphan: null as Registration | null, early: null as { reg: Registration; handed: Handed; listener: Listener | null } | null };
    if (!ticket.owner) return out;
    this.flying.delete(ticket.token);
    const workerState = this.workers.get(ticket.worker);
    workerState?.busy.delete(ticket.queue);
    const sent = ticket.sent;
    if (sent && !sent.settled) {
      this.drop(sent);
      if (workerState?.regs.get(ticket.queue) === sent) workerState.regs.delete(ticket.queue);
      if (handed?.length) {
        if (workerState) out.run = handed;
        else out.giveBack = handed;
      }
      // The claim script leaves the list in Redis (see claimIdle): the next script here deletes it.
      if (handed) this.forget(sent);
    }
    // With no registration in the answer, a message that came first is not delivered: a resend that
    // found work answers so after an add took its first run's registration, and a message that comes
    // after this answer can be matched to nothing, so neither order delivers it. Its jobs go back to
    // the queue with the lost run's (lost-claims.ts, release-claim.lua), and run at once elsewhere.
    if (reg) {
      const registration = parseRegistration(reg, ticket.queue);
      if (ticket.early) {
        // Already taken by an add, its jobs already here: settled by that message.
        registration.settled = true;
        this.forget(registration);
        out.early = { reg: registration, handed: ticket.early, listener: workerState?.listener ?? null };
      } else if (!workerState) out.orphan = registration;
      else {
        workerState.regs.set(ticket.queue, registration);
        this.tokens.set(registration.token, registration);
      }
    }
    return out;
  }

  /**
   * The owner's claim failed: it may or may not have run, so what it named stays unsettled. A
   * message that came for it anyway leased its jobs to the worker: returned, to deliver.
   */
  abandon(ticket: Ticket): { handed: Handed; listener: Listener | null } | null {
    if (!ticket.owner) return null;
    this.flying.delete(ticket.token);
    const workerState = this.workers.get(ticket.worker);
    workerState?.busy.delete(ticket.queue);
    return ticket.early ? { handed: ticket.early, listener: workerState?.listener ?? null } : null;
  }

  /**
   * A hand-off message for `token`: its registration, settled now, and the listener to run its jobs
   * (null: give them back). Null if it was settled already (a claim handed its jobs over) or if
   * the claim that registered has not answered yet (the message waits on its ticket).
   */
  message(token: string, handed: Handed): { reg: Registration; listener: Listener | null } | null {
    const reg = this.tokens.get(token);
    if (!reg) {
      const ticket = this.flying.get(token);
      if (ticket) ticket.early = handed;
      return null;
    }
    this.drop(reg);
    const workerState = this.workers.get(reg.worker);
    if (workerState?.regs.get(reg.queue) === reg) workerState.regs.delete(reg.queue);
    this.forget(reg);
    return { reg, listener: workerState?.listener ?? null };
  }

  /** Its list in Redis is no longer needed: the next script in its queue deletes it. */
  forget(reg: Registration): void {
    const list = this.forgets.get(reg.queue);
    if (list) list.push(reg.token);
    else this.forgets.set(reg.queue, [reg.token]);
  }
}
