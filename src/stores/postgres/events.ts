// Subscriptions: this process's listeners hear its own store's events at once (context.emit) and
// other processes' through the LISTEN connection (listen.ts), opened at the first subscribe. A
// subscriber that wants every event holds the '*' waiting mark, so every add notifies it; a
// worker's needs notifications only while it sleeps, which its short claims mark (claim.ts).
import type { StoreListener } from '../../core/store.js';
import type { PostgresContext } from './context.js';
import { Listener } from './listen.js';

export function subscribe(ctx: PostgresContext, listener: StoreListener, workOnly: boolean): () => void {
  ctx.listeners.add(listener);
  const everyEvent = !workOnly && !ctx.closed;
  if (everyEvent && ctx.everyEventListeners++ === 0) {
    void ctx.marks.holdEveryQueue((err) => (ctx.lastError = err));
  }
  if (!ctx.listener && !ctx.closed) {
    ctx.listener = new Listener(ctx.sessionUrl, ctx.applicationName, ctx.workChannel, ctx.origin, {
      event: (e) => ctx.emit([e]),
      // Notifications sent while the connection was down are lost: wake every queue once.
      resync: async (client) => {
        const { rows } = await client.query<{ name: string }>(ctx.statements.queueNames);
        const at = ctx.clock.now();
        ctx.emit(rows.map((r) => ({ type: 'resumed', queue: r.name, at, missed: true })));
      },
      error: (err) => (ctx.lastError = err),
      now: () => ctx.clock.now(),
      silence: ctx.silence,
      options: ctx.sessionOptions(ctx.silence.serverKeepaliveOptions),
    });
  }
  let subscribed = true;
  return () => {
    ctx.listeners.delete(listener);
    if (everyEvent && subscribed && --ctx.everyEventListeners === 0) ctx.marks.releaseEveryQueue();
    subscribed = false;
  };
}

/**
 * Resolves once the LISTEN connection is in place (after a first subscribe) and, for a subscriber
 * of every event, its wait mark: adds committed after that reach it.
 */
export async function listening(ctx: PostgresContext): Promise<void> {
  await ctx.listener?.ready;
  if (ctx.everyEventListeners > 0) await ctx.marks.holdEveryQueue((err) => (ctx.lastError = err));
}

/** Stop listening: listeners dropped, the LISTEN connection and this store's wait marks gone. */
export async function stopListening(ctx: PostgresContext): Promise<void> {
  ctx.listeners.clear();
  await ctx.listener?.close();
  ctx.listener = null;
  await ctx.marks.close();
}
