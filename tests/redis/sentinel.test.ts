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
import { until, within } from '../helpers/await.js';
import { freePort } from '../helpers/net.js';
import { isUnavailable } from '../../src/core/store-errors.js';

const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start a Sentinel');

describe('redis+sentinel:// URLs', () => {
  it('names the sentinels, the master and the db, and refuses what lacks them', async () => {
    assert.equal(isRedisUrl('redis+sentinel://10.0.0.1:26379/main'), true);
    // Loopback ports nothing listens on: the client made to read its options reaches nothing.
    const [a, b] = [await freePort(), await freePort()];
    const target = parseRedisUrl(`redis+sentinel://u:p:q@127.0.0.1:${a},[::1]:${b},localhost/main/3/?prefix=acme&waitReplicas=1&sentinelPassword=s&tls=1`);
    assert.deepEqual([target.cluster, target.prefix, target.replicaWait?.replicas], [false, 'acme', 1]);
    const client = target.create('probe');
    try {
      const o = client.options as { sentinels: unknown; name: string; db: number; username: string; password: string; sentinelPassword: string; role: string; failoverDetector: boolean; tls: unknown; sentinelTLS: unknown };
      assert.deepEqual(o.sentinels, [{ host: '127.0.0.1', port: a }, { host: '::1', port: b }, { host: 'localhost', port: 26379 }]);
      assert.deepEqual([o.name, o.db, o.username, o.password, o.sentinelPassword, o.role, o.failoverDetector], ['main', 3, 'u', 'p:q', 's', 'master', true]);
      assert.deepEqual([o.tls, o.sentinelTLS], [{}, {}], 'TLS to the master and to the Sentinels');
    } finally {
      client.disconnect();
    }
    for (const url of ['redis+sentinel://10.0.0.1:26379', 'redis+sentinel://10.0.0.1:26379/', 'redis+sentinel://10.0.0.1:26379/main/x',
      'redis+sentinel://10.0.0.1:26379/main/1/2', 'redis+sentinel:///main', 'redis+sentinel://10.0.0.1:0/main', 'redis+sentinel://10.0.0.1:99999/main',
      'redis+sentinel://10.0.0.1:26379/ma%zzin', 'redis+sentinel://u:%zz@10.0.0.1:26379/main']) {
      assert.throws(() => parseRedisUrl(url), { code: 'invalid_store', message: /a sentinel URL needs host:port,host:port\/master-name\[\/db\]/ }, url);
    }
  });

  it('shows no password in a logged URL', () => {
    for (const [url, shown] of [
      ['redis+sentinel://u:p@h:1/m?prefix=a&sentinelPassword=secret&tls=1', 'redis+sentinel://u:***@h:1/m?prefix=a&sentinelPassword=***&tls=1'],
      ['redis+sentinel://h:1/m?sentinelPassword=se@cret&sentinelPassword=again', 'redis+sentinel://h:1/m?sentinelPassword=***&sentinelPassword=***'],
      ['redis://u:p@ss@h:6379/0', 'redis://u:***@h:6379/0'],
      ['redis://:pw@h:6379', 'redis://:***@h:6379'],
      ['redis://user@h:6379', 'redis://user@h:6379'],
      ['postgres://app:pw@db:5432/app?schema=s', 'postgres://app:***@db:5432/app?schema=s'],
      ['sqlite:./data/fusion.db', 'sqlite:./data/fusion.db'],
    ]) assert.equal(redactStoreUrl(url!), shown);
  });

  it('fails calls held while no Sentinel answers, as unavailable, and closes', async () => {
    const store = new RedisStore(parseRedisUrl(`redis+sentinel://127.0.0.1:${await freePort()}/main?prefix=${testPrefix()}&socketTimeout=200`));
    try {
      const err = await within(store.ping().then(() => null, (e: Error) => e), 10_000, 'the ping failed');
      assert.match(String(err?.message), /no Redis master reached through the Sentinels: the connection timed out after \d+ ms/);
      assert.equal(isUnavailable(err), true, 'the API answers it with 503');
    } finally {
      await within(store.close(), 10_000, 'the store closed');
    }
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
    const store = new RedisStore(parseRedisUrl(`${group.url}?prefix=${testPrefix()}&waitReplicas=1&waitTimeout=1500&socketTimeout=3000`));
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
