// Redis Cluster: a queue's slot moved to another master while adds and heartbeats run, as an
// operator's resharding does it (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE of the slot's keys,
// SETSLOT NODE), on a 3-master cluster of the test's own.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { openRedisStore } from '../../src/stores/redis/index.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { Queue } from '../../src/core/queue.js';
import { isUnavailable } from '../../src/core/store-errors.js';
import { OwnCluster, clusterPorts, hasRedisServer, redisSkip, testPrefix, dropPrefix } from '../helpers/redis.js';

const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start a cluster');
const cluster = skip ? null : new OwnCluster(await clusterPorts(3));
if (cluster) {
  await cluster.start();
  after(() => cluster.stop());
}

describe('Redis Cluster slot migration', { skip }, () => {
  it('refuses a queue\'s calls as unavailable while its slot moves, and loses no job or lease', async () => {
    const prefix = testPrefix();
    const store = (await openRedisStore(cluster!.url, { prefix })) as RedisStore;
    const admin = new Map(cluster!.ports.map((p) => [p, new Redis({ port: p, host: '127.0.0.1' })] as const));
    try {
      const q = new Queue(store);
      const jobs = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ task: 't', queue: 'mig', payload: { n: from + i } }));
      await q.enqueueMany(jobs(10, 0));
      const { jobs: held } = await store.claimJobs({ queues: ['mig'], workerId: 'w', limit: 3, leaseMs: 600_000, now: Date.now() });
      assert.equal(held.length, 3);
      const leases = held.map((j) => ({ id: j.id, token: j.leaseToken! }));

      const slot = String(await admin.get(cluster!.ports[0]!)!.cluster('KEYSLOT', `{${prefix}:mig}`));
      const ids = new Map<number, string>();
      for (const [port, r] of admin) ids.set(port, String(await r.cluster('MYID')));
      let sourcePort = 0;
      for (const [port, r] of admin) if (Number(await r.cluster('COUNTKEYSINSLOT', Number(slot))) > 0) sourcePort = port;
      const targetPort = cluster!.ports.find((p) => p !== sourcePort)!;
      const source = admin.get(sourcePort)!;
      const target = admin.get(targetPort)!;
      const keysAt = async (r: Redis) => (await r.call('CLUSTER', 'GETKEYSINSLOT', slot, '10000')) as string[];
      await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', ids.get(sourcePort)!);
      await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', ids.get(targetPort)!);

      // Migrating, no key moved yet: an add and a heartbeat are refused (TRYAGAIN, a 503), not run
      // on the importing node, which holds none of the queue (there the add made a second queue
      // and the heartbeat found its jobs gone).
      const outcome = (p: Promise<unknown>) => p.then((value) => ({ value }), (err: Error) => ({ unavailable: isUnavailable(err), message: err.message }));
      const refusedAdd = await outcome(q.enqueueMany(jobs(1, 100)));
      const refusedBeat = await outcome(store.heartbeatJobs({ leases, leaseMs: 600_000, now: Date.now() }));
      assert.deepEqual([refusedAdd, refusedBeat].map((o) => ('unavailable' in o ? o.unavailable : o.value)), [true, true],
        `the add and heartbeat while the slot migrates: ${JSON.stringify([refusedAdd, refusedBeat])}`);
      assert.deepEqual(await keysAt(target), [], 'the importing node holds nothing of the queue before the MIGRATE');

      // An add and a heartbeat in flight while the slot's keys move (in one MIGRATE) and the slot is
      // handed over: ioredis retries them until the target owns the slot.
      const add = q.enqueueMany(jobs(5, 10));
      const beat = store.heartbeatJobs({ leases, leaseMs: 600_000, now: Date.now() });
      await source.call('MIGRATE', '127.0.0.1', String(targetPort), '', '0', '5000', 'KEYS', ...(await keysAt(source)));
      await target.call('CLUSTER', 'SETSLOT', slot, 'NODE', ids.get(targetPort)!);
      for (const [port, r] of admin) if (port !== targetPort) await r.call('CLUSTER', 'SETSLOT', slot, 'NODE', ids.get(targetPort)!);
      assert.deepEqual((await add).map((a) => a.created), [true, true, true, true, true]);
      assert.deepEqual((await beat).map((b) => b.ok), [true, true, true]);

      assert.deepEqual(await keysAt(source), []);
      const counts = (await store.countJobs()).mig!;
      assert.deepEqual({ queued: counts.queued, active: counts.active }, { queued: 7 + 5, active: 3 });
      const { jobs: rest } = await store.claimJobs({ queues: ['mig'], workerId: 'w', limit: 100, leaseMs: 600_000, now: Date.now() });
      assert.deepEqual(rest.map((j) => (j.payload as { n: number }).n).sort((a, b) => a - b), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    } finally {
      await dropPrefix(store.client, prefix).catch(() => {});
      await store.close();
      for (const r of admin.values()) r.disconnect();
    }
  });
});
