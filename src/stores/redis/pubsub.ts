// Events: one subscriber connection per store, opened on first use. The work events (what an idle
// worker waits for) have a channel of their own, so a process that runs only workers never
// receives the rest; hand-off messages come on a channel per worker (claim.ts routes them).
import type { StoreEvent, StoreEventType, StoreListener, SubscribeOptions } from '../../core/store.js';
import { Cluster, type Redis } from 'ioredis';
import { clusterSubscriber, watchSilence, type RedisClient, type RedisTarget } from './connect.js';
import type { RedisContext } from './context.js';

/** An event message as publishEvents (lua/lib/events.lua) sends it: queue, time, [type, jobId?, runAt?, progress JSON?] each. */
interface EventMessage {
  q: string;
  a: number;
  e: [StoreEventType, string?, (number | false)?, string?][];
}

/** What pub/sub needs of the hand-off (claim.ts): the channels to subscribe again, and where messages go. */
export interface HandoffRoute {
  channels(): string[];
  message(text: string): void;
}

export class PubSub {
  private subscriber: RedisClient | null = null;
  private stopWatch: () => void = () => {};
  /** A Cluster's subscriber connection this store follows (followClusterSubscriber). */
  private followed: Redis | null = null;
  /** listener → whether it wants every event, not only WORK_EVENTS. */
  private readonly listeners = new Map<StoreListener, boolean>();
  private allEventsSubscribed = false;
  /** Set once the store is built (the hand-off side needs this class too). */
  handoff: HandoffRoute | null = null;

  constructor(private readonly ctx: RedisContext, private readonly target: RedisTarget) {}

  subscribe(listener: StoreListener, opts: SubscribeOptions & { workOnly?: boolean } = {}): () => void {
    const wantsAll = !opts.workOnly;
    this.listeners.set(listener, wantsAll);
    if (!this.ctx.closed) {
      const subscriber = this.open();
      if (wantsAll && !this.allEventsSubscribed) {
        this.allEventsSubscribed = true;
        this.whenSubscribed(subscriber.subscribe(this.ctx.keys.eventChannel));
      }
    }
    return () => this.listeners.delete(listener);
  }

  /** Subscribe one more channel (a worker's hand-offs). */
  listenOn(channel: string): void {
    this.whenSubscribed(this.open().subscribe(channel));
  }

  async stopListeningOn(channel: string): Promise<void> {
    await (this.subscriber?.unsubscribe(channel) as Promise<unknown> | undefined)?.catch(() => {});
  }

  /** Calls made from now on wait for this subscription, so a new listener sees their events. */
  private whenSubscribed(subscribed: Promise<unknown>): void {
    const { ctx } = this;
    const next = Promise.all([ctx.subscribing, subscribed]).then(() => {}, () => {});
    ctx.subscribing = next;
    void next.then(() => {
      if (ctx.subscribing === next) ctx.subscribing = null;
    });
  }

  private open(): RedisClient {
    if (this.subscriber) return this.subscriber;
    const { keys } = this.ctx;
    const subscriber = this.target.create(`${keys.prefix}:events`);
    this.subscriber = subscriber;
    let connectedOnce = false;
    subscriber.on('message', (channel: string, text: string) => this.onMessage(channel, text));
    // After a reconnect, events published while we were away are gone: tell listeners every queue
    // may have work, so idle workers claim at once instead of waiting for their poll.
    subscriber.on('ready', () => {
      if (connectedOnce) this.subscribeAgainThenResync(subscriber);
      connectedOnce = true;
    });
    this.stopWatch = watchSilence(subscriber, this.target.socketTimeoutMs);
    subscriber.on('error', (err: Error) => (this.ctx.lastError = err));
    const subscribed = subscriber.subscribe(keys.workChannel) as Promise<unknown>;
    this.whenSubscribed(subscribed);
    if (subscriber instanceof Cluster) {
      const follow = () => this.followClusterSubscriber(subscriber);
      void subscribed.then(follow, follow);
    }
    return subscriber;
  }

  /**
   * A Cluster's subscriber connection is not made again when it ends (dropped for silence, closed by
   * its server, its node gone): ioredis's ClusterSubscriber puts another on a node it picks, with the
   * channels, and the Cluster says no 'ready' for it. So the store follows that connection: once it
   * has ended (the class, which heard the end first, has made the next), the same as after a
   * reconnect, and then it follows the next.
   */
  private followClusterSubscriber(cluster: Cluster): void {
    const connection = clusterSubscriber(cluster);
    if (!connection || connection === this.followed || this.ctx.closed) return;
    this.followed = connection;
    connection.once('end', () => {
      if (!this.ctx.closed) this.subscribeAgainThenResync(cluster);
    });
  }

  /** Wake listeners only once the channels are subscribed again, so no enqueue falls in between. */
  private subscribeAgainThenResync(subscriber: RedisClient): void {
    const { keys } = this.ctx;
    const channels = [keys.workChannel, ...(this.allEventsSubscribed ? [keys.eventChannel] : []), ...(this.handoff?.channels() ?? [])];
    const resync = () => {
      if (subscriber instanceof Cluster) this.followClusterSubscriber(subscriber);
      void this.resync();
    };
    void (subscriber.subscribe(...channels) as Promise<unknown>).then(resync, resync);
  }

  private async resync(): Promise<void> {
    const { ctx } = this;
    const queues = new Set([...ctx.claimedQueues, ...ctx.registeredQueues, ...(await ctx.allQueues().catch(() => []))]);
    const at = ctx.clock.now();
    this.emit([...queues].map((queue) => ({ type: 'resumed' as const, queue, at, missed: true as const })));
  }

  private onMessage(channel: string, text: string): void {
    if (this.ctx.keys.isHandoffChannel(channel)) return this.handoff?.message(text);
    if (this.listeners.size === 0) return;
    const isWork = channel === this.ctx.keys.workChannel;
    let message: EventMessage;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const events: StoreEvent[] = message.e.map(([type, jobId, runAt, progress]) => {
      const event: StoreEvent = { type, queue: message.q, at: message.a };
      if (jobId !== undefined) event.jobId = jobId;
      if (typeof runAt === 'number') event.runAt = runAt;
      if (progress !== undefined) event.progress = JSON.parse(progress);
      return event;
    });
    this.emit(events, isWork);
  }

  /** `isWork`: events of the work channel, which every listener gets; the rest only those that asked for all. */
  private emit(events: StoreEvent[], isWork = true): void {
    for (const [listener, wantsAll] of this.listeners) if (isWork || wantsAll) for (const event of events) listener(event);
  }

  /** No more events to anyone (the store is closing). */
  dropListeners(): void {
    this.listeners.clear();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await closeClient(this.subscriber);
    this.stopWatch();
  }
}

/** How long a close waits for QUIT's answer before it drops the connection. */
const QUIT_WAIT_MS = 5000;

/** QUIT, or drop the connection if QUIT cannot be sent or gets no answer in time. */
export async function closeClient(client: RedisClient | null): Promise<void> {
  if (!client) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    // A client with no server to reach (every Sentinel down) would hold QUIT for good.
    await Promise.race([client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, QUIT_WAIT_MS)))]);
  } catch {
    // Dropped below.
  } finally {
    clearTimeout(timer);
  }
  // After QUIT too: a Sentinel client's failover detector keeps its own connections to the
  // Sentinels until disconnect. Not on a client already ended: a Cluster's would be left disconnecting.
  if (client.status !== 'end') client.disconnect();
}
