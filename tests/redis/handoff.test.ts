// Idle hand-off: an add leases its jobs to a worker that waits idle and publishes them to it, so
// the job starts without the worker's claim round trip. These tests hold it to the guarantees of a
// claim: each job reaches one worker once, in priority order, within concurrency, and a lost
// message, a stopped worker or a vanished one loses no job.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Worker } from '../../src/core/worker.js';
import { Queue, resolveSpec } from '../../src/core/queue.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Job, JobSpec, NewJob } from '../../src/core/job.js';
import type { ClaimRequest } from '../../src/core/store.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl, type RedisTarget } from '../../src/stores/redis/connect.js';
import { ScriptRunner } from '../../src/stores/redis/runner.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { claimScript, releaseClaimScript } from '../../src/stores/redis/script-calls.js';
import { PrefixedStores, REDIS_URL, countHandoffs, openTestStore, redisSkip, testPrefix, watchCommands } from '../helpers/redis.js';
import { deferred, until, within } from '../helpers/await.js';

const skip = await redisSkip();
/** Marks kept across calls need the scripts as a function library (Redis 7 or later); as EVAL every call starts afresh. */
const functionsSkip = skip || await (async () => {
  const probe = new Redis(REDIS_URL);
  try {
    const major = Number(/redis_version:(\d+)/.exec(await probe.info('server'))?.[1] ?? 0);
    return major >= 7 ? false : 'the add keeps no marks across calls before Redis 7 (no function library)';
  } finally {
    probe.disconnect();
  }
})();
// A job due at `now`: an add at a `now` read before it was made must not find it a millisecond ahead (scheduled).
const job = (spec: Partial<JobSpec> & { id?: string }, now = Date.now()): NewJob => resolveSpec({ task: 't', queue: 'h', ...spec }, now);

/** A store whose event connection stays down once killed: a message to it is lost for good. */
function storeWithMortalEvents(prefix: string): RedisStore {
  const base = parseRedisUrl(REDIS_URL);
  const target: RedisTarget = {
    ...base,
    create: (role) => (role.endsWith(':events') ? new Redis(REDIS_URL, { connectionName: `fusion:${role}`, retryStrategy: () => null }) : base.create(role)),
  };
  return new RedisStore(target, { prefix });
}

/** Kill a store's event connection, found by its connection name. */
async function killEvents(admin: Redis, prefix: string): Promise<void> {
  const list = (await admin.client('LIST')) as string;
  const ids = list.split('\n').filter((l) => l.includes(` name=fusion:${prefix}:events `)).map((l) => /id=(\d+)/.exec(l)![1]!);
  assert.ok(ids.length > 0, 'the store has an event connection');
  for (const id of ids) await admin.client('KILL', 'ID', id);
}

