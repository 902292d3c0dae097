// Redis Cluster: a 3-master cluster of the test's own on loopback ports runs the whole Store
// contract, a worker serving queues that live on different slots, the idle hand-off, connections
// that go silent behind a proxy per master, the subscriber connection closed by the servers, the
// masters' persistence and natMap parsing.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, Redis } from 'ioredis';
import { storeContract } from '../contract/suite.js';
import { Worker } from '../../src/core/worker.js';
import { Queue } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { openRedisStore } from '../../src/stores/redis/index.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';
import { persistenceWarning, readPersistence } from '../../src/stores/redis/persistence.js';
import { OwnCluster, countHandoffs, hasRedisServer, redisHarness, redisSkip, testPrefix, dropPrefix } from '../helpers/redis.js';
import { deferred, until, within } from '../helpers/await.js';
import { BlackholeProxy } from '../helpers/blackhole-proxy.js';
import { keyedWorker, stopAndCloseWithin } from '../helpers/engine.js';

const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start a cluster');
const cluster = skip ? null : new OwnCluster([7301, 7302, 7303]);
if (cluster) {
  await cluster.start();
  after(() => cluster.stop());
}

if (!cluster) describe('Redis Cluster', { skip }, () => {});
else {
  storeContract('redis cluster (3 masters)', () => redisHarness(cluster.url));

  describe('Redis Cluster specifics', () => {
    it('keeps every key of a queue in one slot, and spreads queues over the masters', async () => {
      const prefix = testPrefix();
      const store = (await openRedisStore(`${cluster.url}?prefix=${prefix}`)) as RedisStore;
      const c = store.client as Cluster;
      try {
        const queues = Array.from({ length: 12 }, (_, i) => `q${i}`);
        const q = new Queue(store);
        for (const name of queues) await q.enqueueMany([{ task: 't', queue: name }, { task: 't', queue: name, delay: 60_000 }]);
        const slotsOfQueue = new Map<string, Set<number>>();
        for (const node of c.nodes('master')) {
          let cursor = '0';
          do {
            const [next, keys] = await node.scan(cursor, 'MATCH', `{${prefix}:*`, 'COUNT', 500);
            cursor = next;
            for (const k of keys) {
              const queue = /^\{[^:]+:([^}]+)\}/.exec(k)![1]!;
              const slot = (await node.cluster('KEYSLOT', k)) as number;
              (slotsOfQueue.get(queue) ?? slotsOfQueue.set(queue, new Set()).get(queue)!).add(slot);
            }
          } while (cursor !== '0');
        }
        assert.equal(slotsOfQueue.size, 12);
        for (const [queue, slots] of slotsOfQueue) assert.equal(slots.size, 1, `queue ${queue} spans ${slots.size} slots`);
        assert.ok(new Set([...slotsOfQueue.values()].map((s) => [...s][0])).size > 1, 'queues land on different slots');
      } finally {
        await dropPrefix(c, prefix);
        await store.close();
      }
    });

    it('runs one worker across queues on different masters, with callbacks crossing slots', async () => {
      const prefix = testPrefix();
      const producer = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const consumer = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const queues = ['alpha', 'beta', 'gamma', 'delta'];
      const seen = new Set<string>();
      const all = deferred();
      const N = 200;
      const reg = new TaskRegistry().register('t', async (p: { n: number }) => {
        seen.add(String(p.n));
        if (seen.size === N) all.resolve();
      });
      const worker = new Worker(consumer, reg, { queues, concurrency: 8, pollMs: 60_000 }).start();
      try {
        const q = new Queue(producer);
        for (let i = 0; i < N; i++) {
          await q.enqueue({ task: 't', queue: queues[i % queues.length]!, payload: { n: i }, ...(i % 10 === 0 ? { delay: 200 } : {}) });
        }
        await within(all.promise, 20_000, 'all jobs on all queues ran');
        const counts = await producer.countJobs();
        const done = queues.reduce((s, name) => s + (counts[name]?.completed ?? 0), 0);
        assert.ok(done <= N);
        assert.equal(seen.size, N);
        // A schedule's jobs go to their queue's slot through the outbox, atomically with the CAS.
        const rec = await producer.saveSchedule({ schedule: { id: 'sc', spec: { x: 1 }, nextRunAt: Date.now(), paused: false }, now: Date.now() });
        const job = { id: 'sc@1', queue: 'beta', task: 'none', payload: null, priority: 1, maxAttempts: 1, backoff: { type: 'fixed' as const, delay: 1 },
          timeout: 0, maxStalls: 1, runAt: Date.now() + 60_000, createdAt: Date.now(), description: null, tags: [], callbacks: null, scheduleId: 'sc' };
        assert.equal(await producer.advanceSchedule({ id: 'sc', expectedVersion: rec.version, next: { nextRunAt: null, runCount: 1, lastRunAt: Date.now() }, jobs: [job], now: Date.now() }), true);
        assert.equal((await consumer.getJob({ id: 'sc@1' }))!.scheduleId, 'sc');
      } finally {
        await worker.stop(1000);
        await dropPrefix(producer.client, prefix);
        await Promise.all([producer.close(), consumer.close()]);
      }
    });

    it('follows its subscriber connection: when a server closes it, the store subscribes again on its replacement and wakes its workers', async () => {
      const prefix = testPrefix();
      const producer = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const consumer = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const { worker, ran } = keyedWorker(consumer, 'follow');
      try {
        const q = new Queue(producer);
        let started = ran('first');
        await q.enqueue({ task: 't', queue: 'follow', payload: { key: 'first' } });
        await within(started, 5000, 'the first job');
        // ioredis's Cluster replaces a subscriber connection that ends, on a node it picks, but says
        // no 'ready' for it: only the store's following it wakes the workers (events published while
        // none was there are gone).
        const resumed = deferred();
        const off = consumer.subscribe((e) => e.type === 'resumed' && e.queue === 'follow' && resumed.resolve());
        const killed = await Promise.all(cluster.ports.map(async (port) => {
          const node = new Redis({ port, host: '127.0.0.1' });
          try {
            return Number(await node.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
          } finally {
            node.disconnect();
          }
        }));
        assert.ok(killed.reduce((a, b) => a + b, 0) >= 1, 'the subscriber connections were closed');
        await within(resumed.promise, 5000, "the workers woken after the subscriber's replacement");
        off();
        started = ran('next');
        await q.enqueue({ task: 't', queue: 'follow', payload: { key: 'next' } });
        await within(started, 5000, 'the next job, on the new subscriber connection (the poll is a minute)');
      } finally {
        await worker.stop(1000);
        await dropPrefix(producer.client, prefix);
        await Promise.all([producer.close(), consumer.close()]);
      }
    });

    it('reads the persistence of every master', async () => {
      const store = (await openRedisStore(cluster.url, { prefix: testPrefix() })) as RedisStore;
      try {
        await store.ping();
        const servers = await readPersistence(store.client);
        assert.deepEqual(servers.map((p) => p.node).sort(), cluster.ports.map((port) => `127.0.0.1:${port}`).sort());
        assert.ok(servers.every((p) => !p.aof && p.save === ''), 'the test cluster keeps nothing');
        assert.match(persistenceWarning(servers)!, /^Redis: none/);
      } finally {
        await store.close();
      }
    });

    it('reads natMap from a cluster URL: announced>reachable pairs, anything else refused', () => {
      const cluster = parseRedisUrl('redis+cluster://10.0.0.1:7000?natMap=10.0.0.1:7000>203.0.113.5:17000,10.0.0.2:7000>gw.example:17001,[fd00::2]:7000>[::1]:17002');
      const client = cluster.create('test') as Cluster;
      try {
        assert.deepEqual(client.options.natMap, {
          '10.0.0.1:7000': { host: '203.0.113.5', port: 17000 }, '10.0.0.2:7000': { host: 'gw.example', port: 17001 }, 'fd00::2:7000': { host: '::1', port: 17002 },
        });
      } finally {
        client.disconnect();
      }
      const refused = ['', '10.0.0.1:7000', '10.0.0.1>10.0.0.2:7000', '10.0.0.1:7000>', '10.0.0.1:7000>h:x', 'a:1>b:2>c:3', 'a:1>:7000', 'a:1>h:', 'a:1>h', 'a:1>h:0',
        'a:1>h:65536', 'a:1>h:1e3', 'a:1>h:-1', 'fd00::2:7000>h:1', 'a:1>::1', 'a:1>[h:1', 'a:1>h]:1'];
      for (const bad of refused) {
        assert.throws(() => parseRedisUrl(`redis+cluster://10.0.0.1:7000?natMap=${bad}`), (err: Error & { code?: string }) =>
          err.code === 'invalid_store' && /natMap/.test(err.message), bad);
      }
    });

    it('hands jobs to an idle worker of one queue (idle hand-off, its channel published cluster-wide)', async () => {
      const prefix = testPrefix();
      const producer = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const consumer = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const handed = countHandoffs(consumer);
      let started = deferred();
      const reg = new TaskRegistry().register('t', async () => started.resolve());
      const worker = new Worker(consumer, reg, { queues: ['solo'], concurrency: 2, pollMs: 60_000 }).start();
      const idleKey = `{${prefix}:solo}:i`;
      try {
        const q = new Queue(producer);
        for (let i = 0; i < 10; i++) {
          await until(async () => (await producer.client.zcard(idleKey)) === 1, 5000, 'registration', 2);
          started = deferred();
          await q.enqueue({ task: 't', queue: 'solo', payload: { i } });
          await within(started.promise, 5000, `job ${i} started`);
        }
        assert.equal(handed.jobs, 10, 'every job came by hand-off');
      } finally {
        await worker.stop(1000);
        await dropPrefix(producer.client, prefix);
        await Promise.all([producer.close(), consumer.close()]);
      }
    });

    // Connections that go silent (see tests/redis/dead-connection.test.ts): here each master sits behind
    // a proxy, and the store reaches the nodes the cluster names through them (?natMap=; the seed
    // nodes of the URL are reached directly, and only for the first look at the slots).
    it('replaces silent connections: an add in the air completes, an idle worker gets the next job, close ends', async () => {
      const SOCKET_TIMEOUT_MS = 400;
      const proxies = await Promise.all(cluster.ports.map(async (port) => {
        const proxy = new BlackholeProxy(port);
        await proxy.start();
        return proxy;
      }));
      const natMap = cluster.ports.map((port, i) => `127.0.0.1:${port}>127.0.0.1:${proxies[i]!.port}`).join(',');
      const target = parseRedisUrl(`${cluster.url}?socketTimeout=${SOCKET_TIMEOUT_MS}&natMap=${natMap}`);
      const prefix = testPrefix();
      const producer = new RedisStore(target, { prefix });
      const consumer = new RedisStore(target, { prefix });
      const admin = (await openRedisStore(cluster.url, { prefix })) as RedisStore;
      const { worker, ran } = keyedWorker(consumer, 'silent');
      const q = new Queue(producer);
      const blackholeAll = () => proxies.reduce((n, p) => n + p.blackhole(), 0);
      try {
        let started = ran('before');
        await q.enqueue({ task: 't', queue: 'silent', payload: { key: 'before' } });
        await within(started, 5000, 'the job before the blackhole');
        for (let round = 0; round < 2; round++) {
          // After round 0 the replacements of the silenced connections open on their own time: once,
          // in a full suite run on the loaded 2-core box, only 2 were open yet (usually 6 are).
          const live = () => proxies.reduce((n, p) => n + p.live, 0);
          await until(() => live() >= 3, 8000, () => `the producer's and the worker's connections open again (${live()} open)`, 5);
          const silenced = blackholeAll();
          assert.ok(silenced >= 3, `${silenced} connections silenced (the producer's, the worker's commands and events)`);
          const first = `silenced-${round}`;
          started = ran(first);
          const t0 = performance.now();
          await within(q.enqueue({ id: first, task: 't', queue: 'silent', payload: { key: first } }), 8000, `the add on a silent connection, round ${round}`);
          const addMs = performance.now() - t0;
          assert.ok(addMs >= SOCKET_TIMEOUT_MS * 0.9, `the add waited out the socket timeout (${addMs.toFixed(0)} ms): it met a silent connection`);
          await within(started, 8000, `${first} started`);
          // The worker is idle again; with a poll once a minute, the next job reaches it only by its new
          // event connection or by the claim that follows the subscriber's replacement.
          const next = `replaced-${round}`;
          started = ran(next);
          await q.enqueue({ id: next, task: 't', queue: 'silent', payload: { key: next } });
          await within(started, 8000, `${next} started`);
        }
        for (const id of ['silenced-0', 'replaced-0', 'silenced-1', 'replaced-1']) {
          await until(async () => (await admin.getJob({ id }))?.state === 'completed', 5000, `${id} completed`);
        }
        assert.ok(blackholeAll() >= 3);
        await stopAndCloseWithin(worker, [producer, consumer], 8000);
      } finally {
        await worker.stop(1000);
        await Promise.all([producer.close(), consumer.close()]);
        await dropPrefix(admin.client, prefix);
        await admin.close();
        await Promise.all(proxies.map((p) => p.close()));
      }
    });
  });
}
