// redis+sentinel:// store URLs: the store asks the Sentinels for the master and follows a failover.
// Real servers of the test's own: a master, its replica and a Sentinel. The master is killed, the
// Sentinel promotes the replica, and the store (adds waiting for a replica) keeps every acknowledged
// job, refuses adds while the new master has no replica, and works on once the old master is back
// as its replica.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { Worker } from '../../src/core/worker.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';
import { isRedisUrl, redactStoreUrl } from '../../src/stores/url.js';
import { OwnSentinelGroup, hasRedisServer, redisSkip, testPrefix } from '../helpers/redis.js';
import { until } from '../helpers/await.js';

const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start a Sentinel');

describe('redis+sentinel:// URLs', () => {
  it('names the sentinels, the master and the db, and refuses what lacks them', () => {
    assert.equal(isRedisUrl('redis+sentinel://10.0.0.1:26379/main'), true);
    const target = parseRedisUrl('redis+sentinel://u:p@10.0.0.1,10.0.0.2:26380/main/3?prefix=acme&waitReplicas=1&sentinelPassword=s');
    assert.deepEqual([target.cluster, target.prefix, target.replicaWait?.replicas], [false, 'acme', 1]);
    const client = target.create('probe');
    try {
      const o = client.options as { sentinels: unknown; name: string; db: number; username: string; password: string; sentinelPassword: string; role: string; failoverDetector: boolean };
      assert.deepEqual(o.sentinels, [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26380 }]);
      assert.deepEqual([o.name, o.db, o.username, o.password, o.sentinelPassword, o.role, o.failoverDetector], ['main', 3, 'u', 'p', 's', 'master', true]);
    } finally {
      client.disconnect();
    }
    for (const url of ['redis+sentinel://10.0.0.1:26379', 'redis+sentinel://10.0.0.1:26379/', 'redis+sentinel://10.0.0.1:26379/main/x', 'redis+sentinel://10.0.0.1:26379/main/1/2', 'redis+sentinel:///main']) {
      assert.throws(() => parseRedisUrl(url), { code: 'invalid_store', message: /a sentinel URL needs host:port,host:port\/master-name\[\/db\]/ }, url);
    }
    assert.equal(redactStoreUrl('redis+sentinel://u:p@h:1/m?prefix=a&sentinelPassword=secret&tls=1'), 'redis+sentinel://u:***@h:1/m?prefix=a&sentinelPassword=***&tls=1');
  });
});

describe('a store on a Sentinel-watched master', { skip }, () => {
  let group: OwnSentinelGroup;
  before(async () => {
    group = new OwnSentinelGroup();
    await group.start();
  });
  after(() => group?.stop());

  it('follows a failover: nothing acknowledged lost, adds refused while no replica confirms them, all work done after', async () => {
    const store = new RedisStore(parseRedisUrl(`${group.url}?prefix=${testPrefix()}&waitReplicas=1&waitTimeout=300&socketTimeout=2000`));
    const queue = new Queue(store);
    const runs = new Map<string, number>();
    const registry = new TaskRegistry().register('t', async (_payload, ctx) => void runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1));
    let worker: Worker | null = null;
    try {
      const before = await queue.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ id: `before-${i}`, task: 't', queue: 'q' })));
      assert.equal(before.filter((r) => r.created).length, 100);

      const old = await group.failover();
      // The promoted master has no replica yet: an add is stored there but not confirmed.
      await until(async () => {
        const err = await queue.enqueue({ id: 'alone', task: 't', queue: 'q' }).then(() => null, (e: { code?: string }) => e);
        return err?.code === 'not_replicated';
      }, 30_000, 'the store reached the promoted master', 100);
      await group.restartAsReplica(old);
      await queue.enqueue({ id: 'after', task: 't', queue: 'q' });

      worker = new Worker(store, registry, { queues: ['q'], concurrency: 10 }).start();
      const counts = async () => (await store.countJobs({ queue: 'q' })).q!;
      await until(async () => (await counts()).completed === 102, 30_000, async () => `every job completed: ${JSON.stringify(await counts())}`);
      for (let i = 0; i < 100; i++) assert.equal(runs.get(`before-${i}`), 1, `before-${i} ran once`);
      assert.deepEqual([runs.get('alone'), runs.get('after')], [1, 1]);
      assert.equal((await group.master()).port, group.servers.find((s) => s !== old)!.port, 'the store works on the promoted master');
    } finally {
      await worker?.stop();
      await store.close();
    }
  });
});
