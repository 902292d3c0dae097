// `?waitReplicas=`: an add is answered only once replicas confirm they hold it (WAIT), so a failover
// to a replica keeps every acknowledged job. Real servers of the test's own: a master with a replica
// (frozen with SIGSTOP to hold its confirmations back), and a cluster of three masters with a replica
// each, where the wait must go to the master that took the add.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Queue, resolveSpec } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { Worker } from '../../src/core/worker.js';
import { isUnavailable } from '../../src/core/store-errors.js';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { DEFAULT_WAIT_TIMEOUT_MS, parseRedisUrl } from '../../src/stores/redis/connect.js';
import { NotReplicatedError } from '../../src/stores/redis/replica-wait.js';
import { describePersistence, persistenceWarning } from '../../src/stores/redis/persistence.js';
import { OwnCluster, OwnRedis, clusterPorts, hasRedisServer, redisSkip, testPrefix, watchCommands } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';
import { until, within } from '../helpers/await.js';
import { BlackholeProxy } from '../helpers/blackhole-proxy.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/fusion.js', import.meta.url));
const skip = (await redisSkip()) || (hasRedisServer() ? false : 'redis-server is not installed: cannot start a replica');

describe('waitReplicas in a store URL', () => {
  it('reads the count and the timeout, and refuses what cannot work', () => {
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379').replicaWait, null);
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379?waitReplicas=1').replicaWait, { replicas: 1, timeoutMs: DEFAULT_WAIT_TIMEOUT_MS });
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379/2?prefix=a&waitReplicas=2&waitTimeout=500').replicaWait, { replicas: 2, timeoutMs: 500 });
    assert.deepEqual(parseRedisUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001?waitReplicas=1&waitTimeout=50').replicaWait, { replicas: 1, timeoutMs: 50 });
    assert.equal(parseRedisUrl('redis://127.0.0.1:6379?waitReplicas=0').replicaWait, null);
    for (const [query, message] of [
      ['waitReplicas=-1', /waitReplicas must be a whole number/],
      ['waitReplicas=one', /waitReplicas must be a whole number/],
      ['waitReplicas=', /waitReplicas must be a whole number/],
      ['waitTimeout=100', /waitTimeout needs waitReplicas/],
      ['waitReplicas=1&waitTimeout=0', /waitTimeout must be a whole number of milliseconds from 1 to 60000/],
      ['waitReplicas=1&waitTimeout=60001', /from 1 to 60000/],
    ] as const) {
      assert.throws(() => parseRedisUrl(`redis://u:secret@127.0.0.1:6379?${query}`), (err: Error & { code?: string; details?: { url?: string } }) => {
        assert.equal(err.code, 'invalid_store', query);
        assert.match(err.message, message, query);
        assert.ok(!err.details?.url?.includes('secret'), 'the password stays out of the error');
        return true;
      });
    }
  });

  it('says what an add waits for, and warns where a server has fewer replicas than adds wait for', () => {
    const wait = { replicas: 1, timeoutMs: 2000 };
    const always = { node: 'n1', aof: true, appendfsync: 'always', save: '', replicas: 1, maxmemory: 0, usedMemory: 0, evictionPolicy: 'noeviction' };
    assert.match(describePersistence(always, wait), /survives a crash .*; an add is answered once 1 replica\(s\) confirm it \(waitReplicas, up to 2000 ms\), so a failover to one of them keeps it$/);
    assert.match(describePersistence(always), /a failover to one of its 1 replica\(s\) may lose what it had not yet passed on \(waitReplicas makes adds wait for them\)$/);
    assert.equal(persistenceWarning([always], wait), null);
    const alone = { ...always, node: 'n2', replicas: 0 };
    assert.match(persistenceWarning([always, alone], wait)!, /^n2: .*; adds wait for 1 replica\(s\) \(waitReplicas\) but it has 0: every add fails with not_replicated$/);
    // Both warnings where a server also keeps no append-only file.
    assert.match(persistenceWarning([always, { ...alone, aof: false, save: '' }], wait)!, /^n2: .*every add fails with not_replicated; and n2: none .*\(for jobs that must not be lost, appendonly yes\)$/);
  });
});

/** SIGSTOP a redis-server (it keeps its connections but answers nothing) until the returned thaw. */
function freeze(server: OwnRedis): () => void {
  server.proc!.kill('SIGSTOP');
  return () => void server.proc?.kill('SIGCONT');
}

// Timeouts of a second or more where an add must be confirmed: a loaded machine (the full suite)
// can hold a loopback replica's acknowledgement for a few hundred milliseconds.
describe('waitReplicas on a master with a replica', { skip }, () => {
  let master: OwnRedis;
  let replica: OwnRedis;
  let onReplica: Redis;
  before(async () => {
    master = new OwnRedis(await freePort());
    replica = new OwnRedis(await freePort());
    await master.start();
    await replica.start();
    onReplica = new Redis(replica.url);
    await onReplica.call('REPLICAOF', '127.0.0.1', String(master.port));
    const onMaster = new Redis(master.url);
    try {
      await until(async () => /^slave0:.*state=online/m.test(await onMaster.info('replication')), 10_000, 'the replica attached and synced');
    } finally {
      onMaster.disconnect();
    }
  });
  after(async () => {
    onReplica?.disconnect();
    await replica?.stop();
    await master?.stop();
  });

  const storeOn = (query: string, prefix = testPrefix()) => new RedisStore(parseRedisUrl(`${master.url}?prefix=${prefix}&${query}`));
  const onReplicaHas = (prefix: string, queue: string, id: string) => onReplica.exists(new RedisKeys(prefix, false).job(queue, id));

  it('answers an add only once the replica holds it, while the store\'s other calls go on', async () => {
    const prefix = testPrefix();
    const store = storeOn('waitReplicas=1&waitTimeout=15000&socketTimeout=20000', prefix);
    const queue = new Queue(store);
    let thaw: (() => void) | null = null;
    try {
      await queue.enqueue({ id: 'warm', task: 't', queue: 'q' });
      assert.equal(await onReplicaHas(prefix, 'q', 'warm'), 1, 'answered, and on the replica');

      thaw = freeze(replica);
      let answered = false;
      const adding = queue.enqueue({ id: 'held', task: 't', queue: 'q' }).finally(() => (answered = true));
      // The master has it, and the store's command connection still answers: only the add waits.
      await until(async () => (await store.getJob({ id: 'held' })) !== null, 5000, 'the master stored the job');
      assert.deepEqual((await store.countJobs({ queue: 'q' })).q?.queued, 2);
      assert.equal(answered, false, 'no answer while the replica has not confirmed');
      thaw();
      thaw = null;
      assert.equal((await within(adding, 10_000, 'the add answered once the replica confirmed')).id, 'held');
      assert.equal(await onReplicaHas(prefix, 'q', 'held'), 1);
    } finally {
      thaw?.();
      await store.close();
    }
  });

  it('fails an add the replica did not confirm in time with not_replicated (503); the job is stored, and a retry finds it', async () => {
    const prefix = testPrefix();
    const store = storeOn('waitReplicas=1&waitTimeout=1000', prefix);
    const queue = new Queue(store);
    let thaw: (() => void) | null = null;
    try {
      await queue.enqueue({ id: 'warm', task: 't', queue: 'q' });
      thaw = freeze(replica);
      const err = await queue.enqueue({ id: 'late', task: 't', queue: 'q' }).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof NotReplicatedError, String(err));
      assert.deepEqual([err.code, err.status, err.details], ['not_replicated', 503, { replicas: 1, confirmed: 0, timeoutMs: 1000 }]);
      assert.match(err.message, /took the job, but 0 of 1 replica\(s\) confirmed it within 1000 ms; retry with the same id/);
      // The enqueue funnel does not split such a failure into retries of its own, and the API answers 503.
      assert.equal(isUnavailable(err), true);
      assert.equal((await store.getJob({ id: 'late' }))?.state, 'queued', 'stored on the master');
      thaw();
      thaw = null;
      const [again] = await queue.enqueueMany([{ id: 'late', task: 't', queue: 'q' }]);
      assert.equal(again!.created, false, 'the retry found the job');
      assert.equal(await onReplicaHas(prefix, 'q', 'late'), 1);
    } finally {
      thaw?.();
      await store.close();
    }
  });

  it('an add that created nothing (its id exists) is proven by a check write; adds written during a WAIT share the next one', async () => {
    const prefix = testPrefix();
    const store = storeOn('waitReplicas=1&waitTimeout=1000', prefix);
    const queue = new Queue(store);
    const seen: string[][] = [];
    const monitor = await watchCommands((args) => seen.push(args), master.url);
    let thaw: (() => void) | null = null;
    try {
      await queue.enqueue({ id: 'once', task: 't', queue: 'q' });
      const checks = () => seen.filter((args) => args[0]?.toLowerCase() === 'set' && args[1]?.includes(':replica-check:')).length;
      const waits = () => seen.filter((args) => args[0]?.toLowerCase() === 'wait').length;
      const scripts = () => seen.filter((args) => args[0]?.toLowerCase() === 'fcall' || args[0]?.toLowerCase() === 'evalsha').length;
      await until(() => waits() === 1, 5000, 'the first add\'s WAIT seen');
      assert.equal(checks(), 0, 'an add that created its job is proven by its own write');
      // A WAIT on a connection that wrote nothing proves nothing on Redis 7.2+: the repeat makes a check write.
      const [again] = await queue.enqueueMany([{ id: 'once', task: 't', queue: 'q' }]);
      assert.equal(again!.created, false);
      // Its own WAIT (sent before its answer said it created nothing), then the check write's.
      await until(() => checks() === 1 && waits() === 3, 5000, async () => `a check write and its WAIT: ${checks()} checks, ${waits()} WAITs`);
      assert.equal(seen.filter((args) => args[0]?.toLowerCase() === 'del' && args[1]?.includes(':replica-check:')).length, 1, 'the check key is deleted at once');

      // Eight adds to eight queues (eight scripts) while the replica confirms nothing: the scripts
      // written while a WAIT is out share the next one, rather than each waiting behind the others'.
      thaw = freeze(replica);
      const waitsBefore = waits();
      const scriptsBefore = scripts();
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => queue.enqueue({ task: 't', queue: `q${i}` })));
      assert.deepEqual(results.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code), Array(8).fill('not_replicated'));
      await until(() => scripts() - scriptsBefore >= 8 && waits() > waitsBefore, 5000, 'the scripts and WAITs seen');
      // The enqueue funnel sends the eight as a few groups of scripts, one group while another is out.
      const [sent, waited] = [scripts() - scriptsBefore, waits() - waitsBefore];
      assert.ok(waited <= 3 && waited * 2 < sent, `${waited} WAITs for ${sent} scripts`);
      assert.equal(checks(), 1, 'a WAIT that answered on the script\'s socket is proof enough, even of too few replicas');
    } finally {
      thaw?.();
      monitor.stop();
      await store.close();
    }
  });

  it('a WAIT longer than the socket timeout is not taken for a silent connection', async () => {
    const store = storeOn('waitReplicas=1&waitTimeout=1000&socketTimeout=200');
    const queue = new Queue(store);
    const onMaster = new Redis(master.url);
    let thaw: (() => void) | null = null;
    try {
      await queue.enqueue({ task: 't', queue: 'q' });
      const addConnections = async () => ((await onMaster.client('LIST')) as string).split('\n').filter((line) => / name=fusion:\S+:add /.test(line)).map((line) => /id=(\d+)/.exec(line)![1]);
      const [before] = await addConnections();
      thaw = freeze(replica);
      await assert.rejects(queue.enqueue({ task: 't', queue: 'q' }), { code: 'not_replicated' });
      assert.deepEqual(await addConnections(), [before], 'the add connection was kept');
      assert.equal(store.lastError, null, 'and never dropped for silence');
    } finally {
      thaw?.();
      onMaster.disconnect();
      await store.close();
    }
  });

  it('an add whose WAIT is cut off by a reconnect that reaches another server is not confirmed there', async () => {
    // The add reaches a server with no replica (its WAIT holds), then the address moves to this
    // master, which has one: the WAIT sent again there, or a check write there, would prove nothing
    // of the job, which that master never had.
    const lone = new OwnRedis(await freePort());
    const proxy = new BlackholeProxy(0);
    const prefix = testPrefix();
    let store: RedisStore | null = null;
    try {
      await lone.start();
      proxy.retarget(lone.port);
      await proxy.start();
      store = new RedisStore(parseRedisUrl(`redis://127.0.0.1:${proxy.port}?prefix=${prefix}&waitReplicas=1&waitTimeout=5000`));
      const onLoneServer = new Redis(lone.url);
      const adding = new Queue(store).enqueue({ id: 'moved', task: 't', queue: 'q' });
      adding.catch(() => {});
      try {
        await until(async () => (await onLoneServer.exists(new RedisKeys(prefix, false).job('q', 'moved'))) === 1, 10_000, 'the add stored on the lone server');
      } finally {
        onLoneServer.disconnect();
      }
      proxy.retarget(master.port);
      proxy.dropAll();
      await assert.rejects(adding, { code: 'not_replicated' });
      assert.equal(await onReplicaHas(prefix, 'q', 'moved'), 0, 'the master and its replica never had it');
    } finally {
      await store?.close();
      await proxy.close();
      await lone.stop();
    }
  });

  it('a follow-up job: the finish does not wait for the replica, and the outbox keeps the entry until it confirms the job', async () => {
    const prefix = testPrefix();
    const store = storeOn('waitReplicas=1&waitTimeout=15000&socketTimeout=20000', prefix);
    const onMaster = new Redis(master.url);
    let thaw: (() => void) | null = null;
    try {
      await new Queue(store).enqueue({ id: 'parent', task: 't', queue: 'q' });
      const { jobs: [job] } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 30_000, now: Date.now() });
      thaw = freeze(replica);
      const now = Date.now();
      const child = resolveSpec({ id: 'child', task: 't', queue: 'callbacks' }, now);
      const finishing = store.finishJobs({ outcomes: [{ kind: 'completed', id: 'parent', token: job!.leaseToken!, at: now, result: null, enqueue: [child] }] });
      // Answered while the replica confirms nothing (its WAIT would hold for 15 s).
      const [applied] = await within(finishing, 10_000, 'the finish answered');
      assert.equal(applied, true, 'the outcome is applied');
      assert.equal((await store.getJob({ id: 'parent' }))?.state, 'completed');
      await until(async () => (await store.getJob({ id: 'child' }))?.state === 'queued', 5000, 'the follow-up on the master');
      const outbox = new RedisKeys(prefix, false).queueOutbox('q');
      assert.equal(await onMaster.hlen(outbox), 1, 'its entry stays while the replica has not confirmed the job');
      thaw();
      thaw = null;
      // Deleted once confirmed: by the delivery under way, or by a sweep's redelivery.
      await until(async () => {
        await store.recoverExpiredJobs({ now: Date.now() });
        return (await onMaster.hlen(outbox)) === 0;
      }, 20_000, 'the entry deleted', 100);
      assert.equal(await onReplicaHas(prefix, 'callbacks', 'child'), 1);
    } finally {
      thaw?.();
      onMaster.disconnect();
      await store.close();
    }
  });

  it('while the replicas confirm nothing, sweeps do not wait on the outbox entry after entry', async () => {
    const prefix = testPrefix();
    const store = storeOn('waitReplicas=1&waitTimeout=1000', prefix);
    const onMaster = new Redis(master.url);
    const adds: string[] = [];
    const monitor = await watchCommands((args) => (args[0]?.toLowerCase() === 'fcall' && /^fusion_[0-9a-f]+_add(_lean)?$/.test(args[1] ?? '') && adds.push(args[1]!)), master.url);
    let thaw: (() => void) | null = null;
    try {
      const queue = new Queue(store);
      for (let i = 0; i < 3; i++) await queue.enqueue({ id: `parent-${i}`, task: 't', queue: 'q' });
      const { jobs } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 3, leaseMs: 30_000, now: Date.now() });
      assert.equal(jobs.length, 3);
      thaw = freeze(replica);
      const now = Date.now();
      await store.finishJobs({ outcomes: jobs.map((job) => ({ kind: 'completed' as const, id: job.id, token: job.leaseToken!, at: now, result: null,
        enqueue: [resolveSpec({ id: `child-of-${job.id}`, task: 't', queue: 'callbacks' }, now)] })) });
      const outbox = new RedisKeys(prefix, false).queueOutbox('q');
      // The background deliveries were refused: their children are on the master, the entries stay.
      await until(async () => (await store.countJobs({ queue: 'callbacks' })).callbacks?.queued === 3, 10_000, 'the follow-ups on the master');
      const addsBefore = adds.length;
      await until(async () => {
        await store.recoverExpiredJobs({ now: Date.now() });
        return adds.length === addsBefore;
      }, 10_000, 'a sweep that left the outbox alone');
      assert.equal(await onMaster.hlen(outbox), 3, 'the entries stay for a later sweep');
    } finally {
      thaw?.();
      monitor.stop();
      onMaster.disconnect();
      await store.close();
    }
  });

  it('the API answers 503 not_replicated, and a retry with the same Idempotency-Key is the same job', async () => {
    const store = storeOn('waitReplicas=1&waitTimeout=1000');
    const fusion = await Fusion.open({ store });
    fusion.task('noop', async () => {}, { queue: 'q' });
    const app = await buildServer({ fusion, processMetrics: false });
    let thaw: (() => void) | null = null;
    try {
      const post = () => app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'idempotency-key': 'order-7' }, payload: { task: 'noop', queue: 'q', payload: { n: 7 } } });
      thaw = freeze(replica);
      const refused = await post();
      assert.equal(refused.statusCode, 503, refused.body);
      const body = refused.json() as { error: { code: string; message: string; details: Record<string, unknown> } };
      assert.equal(body.error.code, 'not_replicated');
      assert.deepEqual(body.error.details, { replicas: 1, confirmed: 0, timeoutMs: 1000 });
      thaw();
      thaw = null;
      const retried = await post();
      assert.ok(retried.statusCode === 200 || retried.statusCode === 201, retried.body);
      const jobs = await store.listJobs({ queue: 'q' });
      assert.equal(jobs.items.length, 1, 'one job for the two requests');
      assert.equal((retried.json() as { id: string }).id, jobs.items[0]!.id);
    } finally {
      thaw?.();
      await app.close();
      await fusion.close(100);
    }
  });

  it('a job handed to an idle worker here still runs when its add is not confirmed', async () => {
    const store = storeOn('waitReplicas=1&waitTimeout=1000');
    const registry = new TaskRegistry();
    const ran: string[] = [];
    registry.register('t', async (_payload, ctx) => void ran.push(ctx.job.id));
    const worker = new Worker(store, registry, { queues: ['q'], concurrency: 1, pollMs: 60_000 });
    let thaw: (() => void) | null = null;
    try {
      worker.start();
      const queue = new Queue(store);
      await queue.enqueue({ id: 'first', task: 't', queue: 'q' });
      await until(() => ran.includes('first'), 10_000, 'the first job ran');
      thaw = freeze(replica);
      await assert.rejects(queue.enqueue({ id: 'handed', task: 't', queue: 'q' }), { code: 'not_replicated' });
      await until(() => ran.includes('handed'), 10_000, 'the unconfirmed job ran');
      assert.deepEqual(ran, ['first', 'handed']);
    } finally {
      thaw?.();
      await worker.stop();
      await store.close();
    }
  });

  it('fusion store info says what adds wait for', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'store', 'info', '--store', `${master.url}?prefix=${testPrefix()}&waitReplicas=1`]);
    assert.match(stdout, /^persistence: .*; an add is answered once 1 replica\(s\) confirm it \(waitReplicas, up to 2000 ms\), so a failover to one of them keeps it$/m);
    assert.match(stdout, /^clock: this machine's agrees with the server's/m);
    const short = await run(process.execPath, [BIN, 'store', 'info', '--store', `${master.url}?prefix=${testPrefix()}&waitReplicas=2`]);
    assert.match(short.stdout, /^persistence: .*; adds wait for 2 replica\(s\) \(waitReplicas\) but it has 1: every add fails with not_replicated$/m);
  });
});

