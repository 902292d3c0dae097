// How `fusion start` and `fusion worker` split their queues between workers. Each lane is one
// worker with its own --concurrency slots, so a queue whose jobs hang (a partner's webhook endpoint
// that never answers) or pile up (a campaign, a burst of callbacks) cannot hold another lane's jobs
// back: a worker drains its queues in order and shares its slots between them. By default every
// queue is a lane of its own, as a BullMQ Worker or a River queue has its own workers.
//   --queues sms,email          two lanes: sms and email, each with its own slots
//   --queues sms+email,webhook  two lanes: sms and email share one (sms drained first), webhook its own

/** The lanes of a --queues value (the queues of each, in order); every queue once. */
export function parseLanes(flag: string): string[][] {
  const lanes = flag
    .split(',')
    .map((lane) => lane.split('+').map((q) => q.trim()).filter(Boolean))
    .filter((lane) => lane.length > 0);
  if (lanes.length === 0) throw new Error(`--queues names no queue: "${flag}"`);
  const seen = new Set<string>();
  for (const q of lanes.flat()) {
    if (seen.has(q)) throw new Error(`--queues names "${q}" twice: a queue belongs to one lane ("${flag}")`);
    seen.add(q);
  }
  return lanes;
}

/** The lanes a worker process runs: those of --queues, else one per queue it knows. */
export function workerLanes(flag: string | undefined, known: string[]): string[][] {
  return flag === undefined ? [...new Set(known)].map((q) => [q]) : parseLanes(flag);
}
