// How `fusion start` and `fusion worker` split their queues between workers. Each lane is one
// worker with its own slots (--concurrency, or its own count), so a queue whose jobs hang (a
// partner's webhook endpoint that never answers) or pile up (a campaign, a burst of callbacks)
// cannot hold another lane's jobs back: a worker drains its queues in order and shares its slots
// between them. By default every queue is a lane of its own, as a BullMQ Worker or a River queue
// has its own workers.
//   --queues sms,email             two lanes: sms and email, each with --concurrency slots
//   --queues sms+email,webhook     two lanes: sms and email share one (sms drained first), webhook its own
//   --queues sms=50,webhook=5      lanes with their own slot counts (`=`: no queue name holds one)
import { QUEUE_NAME } from '../core/spec.js';

export interface Lane {
  /** Its queues, in the order the worker drains them. */
  queues: string[];
  /** Its own slot count; absent: --concurrency. */
  concurrency?: number;
}

/** The lanes of a --queues value; every queue once. */
export function parseLanes(flag: string): Lane[] {
  const lanes: Lane[] = [];
  for (const item of flag.split(',')) {
    const [names = '', count, ...rest] = item.split('=');
    const queues = names.split('+').map((q) => q.trim()).filter(Boolean);
    for (const q of queues) {
      if (!QUEUE_NAME.test(q)) throw new Error(`--queues: "${q}" is no queue name (1-100 characters of letters, digits, _ . : -)`);
    }
    if (queues.length === 0) {
      if (count !== undefined) throw new Error(`--queues: "${item.trim()}" gives a slot count to no queue`);
      continue;
    }
    const lane: Lane = { queues };
    if (count !== undefined) {
      const n = /^\s*\d+\s*$/.test(count) ? Number(count) : NaN;
      if (rest.length > 0 || !(n >= 1)) throw new Error(`--queues: the slots of "${queues.join('+')}" must be a whole number of at least 1, got "${item.trim()}"`);
      lane.concurrency = n;
    }
    lanes.push(lane);
  }
  if (lanes.length === 0) throw new Error(`--queues names no queue: "${flag}"`);
  const seen = new Set<string>();
  for (const q of lanes.flatMap((l) => l.queues)) {
    if (seen.has(q)) throw new Error(`--queues names "${q}" twice: a queue belongs to one lane ("${flag}")`);
    seen.add(q);
  }
  return lanes;
}

/** The lanes a worker process runs: those of --queues, else one per queue it knows. */
export function workerLanes(flag: string | undefined, known: string[]): Lane[] {
  return flag === undefined ? [...new Set(known)].map((q) => ({ queues: [q] })) : parseLanes(flag);
}
