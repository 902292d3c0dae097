// Connection faults: a worker whose connections are killed, or whose Redis restarts, reconnects,
// re-subscribes and goes on consuming. The worker polls once a minute, so each job below can only
// start through the store's reconnect path (re-subscription + a wake for every queue).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Queue } from '../../src/core/queue.js';
import { OwnRedis, REDIS_URL, dropPrefix, hasRedisServer, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';
import { deferred, within } from '../helpers/await.js';
import { keyedWorker } from '../helpers/engine.js';

const skip = await redisSkip();

/** CLIENT KILL every connection of a store (found by the connection names the store sets). */
async function killConnections(admin: Redis, prefix: string): Promise<number> {
  const list = await admin.client('LIST') as string;
  const ids = list.split('\n').filter((l) => l.includes(`name=fusion:${prefix}:`)).map((l) => /id=(\d+)/.exec(l)![1]!);
  for (const id of ids) await admin.client('KILL', 'ID', id);
  return ids.length;
}

describe('Redis connection faults', { skip }, () => {
  it('keeps consuming after CLIENT KILL of its connections, again and again', async () => {
    const prefix = testPrefix();
    const producer = openTestStore(undefined, `${prefix}`);
    // The consumer gets its own prefix-identical store but distinct connection names, so only its connections die.
    const consumer = openTestStore(undefined, prefix);
    const admin = new Redis(REDIS_URL);
    const { worker, ran } = keyedWorker(consumer, 'faults');
    const q = new Queue(producer);
    try {
      let p = ran('before');
      await q.enqueue({ task: 't', queue: 'faults', payload: { key: 'before' } });
      await within(p, 5000, 'job before any fault');
      // Both stores share connection names; kill them all: the producer must reconnect too.
      for (let round = 0; round < 3; round++) {
        const killed = await killConnections(admin, prefix);
        assert.ok(killed >= 3, `killed ${killed} connections (command + events of the worker, command of the producer)`);
        p = ran(`after-${round}`);
        await q.enqueue({ task: 't', queue: 'faults', payload: { key: `after-${round}` } });
        await within(p, 10_000, `job after CLIENT KILL round ${round}`);
      }
    } finally {
      await worker.stop(1000);
      await dropPrefix(admin, prefix);
      admin.disconnect();
      await Promise.all([producer.close(), consumer.close()]);
    }
  });

  it('keeps consuming across a Redis restart (its own redis-server on a spare port)', { skip: hasRedisServer() ? false : 'redis-server not installed' }, async () => {
    const redis = new OwnRedis(7392);
    await redis.start();
    const prefix = testPrefix();
    const producer = openTestStore(redis.url, prefix);
    const consumer = openTestStore(redis.url, prefix);
    const { worker, ran } = keyedWorker(consumer, 'faults');
    const q = new Queue(producer);
    try {
      let p = ran('before');
      await q.enqueue({ task: 't', queue: 'faults', payload: { key: 'before' } });
      await within(p, 5000, 'job before the restart');
      for (let round = 0; round < 2; round++) {
        await redis.kill();
        // Down long enough for the worker's store calls to fail and its reconnects to back off.
        await new Promise((r) => setTimeout(r, 700));
        await redis.start();
        p = ran(`restart-${round}`);
        const done = deferred();
        const off = producer.subscribe((e) => e.type === 'completed' && e.jobId === `restart-${round}` && done.resolve());
        const job = await q.enqueue({ id: `restart-${round}`, task: 't', queue: 'faults', payload: { key: `restart-${round}` } });
        await within(p, 15_000, `job after restart ${round} started`);
        await within(done.promise, 15_000, `job after restart ${round} completed`);
        off();
        assert.equal((await producer.getJob({ id: job.id }))!.state, 'completed');
      }
    } finally {
      await worker.stop(1000);
      await Promise.all([producer.close(), consumer.close()]);
      await redis.stop();
    }
  });
});
