// What a crash of Redis would cost an acknowledged job, as `fusion store info` shows it and a process
// warns at start: read from real servers of the test's own (no append-only file, fsync always,
// every second, snapshots only) and from the shared one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describeMemory, describePersistence, memoryWarning, persistenceWarning, readPersistence, type RedisPersistence } from '../../src/stores/redis/persistence.js';
import { OwnRedis, REDIS_URL, hasRedisServer, redisSkip, testPrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';
import { Proc } from '../helpers/chaos.js';
import { until } from '../helpers/await.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/fusion.js', import.meta.url));
const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start one');

/** A redis-server of the test's own with these persistence flags, read. */
async function persistenceOf(flags: string[]): Promise<RedisPersistence> {
  const own = new OwnRedis(await freePort(), flags);
  const client = new Redis(own.url, { lazyConnect: true });
  try {
    await own.start();
    const [p] = await readPersistence(client);
    assert.equal(p!.node, `127.0.0.1:${own.port}`);
    return p!;
  } finally {
    client.disconnect();
    await own.stop();
  }
}

describe('Redis persistence: what a crash costs', { skip }, () => {
  it('reads each setting from the server and says what it means', async () => {
    const always = await persistenceOf(['--appendonly', 'yes', '--appendfsync', 'always']);
    assert.deepEqual([always.aof, always.appendfsync], [true, 'always']);
    assert.match(describePersistence(always), /fsync always: an acknowledged job survives a crash/);
    assert.equal(persistenceWarning([always]), null);

    const everysec = await persistenceOf(['--appendonly', 'yes', '--appendfsync', 'everysec']);
    assert.match(describePersistence(everysec), /fsync every second: a crash may lose the last second or two/);
    assert.equal(persistenceWarning([everysec]), null);

    const none = await persistenceOf([]);
    assert.deepEqual([none.aof, none.save], [false, '']);
    assert.match(describePersistence(none), /^none .*: a restart of Redis loses every job$/);
    assert.match(persistenceWarning([none])!, /^Redis: none .*appendonly yes/);

    const snapshots = await persistenceOf(['--save', '60 1000']);
    assert.deepEqual([snapshots.aof, snapshots.save], [false, '60 1000']);
    assert.match(describePersistence(snapshots), /snapshots only \(save 60 1000\): a crash of Redis loses the jobs acknowledged since the last snapshot/);
    assert.equal(snapshots.replicas, 0);
    assert.match(describePersistence({ ...always, replicas: 2 }), /survives a crash .*; a failover to one of its 2 replica\(s\) may lose what it had not yet passed on \(waitReplicas makes adds wait for them\)$/);
    // On a Cluster whose masters differ, the warning names the weak ones.
    assert.match(persistenceWarning([always, { ...none, node: '10.0.0.9:7000' }])!, /^10\.0\.0\.9:7000: none/);
  });

  it('names a failover where the server has replicas', async () => {
    const master = new OwnRedis(await freePort(), ['--appendonly', 'yes', '--appendfsync', 'always']);
    const replica = new OwnRedis(await freePort());
    const client = new Redis(master.url, { lazyConnect: true });
    try {
      await master.start();
      await replica.start();
      const r = new Redis(replica.url);
      await r.call('REPLICAOF', '127.0.0.1', String(master.port)).finally(() => r.disconnect());
      await until(async () => /^connected_slaves:1\r?$/m.test(await client.info('replication')), 10_000, 'the replica attached');
      const [p] = await readPersistence(client);
      assert.equal(p!.replicas, 1);
      assert.match(describePersistence(p!), /fsync always: .*; a failover to one of its 1 replica\(s\) may lose what it had not yet passed on \(waitReplicas makes adds wait for them\)$/);
    } finally {
      client.disconnect();
      await replica.stop();
      await master.stop();
    }
  });

  it('says what Redis does at its memory limit, and warns where it deletes keys', async () => {
    const lru = await persistenceOf(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    assert.deepEqual([lru.maxmemory, lru.evictionPolicy], [64 * 1048576, 'allkeys-lru']);
    assert.ok(lru.usedMemory > 0);
    assert.match(memoryWarning([lru])!, /^Redis: maxmemory 64\.0 MB, [\d.]+ MB used, maxmemory-policy allkeys-lru: at the limit Redis deletes keys, jobs' among them, so acknowledged jobs vanish \(set noeviction\)$/);

    const volatile = await persistenceOf(['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-ttl']);
    assert.match(memoryWarning([volatile])!, /volatile-ttl: at the limit Redis deletes keys that have a TTL; no job's has one, but rate-limit windows/);

    const limited = await persistenceOf(['--maxmemory', '64mb']);
    assert.equal(limited.evictionPolicy, 'noeviction');
    assert.equal(memoryWarning([limited]), null);
    assert.match(describeMemory(limited), /^maxmemory 64\.0 MB, [\d.]+ MB used, noeviction: at the limit adds fail with store_full \(HTTP 503\) while workers finish the jobs they hold$/);

    const unlimited = await persistenceOf([]);
    assert.equal(unlimited.maxmemory, 0);
    assert.match(describeMemory(unlimited), /^no maxmemory, [\d.]+ MB used: Redis grows until the machine's memory runs out$/);
    // Without a limit nothing is evicted yet, which the line says; a policy INFO did not give is no warning.
    assert.match(memoryWarning([{ ...lru, maxmemory: 0 }])!, /^Redis: no maxmemory, .*allkeys-lru: once a maxmemory is set Redis deletes keys/);
    assert.equal(memoryWarning([{ ...lru, evictionPolicy: '' }]), null);
    assert.equal(describeMemory({ ...lru, evictionPolicy: '' }), 'unknown (INFO memory was refused)');
    // On a Cluster whose masters differ, the warning names the evicting ones.
    assert.match(memoryWarning([limited, { ...lru, node: '10.0.0.9:7000' }])!, /^10\.0\.0\.9:7000: maxmemory/);
  });

  it('a CONFIG the server refuses leaves the policy unknown, not the warning', () => {
    assert.match(describePersistence({ node: 'n', aof: false, appendfsync: null, save: null, replicas: 0, maxmemory: 0, usedMemory: 0, evictionPolicy: 'noeviction' }), /no append-only file, snapshots, if any: a crash/);
    assert.match(describePersistence({ node: 'n', aof: true, appendfsync: null, save: null, replicas: 0, maxmemory: 0, usedMemory: 0, evictionPolicy: 'noeviction' }), /could not be read/);
  });

  it('a worker started on Redis logs it, as a warning where a restart of Redis would lose jobs', async () => {
    for (const [flags, level] of [[[], 'warn'], [['--appendonly', 'yes'], 'info']] as const) {
      const own = new OwnRedis(await freePort(), [...flags]);
      let worker: Proc | null = null;
      try {
        await own.start();
        worker = new Proc([BIN, 'worker', '--store', `${own.url}?prefix=${testPrefix()}`, '--queues', 'q']);
        const line = JSON.parse(await worker.line('store persistence')) as { level: number | string; msg: string };
        const levelName = typeof line.level === 'number' ? ({ 30: 'info', 40: 'warn' } as Record<number, string>)[line.level] : line.level;
        assert.equal(levelName, level, line.msg);
        if (level === 'warn') assert.match(line.msg, /a restart of Redis loses every job .*appendonly yes/);
        else assert.match(line.msg, /append-only file, fsync every second/);
        assert.equal((await worker.term()).code, 0);
      } finally {
        await worker?.kill9();
        await own.stop();
      }
    }
  });

  it('a worker started on a Redis that evicts jobs warns', async () => {
    const own = new OwnRedis(await freePort(), ['--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lfu']);
    let worker: Proc | null = null;
    try {
      await own.start();
      worker = new Proc([BIN, 'worker', '--store', `${own.url}?prefix=${testPrefix()}`, '--queues', 'q']);
      const line = JSON.parse(await worker.line('store memory')) as { level: number | string; msg: string };
      assert.ok(line.level === 40 || line.level === 'warn', line.msg);
      assert.match(line.msg, /^store memory: Redis: maxmemory 64\.0 MB, .*allkeys-lfu: at the limit Redis deletes keys, jobs' among them/);
      assert.equal((await worker.term()).code, 0);
    } finally {
      await worker?.kill9();
      await own.stop();
    }
  });

  it('fusion store info prints it for the shared Redis', async () => {
    const client = new Redis(REDIS_URL);
    try {
      const [expected] = await readPersistence(client);
      const { stdout } = await run(process.execPath, [BIN, 'store', 'info', '--store', `${REDIS_URL}?prefix=${testPrefix()}`]);
      assert.ok(stdout.includes(`persistence: ${describePersistence(expected!)}\n`), stdout);
      // Its memory line, but for the MB used, which moves between the two reads.
      const memory = describeMemory(expected!).replace(/[\d.]+ MB used/, 'USED');
      assert.ok(stdout.replace(/[\d.]+ MB used/, 'USED').includes(`\nmemory: ${memory}\n`), stdout);
    } finally {
      client.disconnect();
    }
  });
});
