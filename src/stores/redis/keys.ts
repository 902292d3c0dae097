// Every Redis key and channel name the store's TypeScript side builds, in one place and named for
// what it holds. The scripts build the same keys from a hash-tag base and the suffixes in
// lua/lib/keys.lua; the two lists must agree.
//
// A queue's keys share the hash tag `{prefix:queue}` and the global ones `{prefix}`, so each script
// touches one slot and runs unchanged on Redis Cluster.

/** One store's key and channel names (a store's prefix keeps it apart from others on one Redis). */
export class RedisKeys {
  /** The hash-tag base of global keys (the queue set, the id index, schedules, workers, the sweep lock). */
  readonly globalKeyBase: string;
  /** Every queue name this store has seen (a set). */
  readonly queueNames: string;
  /** The id → queue hash. */
  readonly idIndex: string;
  /**
   * The id index as scripts get it: on a single Redis they keep it in the same step; on Cluster
   * (another slot) undefined, and the store writes it after.
   */
  readonly scriptIdIndex: string | undefined;
  /** Follow-up jobs of schedule runs, until delivered (see outbox.ts). */
  readonly scheduleOutbox: string;
  /** Schedule ids, and the unpaused ones by next run time. */
  readonly allSchedules: string;
  readonly dueSchedules: string;
  /** Channels: every event but the work events, and the work events (see lua/lib/events.lua). */
  readonly eventChannel: string;
  readonly workChannel: string;
  /** The channel the scripts publish on: '?name' on a single Redis, so they may skip events nobody subscribes to (publishEvents). */
  readonly scriptChannel: string;
  /** What every hand-off channel starts with (handoffChannel): tested on each message, so made once. */
  private readonly handoffPrefix: string;

  constructor(readonly prefix: string, cluster: boolean) {
    this.globalKeyBase = `{${prefix}}`;
    this.queueNames = `${this.globalKeyBase}:queues`;
    this.idIndex = `${this.globalKeyBase}:ids`;
    this.scriptIdIndex = cluster ? undefined : this.idIndex;
    this.scheduleOutbox = `${this.globalKeyBase}:o`;
    this.allSchedules = `${this.globalKeyBase}:sca`;
    this.dueSchedules = `${this.globalKeyBase}:scd`;
    this.eventChannel = `${prefix}:events`;
    this.workChannel = `${this.eventChannel}:w`;
    this.scriptChannel = cluster ? this.eventChannel : `?${this.eventChannel}`;
    this.handoffPrefix = `${this.eventChannel}:h:`;
  }

  /** The hash-tag base of a queue's keys (a queue script's KEYS[1]). */
  queueKeyBase(queue: string): string {
    return `{${this.prefix}:${queue}}`;
  }

  /** A job's hash (its fields: FIELDS in codec.ts). */
  job(queue: string, id: string): string {
    return `${this.queueKeyBase(queue)}:j:${id}`;
  }

  /** A job's log lines ("at message" each). */
  jobLog(queue: string, id: string): string {
    return `${this.queueKeyBase(queue)}:l:${id}`;
  }

  /** Every job of a queue, scored by enqueue seq (newest-first lists). */
  allJobs(queue: string): string {
    return `${this.queueKeyBase(queue)}:a`;
  }

  /** Follow-up jobs of a queue's outcomes, until delivered (see outbox.ts). */
  queueOutbox(queue: string): string {
    return `${this.queueKeyBase(queue)}:o`;
  }

  /** A schedule's hash. */
  schedule(id: string): string {
    return `${this.globalKeyBase}:sc:${id}`;
  }

  /** The channel a worker's hand-offs come on (handOff in lua/lib/handoff.lua). */
  handoffChannel(workerId: string): string {
    return this.handoffPrefix + workerId;
  }

  /** Whether a channel is a hand-off channel. */
  isHandoffChannel(channel: string): boolean {
    return channel.startsWith(this.handoffPrefix);
  }
}