describe('waitReplicas on a cluster with a replica per master', { skip }, () => {
  let cluster: OwnCluster | null = null;
  before(async () => {
    cluster = new OwnCluster(await clusterPorts(6), 1);
    await cluster.start();
    for (const node of cluster.nodes) {
      const client = new Redis(node.url);
      try {
        // A replica confirms nothing before its first sync is done (state=online).
        await until(async () => /^role:slave\r?$/m.test(await client.info('replication')) || /^slave0:.*state=online/m.test(await client.info('replication')),
          20_000, `node ${node.port} is a replica or has one online`);
      } finally {
        client.disconnect();
      }
    }
  });
  after(() => cluster?.stop());

  it('waits on the master that took each add: a frozen replica fails only the adds of its master', async () => {
    const prefix = testPrefix();
    const store = new RedisStore(parseRedisUrl(`${cluster!.url}?prefix=${prefix}&waitReplicas=1&waitTimeout=1500`));
    const queue = new Queue(store);
    const admin = new Redis(cluster!.nodes[0]!.url);
    let thaw: (() => void) | null = null;
    try {
      const queues = Array.from({ length: 12 }, (_, i) => `q${i}`);
      for (const name of queues) await queue.enqueue({ task: 't', queue: name });
      // Each queue's master, and the replica of the first queue's master.
      const masterOf = new Map<string, number>();
      const slots = (store.client as unknown as { slots: string[][] }).slots;
      for (const name of queues) {
        const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', new RedisKeys(prefix, true).job(name, 'x')));
        masterOf.set(name, Number(slots[slot]![0]!.split(':')[1]));
      }
      const target = masterOf.get('q0')!;
      const others = queues.filter((name) => masterOf.get(name) !== target);
      assert.ok(others.length > 0, 'the queues span more than one master');
      const onTarget = new Redis({ port: target, host: '127.0.0.1' });
      const replicaPort = Number(/^slave0:.*port=(\d+)/m.exec(await onTarget.info('replication'))?.[1]);
      onTarget.disconnect();

      // Once the cluster is known, each add's own WAIT, on its master, proves it: no check writes.
      const checks: string[] = [];
      const monitors = await Promise.all([...new Set(masterOf.values())].map((port) =>
        watchCommands((args) => args[0]?.toLowerCase() === 'set' && args[1]?.includes(':replica-check') && checks.push(args[1]), `redis://127.0.0.1:${port}`)));
      try {
        for (const name of queues) await queue.enqueue({ id: `proven-${name}`, task: 't', queue: name });
      } finally {
        for (const monitor of monitors) monitor.stop();
      }
      assert.deepEqual(checks, [], 'no check write for adds whose WAIT went on their own master');

      thaw = freeze(cluster!.nodes.find((node) => node.port === replicaPort)!);

      await assert.rejects(queue.enqueue({ id: 'held', task: 't', queue: 'q0' }), { code: 'not_replicated' });
      for (const name of others) await queue.enqueue({ task: 't', queue: name });
      thaw();
      thaw = null;
      await queue.enqueue({ task: 't', queue: 'q0' });
      // Indexed although not confirmed: found by id.
      assert.equal((await store.getJob({ id: 'held' }))?.queue, 'q0');
    } finally {
      thaw?.();
      admin.disconnect();
      await store.close();
    }
  });
});