describe('Redis idle hand-off', { skip }, () => {
  let admin: Redis;
  const stores = new PrefixedStores();
  const open = (make?: (p: string) => RedisStore, prefix = testPrefix()) => stores.open(prefix, make);
  const idleKey = (prefix: string, queue = 'h') => `{${prefix}:${queue}}:i`;
  const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({ queues: ['h'], workerId: 'w1', limit: 2, leaseMs: 30_000, now: Date.now(), idleMs: 60_000, ...over });

  /**
   * Register worker w1 of `s` (a storeWithMortalEvents), then kill its event connection: no
   * hand-off message reaches it any more. `spy` listens on w1's channel, so adds still see a
   * listener and hand over; `seen` resolves with the first message it gets.
   */
  async function registerDeaf(s: RedisStore, prefix: string, spy: Redis): Promise<{ seen: Promise<string> }> {
    await s.claimJobs(req({ limit: 3 }));
    const seen = deferred<string>();
    spy.on('message', (_c, m) => seen.resolve(m));
    await spy.subscribe(`${prefix}:events:h:w1`);
    await killEvents(admin, prefix);
    return { seen: seen.promise };
  }

  /**
   * Worker w1 of a store whose event connection can be killed (storeWithMortalEvents), listening
   * with `listener`; a producer on the same prefix; and a spare connection to spy on w1's channel.
   */
  function mortalWorker(listener: (jobs: Job[]) => void) {
    const prefix = testPrefix();
    const s = open(storeWithMortalEvents, prefix);
    const producer = open(undefined, prefix);
    const stop = s.handoffJobs({ workerId: 'w1', listener });
    return { prefix, s, producer, stop, spy: new Redis(REDIS_URL) };
  }

  before(() => {
    admin = new Redis(REDIS_URL);
  });
  after(async () => {
    await stores.cleanup(admin);
    admin.disconnect();
  });

  it('starts a job on an idle worker from its add, with no claim after the wake-up', async () => {
    const prefix = testPrefix();
    const producer = open(undefined, prefix);
    const consumer = open(undefined, prefix);
    let claims = 0;
    const claim = consumer.claimJobs.bind(consumer);
    consumer.claimJobs = (r) => {
      claims++;
      return claim(r);
    };
    const handed = countHandoffs(consumer);
    let started = deferred<string>();
    const reg = new TaskRegistry().register('t', async (_p, ctx) => started.resolve(ctx.job.id));
    const worker = new Worker(consumer, reg, { queues: ['h'], concurrency: 1, pollMs: 60_000 }).start();
    try {
      // The first claim finds the queue empty and leaves the registration.
      await until(async () => (await admin.zcard(idleKey(prefix))) === 1, 5000, 'registration', 2);
      const before = claims;
      const q = new Queue(producer);
      for (let i = 0; i < 20; i++) {
        started = deferred<string>();
        const j = await q.enqueue({ task: 't', queue: 'h', payload: { i } });
        assert.equal(await within(started.promise, 5000, `job ${i} start`), j.id);
        // Each completion's finish claims again and finds nothing: the registration is back.
        await until(async () => (await producer.getJob({ id: j.id }))!.state === 'completed' && (await admin.zcard(idleKey(prefix))) === 1, 5000, 'completion', 2);
      }
      assert.equal(handed.jobs, 20, 'every job came by hand-off');
      assert.equal(claims - before, 0, 'no claim call after any enqueue');
      const done = await producer.listJobs({ queue: 'h', state: 'completed', limit: 50 });
      assert.equal(done.items.length, 20);
      for (const j of done.items) {
        assert.equal(j.attempts, 1);
        assert.equal(j.history.at(-1)!.workerId, worker.id);
      }
    } finally {
      await worker.stop(1000);
    }
  });

  it("hands a lone add's job over with the next seq of the millisecond the adds before it took, not one a millisecond ahead", { skip: functionsSkip }, async () => {
    const prefix = testPrefix();
    const s = open(undefined, prefix);
    const handed = deferred<string[]>();
    s.handoffJobs({ workerId: 'w1', listener: (jobs) => handed.resolve(jobs.map((j) => j.id)) });
    const now = Date.now();
    const add = (id: string) => s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'h', id }, now)], now });
    await add('a');
    // The second add of the millisecond stores the rest of it as the queue's seq (takeSeqs).
    await add('b');
    assert.equal((await s.claimJobs(req({ now }))).jobs.length, 2);
    // Nothing left: this claim leaves w1's registration, and the next add hands its job to it.
    assert.equal((await s.claimJobs(req({ now }))).jobs.length, 0);
    await until(async () => (await admin.zcard(idleKey(prefix))) === 1, 5000, 'registration', 2);
    await add('c');
    assert.deepEqual(await within(handed.promise, 5000, 'the hand-off'), ['c']);
    await add('d');
    const seqs = await Promise.all(['a', 'b', 'c', 'd'].map(async (id) => Number(await admin.zscore(`{${prefix}:h}:a`, id))));
    assert.deepEqual(seqs.map((seq) => seq - now * 1000), [0, 1, 2, 3]);
  });

  /** The commands the add scripts ran on this prefix's queue 'h' while `run` ran (MONITOR shows a script's commands as from 'lua'). */
  const scriptCommandsDuring = async (prefix: string, run: () => Promise<unknown>): Promise<string[]> => {
    const seen: string[] = [];
    const monitor = await watchCommands((args, source) => {
      if (source === 'lua' && args.some((a) => a.startsWith(`{${prefix}:h}`))) seen.push(String(args[0]).toUpperCase());
    });
    try {
      await run();
      // Both kinds of lone add end with the ZADD of the all-jobs index, after any pop.
      await until(() => seen.filter((c) => c === 'ZADD').length >= 2, 5000, 'the add in MONITOR', 2);
    } finally {
      monitor.stop();
    }
    return seen;
  };

  it('pops no registration where an add found none and no worker registered since, and still hands over to one that does', { skip: functionsSkip }, async () => {
    const s = open();
    const now = Date.now();
    await s.addJobs({ jobs: [job({}, now)], now }); // finds the idle set empty
    const quiet = await scriptCommandsDuring(s.prefix, () => s.addJobs({ jobs: [job({}, now)], now }));
    assert.ok(quiet.includes('ZADD') && !quiet.includes('ZPOPMAX'), `no pop: ${quiet.join(' ')}`);
    // The mark lasts a second (IDLE_EMPTY_MS): an add after it pops again, so a registration the
    // mark cannot see (an EVAL caller's, one replicated before a failover) is missed no longer.
    const later = await scriptCommandsDuring(s.prefix, () => s.addJobs({ jobs: [job({}, now + 1001)], now: now + 1001 }));
    assert.ok(later.includes('ZPOPMAX'), `a pop after the mark lapsed: ${later.join(' ')}`);
    // An adder whose clock runs behind the marker's does not skip for longer: it pops.
    const behind = await scriptCommandsDuring(s.prefix, () => s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'h' }, now - 5000)], now: now - 5000 }));
    assert.ok(behind.includes('ZPOPMAX'), `a pop by a clock behind the mark: ${behind.join(' ')}`);
    // A worker registers (it claims the four queued jobs, then finds the queue dry): the next add hands it the job.
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    try {
      assert.equal((await s.claimJobs(req({ limit: 5 }))).jobs.length, 4);
      const handed = await scriptCommandsDuring(s.prefix, () => s.addJobs({ jobs: [job({ id: 'after' })], now: Date.now() }));
      assert.ok(handed.includes('ZPOPMAX'), handed.join(' '));
      await until(() => got.length === 1, 5000, 'hand-off message', 2);
      assert.equal(got[0]!.id, 'after');
    } finally {
      await stop();
    }
  });

  it('queues a job and wakes the workers when an add misses a registration written behind its mark (another version\'s claim)', { skip: functionsSkip }, async () => {
    const s = open();
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    const work = admin.duplicate();
    const onWork: string[] = [];
    work.on('message', (_channel: string, text: string) => onWork.push(text));
    await work.subscribe(`${s.prefix}:events:w`);
    try {
      await s.addJobs({ jobs: [job({ id: 'first' })], now: Date.now() }); // finds the idle set empty
      await s.claimJobs(req({ workerId: 'w2', idleMs: undefined }));
      // A registration as an earlier version's claim writes it: token, slots, leaseMs, worker.
      const registration = 'tok\n1\n30000\nw1';
      await admin.zadd(idleKey(s.prefix), Date.now() + 60_000, registration);
      await s.addJobs({ jobs: [job({ id: 'missed' })], now: Date.now() });
      await until(() => onWork.some((m) => m.includes('missed')), 5000, 'the work message', 2);
      assert.equal((await s.getJob({ id: 'missed' }))!.state, 'queued');
      assert.equal(got.length, 0);
      assert.deepEqual(await admin.zrange(idleKey(s.prefix), '0', '-1'), [registration], 'left for its worker to take back');
      const claimed = await s.claimJobs(req({ workerId: 'w1' }));
      assert.deepEqual(claimed.jobs.map((j) => j.id), ['missed']);
    } finally {
      work.disconnect();
      await stop();
    }
  });

  it('hands over by priority, and no more jobs than the registration has slots', async () => {
    const s = open();
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    try {
      const first = await s.claimJobs(req({ limit: 2 }));
      assert.equal(first.jobs.length, 0);
      await s.addJobs({ jobs: [job({ id: 'low', priority: 1 }), job({ id: 'high', priority: 9 }), job({ id: 'mid', priority: 5 })], now: Date.now() });
      await until(() => got.length === 2, 5000, 'hand-off message', 2);
      assert.deepEqual(got.map((j) => j.id), ['high', 'mid']);
      for (const j of got) {
        const stored = (await s.getJob({ id: j.id }))!;
        assert.equal(stored.state, 'active');
        assert.equal(stored.workerId, 'w1');
        assert.equal(stored.leaseToken, j.leaseToken);
        assert.equal(stored.attempts, 1);
      }
      assert.equal((await s.getJob({ id: 'low' }))!.state, 'queued');
      // The jobs finish under the token they came with.
      const applied = await s.finishJobs({ outcomes: got.map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: Date.now(), result: null })) });
      assert.deepEqual(applied, [true, true]);
    } finally {
      await stop();
    }
  });

  // A claim that takes a job and runs the queue dry registers its free slots. If that job's lease
  // runs out while the registration lives (it lasts idleMs, here longer than the lease), recovery
  // queues it again and the next add may hand it back to the same registration: that lease must
  // not be the stalled run's, or the stalled run's late completion would end it.
  it('hands a recovered job back under a lease of its own: the stalled run can no longer finish or extend it', async () => {
    const s = open();
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    try {
      const now = Date.now();
      await s.addJobs({ jobs: [job({ id: 'stalls' }, now)], now });
      const first = await s.claimJobs(req({ limit: 2, leaseMs: 1000, now }));
      assert.deepEqual(first.jobs.map((j) => j.id), ['stalls']);
      assert.equal(await admin.zcard(idleKey(s.prefix)), 1, 'the claim ran the queue dry and registered its other slot');
      const stale = first.jobs[0]!.leaseToken!;
      assert.deepEqual((await s.recoverExpiredJobs({ now: now + 2000 })).requeued, ['stalls']);
      await s.addJobs({ jobs: [job({ id: 'next' })], now: Date.now() });
      await until(() => got.length === 1, 5000, 'hand-off message', 2);
      assert.equal(got[0]!.id, 'stalls', 'the registration took the recovered job, which is older');
      assert.notEqual(got[0]!.leaseToken, stale);
      const [beat] = await s.heartbeatJobs({ leases: [{ id: 'stalls', token: stale }], leaseMs: 30_000, now: Date.now() });
      assert.equal(beat!.ok, false, "the stalled run's heartbeat does not extend the new lease");
      const late = await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'stalls', token: stale, at: Date.now(), result: 'stale' }] });
      assert.deepEqual(late, [false], "the stalled run's completion is refused");
      assert.equal((await s.getJob({ id: 'stalls' }))!.state, 'active');
      const live = await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'stalls', token: got[0]!.leaseToken!, at: Date.now(), result: null }] });
      assert.deepEqual(live, [true]);
    } finally {
      await stop();
    }
  });

  /**
   * Worker w1's claim script on queue h (limit 2, registering when the queue runs dry), as a call
   * that can be made again with the same arguments, as ioredis resends a claim whose answer was lost.
   */
  const resendableClaim = (s: RedisStore, token: string, now: number) => {
    const keys = new RedisKeys(s.prefix, false);
    return () => new ScriptRunner(admin, true).call(claimScript({
      queueKeyBase: keys.queueKeyBase('h'), channel: keys.scriptChannel, queue: 'h', now, limit: 2, leaseMs: 30_000, workerId: 'w1',
      token, previous: '', idleUntil: now + 60_000, forget: '',
    }));
  };

  // ioredis sends a claim again when a dropped connection lost its answer: same token, same
  // idleUntil. The first run took a job and registered one slot; the resend takes none and
  // registers two. Left beside each other, an add took both and published two messages under one
  // token, and the worker, taking the first, left the second's jobs to wait out their lease.
  it('keeps one registration per token when a claim is sent again', async () => {
    const s = open();
    const now = Date.now();
    await s.addJobs({ jobs: [job({ id: 'x' }, now)], now });
    const claim = resendableClaim(s, 'TOK.0', now);
    const first = await claim();
    const resent = await claim();
    assert.deepEqual([first[0].length, resent[0].length], [1, 0], 'the first run took the job, the resend none');
    assert.deepEqual(await admin.zrange(idleKey(s.prefix), '0', '-1'), [resent[2]], "only the resend's registration (the one its answer names)");
    assert.match(String(resent[2]), /^TOK\.0~\n2\n/);
  });

  // The same resend, but an add took the first run's registration before it came: the resend finds
  // the jobs handed under the registration's token and answers as the first run would have, making
  // no second registration. One under the same token was left for the next add, whose jobs the
  // worker (which had taken the first message for that token) never took: they waited out their lease.
  it('makes no second registration when an add took the first before a claim is sent again', async () => {
    const s = open();
    const now = Date.now();
    const claim = resendableClaim(s, 'TOK.1', now);
    // A listener on w1's channel, as its worker's event connection: adds hand over only to a worker listening.
    const spy = new Redis(REDIS_URL);
    try {
      await spy.subscribe(`${s.prefix}:events:h:w1`);
      const first = await claim();
      assert.match(String(first[2]), /^TOK\.1~\n2\n/, 'the first run registered');
      await s.addJobs({ jobs: [job({ id: 'taken' }, now)], now });
      assert.equal((await s.getJob({ id: 'taken' }))!.leaseToken, 'TOK.1~', 'the add handed its job to that registration');
      const resent = await claim();
      assert.deepEqual(resent[0], [], 'the resend claims nothing');
      assert.equal(resent[2], first[2], "the resend answers with the first run's registration, whose jobs its message carries");
      assert.deepEqual(await admin.zrange(idleKey(s.prefix), '0', '-1'), [], 'and leaves no registration for another add');
      await s.addJobs({ jobs: [job({ id: 'next' }, now)], now });
      assert.equal((await s.getJob({ id: 'next' }))!.state, 'queued', 'the next add queues its job');
    } finally {
      spy.disconnect();
    }
  });

  it('hands a lone add its own job as a claim leaves it, stored and delivered alike', async () => {
    const s = open();
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    try {
      await s.claimJobs(req({ limit: 3 }));
      const lone = job({ id: 'lone', priority: 4, payload: { x: 1 }, maxAttempts: 7 });
      const now = lone.runAt; // due at the add's now: queued, not scheduled
      // The last seq ahead of the clock, stored zero-padded as before seq was a plain integer: the job's comes next.
      const last = now * 1000 + 5_000_000;
      await admin.hset(`{${s.prefix}:h}:m`, 'seq', String(last).padStart(17, '0'));
      await s.addJobs({ jobs: [lone], now });
      assert.equal(await admin.hget(`{${s.prefix}:h}:j:lone`, 'sq'), String(last + 1).padStart(17, '0'));
      assert.equal(await admin.hget(`{${s.prefix}:h}:m`, 'seq'), String(last + 1));
      await until(() => got.length === 1, 5000, 'hand-off message', 2);
      const stored = (await s.getJob({ id: 'lone' }))!;
      assert.equal(stored.state, 'active');
      assert.deepEqual({ ...got[0]!, state: stored.state }, stored, 'the job delivered is the job stored');
      assert.deepEqual([stored.attempts, stored.maxAttempts, stored.priority, stored.workerId, stored.startedAt, stored.leaseUntil], [1, 7, 4, 'w1', now, now + 30_000]);
      assert.deepEqual(await admin.zrange(`{${s.prefix}:h}:k`, '0', '0', 'WITHSCORES'), ['lone', String(now + 30_000)], 'in the lease index');
      assert.equal(await admin.zcard(`{${s.prefix}:h}:r`), 0);
      assert.equal(await admin.zcard(idleKey(s.prefix)), 0, 'the registration served this add');
      const applied = await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'lone', token: got[0]!.leaseToken!, at: Date.now(), result: null }] });
      assert.deepEqual(applied, [true]);
    } finally {
      await stop();
    }
  });

  it('tells subscribers of every event that a job handed at its add was queued, then active; wakes no worker for it', async () => {
    const s = open();
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    const seen: string[] = [];
    const unsubscribe = s.subscribe((e) => seen.push(`${e.type} ${e.jobId ?? ''}`));
    const work = admin.duplicate();
    const onWork: string[] = [];
    work.on('message', (_channel: string, text: string) => onWork.push(text));
    await work.subscribe(`${s.prefix}:events:w`);
    try {
      await s.claimJobs(req({ limit: 1 }));
      await s.addJobs({ jobs: [job({ id: 'handed' })], now: Date.now() + 1 });
      await until(() => got.length === 1 && seen.length >= 2, 5000, 'hand-off and events', 2);
      assert.deepEqual(seen.slice(0, 2), ['queued handed', 'active handed']);
      // The next add finds no registration: its job is queued, and its work event comes on the work channel.
      await s.addJobs({ jobs: [job({ id: 'queued-after' })], now: Date.now() + 1 });
      await until(() => onWork.length > 0, 5000, 'work event', 2);
      assert.equal(onWork.length, 1);
      assert.match(onWork[0]!, /queued-after/, 'the work channel carries only the job nobody took');
    } finally {
      unsubscribe();
      work.disconnect();
      await stop();
    }
  });

  it('a lone add hands over what a claim would take: a job queued before it, a due delayed job, nothing past a concurrency limit', async () => {
    const s = open();
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    const done = (jobs: Job[]) => s.finishJobs({ outcomes: jobs.map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: Date.now(), result: null })) });
    /** w1 registers on the empty queue, `meanwhile` runs, then a lone add: the ids it handed w1. */
    const handed = async (meanwhile: () => Promise<unknown>, add: NewJob): Promise<string[]> => {
      got.length = 0;
      assert.equal((await s.claimJobs(req({ limit: 1 }))).jobs.length, 0);
      await meanwhile();
      assert.equal(await admin.zcard(idleKey(s.prefix)), 1, 'registered');
      await s.addJobs({ jobs: [add], now: Date.now() });
      // Handed: the registration is gone and the message comes; not: the registration is back.
      await until(async () => got.length > 0 || (await admin.zcard(idleKey(s.prefix))) === 1, 5000, 'hand-off or registration kept', 2);
      return got.map((j) => j.id);
    };
    /** Queued without being handed over: added while the queue is paused. */
    const queueQuietly = async (j: NewJob) => {
      await s.pauseQueue({ queue: 'h', now: Date.now() });
      await s.addJobs({ jobs: [j], now: Date.now() });
      await s.resumeQueue({ queue: 'h', now: Date.now() });
    };
    /** Claim and complete what is left, so the next case starts on an empty queue. */
    const drain = async () => done((await s.claimJobs(req({ limit: 10, idleMs: undefined }))).jobs);
    try {
      assert.deepEqual(await handed(() => queueQuietly(job({ id: 'waiting' })), job({ id: 'after-waiting' })), ['waiting']);
      assert.equal((await s.getJob({ id: 'after-waiting' }))!.state, 'queued');
      await done(got);
      await drain();

      // Delayed, due by the add: promoted and taken first (it is older), as a claim takes it.
      const due = async () => {
        await s.addJobs({ jobs: [job({ id: 'due', runAt: Date.now() + 20 })], now: Date.now() });
        await new Promise((r) => setTimeout(r, 40));
      };
      assert.deepEqual(await handed(due, job({ id: 'after-due' })), ['due']);
      assert.equal((await s.getJob({ id: 'after-due' }))!.state, 'queued');
      await done(got);
      await drain();

      // A concurrency limit of 1 and a job active under another worker: the add's job stays queued.
      await s.setQueueOptions({ queue: 'h', now: Date.now(), options: { concurrency: 1 } });
      const busy = async () => {
        await queueQuietly(job({ id: 'running' }));
        assert.equal((await s.claimJobs(req({ workerId: 'w2', idleMs: undefined }))).jobs.length, 1);
      };
      assert.deepEqual(await handed(busy, job({ id: 'over-limit' })), []);
      assert.equal((await s.getJob({ id: 'over-limit' }))!.state, 'queued');
    } finally {
      await stop();
    }
  });

  // A claim reads no pause or limit from a meta of one field (lua/lib/claim-jobs.lua): before a
  // queue's first job that field may be the pause or the limit itself, and the hand-off must still
  // keep to them.
  it('a queue paused or limited before its first job hands an idle worker nothing past the pause or the limit', async () => {
    const paused = open();
    const limited = open();
    const stops = [paused, limited].map((s) => s.handoffJobs({ workerId: 'w1', listener: () => {} }));
    try {
      await paused.pauseQueue({ queue: 'h', now: Date.now() });
      assert.equal((await paused.claimJobs(req())).jobs.length, 0);
      await paused.addJobs({ jobs: [job({ id: 'held' })], now: Date.now() });
      assert.equal((await paused.getJob({ id: 'held' }))!.state, 'queued', 'a paused queue hands nothing over');

      await limited.setQueueOptions({ queue: 'h', now: Date.now(), options: { concurrency: 1 } });
      assert.equal((await limited.claimJobs(req())).jobs.length, 0);
      await limited.addJobs({ jobs: [job({ id: 'one' }), job({ id: 'two' })], now: Date.now() });
      const states = await Promise.all(['one', 'two'].map(async (id) => (await limited.getJob({ id }))!.state));
      assert.deepEqual(states, ['active', 'queued'], 'no more than the concurrency limit handed over');
    } finally {
      await Promise.all(stops.map((stop) => stop()));
    }
  });

  it('gives a lost hand-off message to the next claim, once', async () => {
    const prefix = testPrefix();
    const s = open(storeWithMortalEvents, prefix);
    const producer = open(undefined, prefix);
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    // Someone else listens on the worker's channel, so the add sees a listener; ours is gone.
    const spy = new Redis(REDIS_URL);
    try {
      const { seen } = await registerDeaf(s, prefix, spy);
      await producer.addJobs({ jobs: [job({ id: 'lost-1' }), job({ id: 'lost-2' })], now: Date.now() });
      await within(seen, 5000, 'the message went out');
      assert.equal((await s.getJob({ id: 'lost-1' }))!.state, 'active');
      // The next claim names the taken registration and gets its jobs, counted against its limit.
      await producer.addJobs({ jobs: [job({ id: 'later-1' }), job({ id: 'later-2' })], now: Date.now() });
      const res = await s.claimJobs(req({ limit: 3 }));
      assert.deepEqual(res.jobs.map((j) => j.id).sort(), ['later-1', 'lost-1', 'lost-2']);
      assert.equal(got.length, 0);
      const lost = (await s.getJob({ id: 'lost-1' }))!;
      assert.equal(lost.leaseToken, res.jobs.find((j) => j.id === 'lost-1')!.leaseToken);
      assert.equal(lost.attempts, 1);
      assert.equal((await s.getJob({ id: 'later-2' }))!.state, 'queued');
      // A claim after that hands nothing twice.
      const again = await s.claimJobs(req({ limit: 3 }));
      assert.deepEqual(again.jobs.map((j) => j.id), ['later-2']);
    } finally {
      spy.disconnect();
      await stop();
    }
  });

  // A claim whose answer never came is put back by release-claim, with the arguments lost-claims.ts
  // sends: here for a claim that took one job and registered, as if the client never heard of either.
  it("puts back a lost claim's registration and the jobs an add handed under it, which carry the registration's token", async () => {
    const { prefix, s, producer, stop, spy } = mortalWorker(() => assert.fail('no message reaches a worker whose events are down'));
    const keys = new RedisKeys(prefix, false);
    /** release-claim for the claim of `taken` (its jobs, all leased until one time), keeping nothing. */
    const release = (taken: Job[]) => new ScriptRunner(admin, true).call(releaseClaimScript({
      queueKeyBase: keys.queueKeyBase('h'), channel: keys.scriptChannel, queue: 'h', now: Date.now(), token: taken[0]!.leaseToken!,
      leaseUntilMin: taken[0]!.leaseUntil! - 0.5, leaseUntilMax: taken[0]!.leaseUntil! + 0.5, keepRegistration: '', kept: [],
    }));
    const claimOne = async (id: string) => {
      await producer.addJobs({ jobs: [job({ id })], now: Date.now() });
      const taken = (await s.claimJobs(req({ limit: 3 }))).jobs;
      assert.deepEqual(taken.map((j) => j.id), [id]);
      assert.equal(await admin.zcard(idleKey(prefix)), 1, 'the claim ran the queue dry and registered');
      return taken;
    };
    try {
      // A run whose answer came after a dropped connection: its registration goes with its job.
      const answered = await claimOne('dropped');
      assert.deepEqual(await release(answered), ['dropped']);
      assert.equal(await admin.zcard(idleKey(prefix)), 0, 'the registration went');
      const again = (await s.claimJobs(req({ idleMs: undefined }))).jobs;
      assert.deepEqual(again.map((j) => j.id), ['dropped'], 'back in the queue');
      await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'dropped', token: again[0]!.leaseToken!, at: Date.now(), result: null }] });

      // A claim that failed: an add took its registration meanwhile, and those jobs go back too.
      await spy.subscribe(`${prefix}:events:h:w1`);
      await killEvents(admin, prefix);
      const failed = await claimOne('claimed');
      await producer.addJobs({ jobs: [job({ id: 'handed-1' }), job({ id: 'handed-2' })], now: Date.now() });
      assert.equal((await s.getJob({ id: 'handed-1' }))!.state, 'active');
      assert.deepEqual((await release(failed)).sort(), ['claimed', 'handed-1', 'handed-2']);
      for (const id of ['claimed', 'handed-1', 'handed-2']) {
        const back = (await s.getJob({ id }))!;
        assert.deepEqual([back.state, back.attempts, back.leaseToken], ['queued', 0, null], id);
      }
    } finally {
      spy.disconnect();
      await stop();
    }
  });

  it('starts a lone job handed to a worker of the adding process from the add\'s answer, not waiting for the message', async () => {
    const prefix = testPrefix();
    const s = open(storeWithMortalEvents, prefix);
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    // The message can never reach this store; the add still hands over (registerDeaf).
    const spy = new Redis(REDIS_URL);
    try {
      const { seen } = await registerDeaf(s, prefix, spy);
      const lone = job({ id: 'here', payload: { x: 1 } });
      await s.addJobs({ jobs: [lone], now: lone.runAt });
      assert.deepEqual(got.map((j) => j.id), ['here'], 'running by the time the add resolves');
      await within(seen, 5000, 'the message went out too');
      const stored = (await s.getJob({ id: 'here' }))!;
      assert.deepEqual({ ...got[0]!, state: stored.state }, stored, 'the job started is the job stored');
      // Settled once: the next claim neither names that registration nor hands the job again, and
      // deletes the registration's list as it would after the message.
      const token = got[0]!.leaseToken!;
      assert.equal(await admin.exists(`{${prefix}:h}:h:${token}`), 1);
      const res = await s.claimJobs(req({ limit: 3 }));
      assert.deepEqual(res.jobs, []);
      assert.equal(await admin.exists(`{${prefix}:h}:h:${token}`), 0);
      assert.equal(got.length, 1);
      assert.deepEqual(await s.finishJobs({ outcomes: [{ kind: 'completed', id: 'here', token, at: Date.now(), result: null }] }), [true]);
    } finally {
      spy.disconnect();
      await stop();
    }
  });

  it('takes back a stopping worker registration; a job leased to it meanwhile goes back to the queue', async () => {
    const { prefix, s, producer, stop, spy } = mortalWorker(() => assert.fail('no job reaches a worker whose events are down'));
    try {
      await s.claimJobs(req());
      await spy.subscribe(`${prefix}:events:h:w1`);
      await killEvents(admin, prefix);
      await producer.addJobs({ jobs: [job({ id: 'orphan' })], now: Date.now() });
      assert.equal((await s.getJob({ id: 'orphan' }))!.state, 'active');
      await stop();
      const back = (await s.getJob({ id: 'orphan' }))!;
      assert.equal(back.state, 'queued');
      assert.equal(back.attempts, 0, 'the given-back attempt is not counted');
      assert.equal(await admin.zcard(idleKey(prefix)), 0);
    } finally {
      spy.disconnect();
    }
  });

  it('a worker that stops leaves no registration, and later adds stay queued', async () => {
    const prefix = testPrefix();
    const s = open(undefined, prefix);
    const reg = new TaskRegistry().register('t', async () => {});
    const worker = new Worker(s, reg, { queues: ['h'], concurrency: 2, pollMs: 60_000 }).start();
    await until(async () => (await admin.zcard(idleKey(prefix))) === 1, 5000, 'registration', 2);
    await worker.stop(1000);
    assert.equal(await admin.zcard(idleKey(prefix)), 0);
    await s.addJobs({ jobs: [job({ id: 'after-stop' })], now: Date.now() });
    assert.equal((await s.getJob({ id: 'after-stop' }))!.state, 'queued');
  });

  it('a claim after one that ran dry still wakes for a delayed job and takes a job queued since (its dry mark is only a guess)', { skip: functionsSkip }, async () => {
    const s = open();
    // No idleMs: no registration, so the adds below queue their jobs and hand nothing over.
    const claim = () => s.claimJobs({ queues: ['h'], workerId: 'w1', limit: 2, leaseMs: 30_000, now: Date.now() });
    // One job for a limit of two: each claim below runs dry (an add of the queue came first: the
    // mark lives with its key names).
    await s.addJobs({ jobs: [job({ id: 'first' })], now: Date.now() });
    assert.deepEqual((await claim()).jobs.map((j) => j.id), ['first']);
    await s.addJobs({ jobs: [job({ id: 'now' })], now: Date.now() });
    const taken = await claim();
    assert.deepEqual(taken.jobs.map((j) => j.id), ['now'], 'a queued job is taken');
    const runAt = Date.now() + 60_000;
    await s.addJobs({ jobs: [job({ id: 'later', runAt })], now: Date.now() });
    const woken = await claim();
    assert.deepEqual(woken.jobs, []);
    assert.equal(woken.nextWakeAt, runAt, 'the delayed job sets the wake time');
  });

  it('skips a registration whose worker no longer listens', async () => {
    const prefix = testPrefix();
    const s = open(storeWithMortalEvents, prefix);
    const producer = open(undefined, prefix);
    const stop = s.handoffJobs({ workerId: 'w1', listener: () => assert.fail('unreachable') });
    await s.claimJobs(req());
    assert.equal(await admin.zcard(idleKey(prefix)), 1);
    await killEvents(admin, prefix);
    await producer.addJobs({ jobs: [job({ id: 'nobody' })], now: Date.now() });
    assert.equal((await producer.getJob({ id: 'nobody' }))!.state, 'queued');
    assert.equal(await admin.zcard(idleKey(prefix)), 0, 'the dead registration is dropped');
    await stop();
  });

  it('hands nothing over from a paused queue and keeps the registration for later', async () => {
    const prefix = testPrefix();
    const s = open(undefined, prefix);
    const got: Job[] = [];
    const stop = s.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    try {
      await s.claimJobs(req());
      await s.pauseQueue({ queue: 'h', now: Date.now() });
      await s.addJobs({ jobs: [job({ id: 'paused' })], now: Date.now() });
      assert.equal((await s.getJob({ id: 'paused' }))!.state, 'queued');
      assert.equal(await admin.zcard(idleKey(prefix)), 1);
      assert.equal(got.length, 0);
    } finally {
      await stop();
    }
  });

  it('registers neither a worker of several queues nor a claim without idleMs', async () => {
    const prefix = testPrefix();
    const s = open(undefined, prefix);
    const stop = s.handoffJobs({ workerId: 'w1', listener: () => {} });
    try {
      await s.claimJobs(req({ queues: ['h', 'h2'] }));
      await s.claimJobs(req({ idleMs: undefined }));
      assert.equal(await admin.zcard(idleKey(prefix)), 0);
      assert.equal(await admin.zcard(idleKey(prefix, 'h2')), 0);
    } finally {
      await stop();
    }
  });

  it('never runs more than its concurrency while jobs come both by hand-off and by claim', async () => {
    const prefix = testPrefix();
    const producer = open(undefined, prefix);
    const consumer = open(undefined, prefix);
    const handed = countHandoffs(consumer);
    const N = 300;
    const runs = new Map<number, number>();
    let running = 0;
    let peak = 0;
    const all = deferred();
    const reg = new TaskRegistry().register('t', async (p: { i: number }) => {
      running++;
      peak = Math.max(peak, running);
      runs.set(p.i, (runs.get(p.i) ?? 0) + 1);
      // Some jobs yield for a while, so slots free up at different times.
      if (p.i % 3 === 0) await new Promise((r) => setImmediate(r));
      running--;
      if (runs.size === N) all.resolve();
    });
    const worker = new Worker(consumer, reg, { queues: ['h'], concurrency: 3, pollMs: 60_000 }).start();
    try {
      const q = new Queue(producer);
      let i = 0;
      for (let round = 0; i < N; round++) {
        // Bursts of 1-5 jobs; every few bursts the worker drains and registers again, so the next
        // burst comes partly by hand-off and partly by claim.
        if (round % 4 === 0) await until(async () => (await admin.zcard(idleKey(prefix))) === 1, 5000, 'registration', 2);
        const burst = Math.min(N - i, 1 + (round % 5));
        await q.enqueueMany(Array.from({ length: burst }, () => ({ task: 't', queue: 'h', payload: { i: i++ } })));
      }
      await within(all.promise, 20_000, 'every job ran');
      assert.ok(peak <= 3, `peak ${peak} running at concurrency 3`);
      assert.equal(runs.size, N);
      assert.ok([...runs.values()].every((n) => n === 1), 'each job ran once');
      assert.ok(handed.jobs > 0, 'some jobs came by hand-off');
    } finally {
      await worker.stop(2000);
    }
    const counts = (await producer.countJobs({ queue: 'h' })).h!;
    assert.equal(counts.completed, N);
    assert.equal(counts.active, 0);
  });
});
