// The job hash format mark of a Redis prefix: a prefix a store of this version finds empty is marked
// lean and its adds store only the fields not at their default; one an earlier version left (data,
// no mark) keeps full hashes until `fusion store upgrade` marks it, which is refused while live
// workers of an earlier version are registered; jobs stored full before the mark run on after it.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { resolveSpec } from '../../src/core/queue.js';
import type { Job, JobSpec, NewJob } from '../../src/core/job.js';
import type { WorkerInfo } from '../../src/core/store.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import { PrefixedStores, REDIS_URL, countHandoffs, redisSkip, seedUnmarked, testPrefix } from '../helpers/redis.js';
import { until } from '../helpers/await.js';

const skip = await redisSkip();
const FULL = ['at', 'd', 'h', 'ma', 'ms', 'p', 'ra', 'sl', 'sq', 'st'];
const LEAN = ['d', 'p', 'sq', 'st'];

describe('Redis job hash format', { skip }, () => {
  const admin = new Redis(REDIS_URL);
  const stores = new PrefixedStores();
  /** A store on a prefix of its own (or the given one); `unmarked`: seeded as an earlier version's. */
  const open = async (prefix = testPrefix(), unmarked = false) => {
    if (unmarked) await seedUnmarked(admin, prefix);
    return stores.open(prefix);
  };
  after(async () => {
    await stores.cleanup(admin);
    admin.disconnect();
  });
  const fieldsOf = async (store: RedisStore, id: string, queue = 'q') => (await admin.hkeys(`{${store.prefix}:${queue}}:j:${id}`)).sort();
  const mark = (store: RedisStore) => admin.get(`{${store.prefix}}:format`);
  const spec = (now: number, id: string, extra: Partial<JobSpec> = {}): NewJob => resolveSpec({ task: 't', queue: 'q', id, ...extra }, now);
  /** A worker of a version before the mark, as it registers itself: info without the lean reader field. */
  const registerOlderWorker = async (store: RedisStore, id: string, expiresAt: number) => {
    const info: WorkerInfo = { id, host: 'old', pid: 1, queues: ['q'], concurrency: 1, running: [], startedAt: 0, lastSeenAt: 0 };
    await admin.hset(`{${store.prefix}}:w`, id, JSON.stringify(info));
    await admin.zadd(`{${store.prefix}}:we`, expiresAt, id);
  };
  const limits = (j: Job) => [j.id, j.state, j.runAt, j.attempts, j.maxAttempts, j.stalls, j.maxStalls, j.history.length];

  it('marks a fresh prefix lean at its first add and stores only the fields not at their default, lone or batched', async () => {
    const store = await open();
    const now = Date.now();
    assert.equal(await mark(store), null);
    await store.addJobs({ jobs: [spec(now, 'lone')], now });
    assert.equal(await mark(store), 'lean');
    assert.equal(await store.jobFormat(), 'lean');
    // Shared columns; then each job its own: priority, limits, a delay, a runAt given in the past, one made earlier.
    await store.addJobs({ jobs: ['b1', 'b2'].map((id) => spec(now, id)), now });
    await store.addJobs({
      jobs: [
        spec(now, 'prio', { priority: 5 }), spec(now, 'limited', { maxAttempts: 2 }), spec(now, 'stalls', { maxStalls: 0 }),
        spec(now, 'later', { delay: 60_000 }), spec(now, 'past', { runAt: now - 5 }), spec(now - 7, 'earlier'),
      ],
      now,
    });
    const expected: Record<string, string[]> = {
      lone: LEAN, b1: LEAN, b2: LEAN, prio: LEAN, earlier: LEAN,
      limited: ['d', 'ma', 'p', 'sq', 'st'], stalls: ['d', 'ms', 'p', 'sq', 'st'], later: ['d', 'p', 'ra', 'sq', 'st'], past: ['d', 'p', 'ra', 'sq', 'st'],
    };
    for (const [id, fields] of Object.entries(expected)) assert.deepEqual(await fieldsOf(store, id), fields, id);
    const read = async (id: string) => limits((await store.getJob({ id }))!);
    assert.deepEqual(await read('lone'), ['lone', 'queued', now, 0, 10, 0, 3, 0]);
    assert.deepEqual(await read('limited'), ['limited', 'queued', now, 0, 2, 0, 3, 0]);
    assert.deepEqual(await read('stalls'), ['stalls', 'queued', now, 0, 10, 0, 0, 0]);
    assert.deepEqual(await read('later'), ['later', 'scheduled', now + 60_000, 0, 10, 0, 3, 0]);
    assert.deepEqual(await read('past'), ['past', 'queued', now - 5, 0, 10, 0, 3, 0]);
    assert.deepEqual(await read('earlier'), ['earlier', 'queued', now - 7, 0, 10, 0, 3, 0]);
    // A repeated add answers the stored job (the script's readJob of a lean hash).
    const again = await store.addJobs({ jobs: [spec(now, 'limited', { maxAttempts: 2 })], now });
    assert.deepEqual([again[0]!.created, limits(again[0]!.job)], [false, ['limited', 'queued', now, 0, 2, 0, 3, 0]]);
    const claimed = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 10, leaseMs: 60_000, now })).jobs;
    assert.deepEqual(claimed.map((j) => j.id), ['prio', 'lone', 'b1', 'b2', 'limited', 'stalls', 'past', 'earlier']);
    assert.deepEqual(claimed.map((j) => [j.runAt, j.attempts, j.maxAttempts, j.maxStalls]),
      [[now, 1, 10, 3], [now, 1, 10, 3], [now, 1, 10, 3], [now, 1, 10, 3], [now, 1, 2, 3], [now, 1, 10, 0], [now - 5, 1, 10, 3], [now - 7, 1, 10, 3]]);
  });

  it('hands a lone add on a lean prefix to an idle worker with the claim fields only', async () => {
    const store = await open();
    const seen = countHandoffs(store);
    const got: Job[] = [];
    const stop = store.handoffJobs({ workerId: 'w1', listener: (jobs) => got.push(...jobs) });
    try {
      await store.claimJobs({ queues: ['q'], workerId: 'w1', limit: 2, leaseMs: 30_000, now: Date.now(), idleMs: 60_000 });
      const now = Date.now();
      await store.addJobs({ jobs: [spec(now, 'handed')], now });
      await until(() => seen.jobs === 1, 5000, 'hand-off message');
      assert.deepEqual(await fieldsOf(store, 'handed'), ['at', 'd', 'lu', 'p', 'sa', 'sq', 'st', 'tk', 'w']);
      const stored = (await store.getJob({ id: 'handed' }))!;
      assert.deepEqual({ ...got[0]!, state: stored.state }, stored, 'the job delivered is the job stored');
      assert.deepEqual(limits(stored), ['handed', 'active', now, 1, 10, 0, 3, 1]);
      // With limits of its own, and a second registration: those fields go in too.
      await store.claimJobs({ queues: ['q'], workerId: 'w1', limit: 2, leaseMs: 30_000, now, idleMs: 60_000 });
      await store.addJobs({ jobs: [spec(now, 'handed2', { maxAttempts: 4, runAt: now - 3 })], now });
      await until(() => seen.jobs === 2, 5000, 'second hand-off message');
      assert.deepEqual(await fieldsOf(store, 'handed2'), ['at', 'd', 'lu', 'ma', 'p', 'ra', 'sa', 'sq', 'st', 'tk', 'w']);
      assert.deepEqual(limits(got[1]!), ['handed2', 'active', now - 3, 1, 4, 0, 3, 1]);
      assert.deepEqual(await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'handed', token: got[0]!.leaseToken!, at: now + 1, result: null }] }), [true]);
    } finally {
      await stop();
    }
  });

  it('marks an empty prefix lean at a first worker beat or schedule too, and not one an earlier version left', async () => {
    const now = Date.now();
    const beat = await open();
    const info: WorkerInfo = { id: 'w', host: 'h', pid: 1, queues: ['q'], concurrency: 1, running: [], startedAt: now, lastSeenAt: now };
    await beat.beatWorker({ worker: info, ttlMs: 60_000 });
    assert.equal(await mark(beat), 'lean');
    // The registry answers the worker as it was given: the store's lean reader field stays inside.
    assert.deepEqual(await beat.listWorkers({ now }), [info]);
    assert.match((await admin.hget(`{${beat.prefix}}:w`, 'w'))!, /"readsLeanJobs":true/);
    const scheduled = await open();
    await scheduled.saveSchedule({ schedule: { id: 's', spec: { task: 't', queue: 'q' }, nextRunAt: now + 60_000, paused: false }, now });
    assert.equal(await mark(scheduled), 'lean');
    // An earlier version's worker registered (or any data): no mark, full hashes.
    const older = await open();
    await registerOlderWorker(older, 'old', now + 60_000);
    await older.addJobs({ jobs: [spec(now, 'a')], now });
    assert.equal(await mark(older), null);
    assert.equal(await older.jobFormat(), 'full');
    assert.deepEqual(await fieldsOf(older, 'a'), FULL);
  });

  it('keeps full hashes on a prefix with data until the upgrade, refused while an older worker lives, then runs the full jobs on', async () => {
    const prefix = testPrefix();
    const store = await open(prefix, true);
    const other = await open(prefix); // another process of this version, on the same prefix
    const now = Date.now();
    await store.addJobs({ jobs: [spec(now, 'f1'), spec(now, 'f2', { maxAttempts: 3 }), spec(now, 'f3'), spec(now, 'f4', { delay: 1000 })], now });
    await store.addJobs({ jobs: [spec(now, 'f5')], now });
    for (const id of ['f1', 'f2', 'f3', 'f4', 'f5']) assert.deepEqual(await fieldsOf(store, id), FULL, id);
    assert.equal(await store.jobFormat(), 'full');
    // A job of the full layout claimed before the mark, finished after it.
    const before = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now })).jobs[0]!;
    assert.equal(before.id, 'f1');

    // A live worker of an earlier version: refused, nothing marked; one of this version does not count.
    await registerOlderWorker(store, 'old-1', now + 60_000);
    const worker: WorkerInfo = { id: 'new-1', host: 'h', pid: 2, queues: ['q'], concurrency: 1, running: [], startedAt: now, lastSeenAt: now };
    await other.beatWorker({ worker, ttlMs: 60_000 });
    await other.addJobs({ jobs: [spec(now, 'o0')], now });
    assert.deepEqual(await fieldsOf(other, 'o0'), FULL);
    assert.deepEqual(await store.upgradeJobFormat({ now, force: false }), { outcome: 'refused', olderWorkers: ['old-1'] });
    assert.equal(await mark(store), null);
    await store.addJobs({ jobs: [spec(now, 'f6')], now });
    assert.deepEqual(await fieldsOf(store, 'f6'), FULL);
    // Once it has lapsed (stopped without saying so, or upgraded to a version that reports lean reading), the upgrade goes through.
    await registerOlderWorker(store, 'old-1', now - 1);
    assert.deepEqual(await store.upgradeJobFormat({ now, force: false }), { outcome: 'lean', olderWorkers: [] });
    assert.equal(await mark(store), 'lean');
    assert.deepEqual(await store.upgradeJobFormat({ now, force: false }), { outcome: 'already', olderWorkers: [] });
    await store.addJobs({ jobs: [spec(now, 'n1')], now });
    assert.deepEqual(await fieldsOf(store, 'n1'), LEAN, 'the upgrading store writes lean at once');
    // The other process read the format before the mark: it writes full until its next beat answers lean.
    await other.addJobs({ jobs: [spec(now, 'o1')], now });
    assert.deepEqual(await fieldsOf(other, 'o1'), FULL);
    await other.beatWorker({ worker: { ...worker, lastSeenAt: now + 1 }, ttlMs: 60_000 });
    await other.addJobs({ jobs: [spec(now, 'o2'), spec(now, 'o3')], now });
    assert.deepEqual([await fieldsOf(other, 'o2'), await fieldsOf(other, 'o3')], [LEAN, LEAN]);

    // The full jobs after the mark: finished, claimed, retried, claimed again, recovered from a lost lease, finished.
    assert.deepEqual(await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'f1', token: before.leaseToken!, at: now + 1, result: 1 }] }), [true]);
    const claimed = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 3, leaseMs: 1000, now: now + 2 })).jobs;
    assert.deepEqual(claimed.map((j) => [j.id, j.attempts, j.maxAttempts]), [['f2', 1, 3], ['f3', 1, 10], ['f5', 1, 10]]);
    const f2 = claimed[0]!;
    await store.finishJobs({ outcomes: [{ kind: 'retry', id: 'f2', token: f2.leaseToken!, at: now + 3, error: { message: 'boom', retryable: true }, retryAt: now + 4 }] });
    const recovered = await store.recoverExpiredJobs({ now: now + 5000 });
    assert.deepEqual(recovered.requeued.sort(), ['f3', 'f5']);
    assert.equal(await store.promoteDueJobs({ now: now + 5000 }), 2, 'f2 (its retry) and f4 (its delay)');
    const again = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 10, leaseMs: 60_000, now: now + 5001 })).jobs;
    assert.deepEqual(again.map((j) => [j.id, j.attempts, j.stalls]), [
      ['f2', 2, 0], ['f3', 1, 1], ['f4', 1, 0], ['f5', 1, 1], ['o0', 1, 0], ['f6', 1, 0], ['n1', 1, 0], ['o1', 1, 0], ['o2', 1, 0], ['o3', 1, 0],
    ]);
    const outcomes = again.map((j) => ({ kind: 'completed' as const, id: j.id, token: j.leaseToken!, at: now + 5002, result: null }));
    assert.ok((await store.finishJobs({ outcomes })).every(Boolean));
    const f2done = (await store.getJob({ id: 'f2' }))!;
    assert.deepEqual([f2done.state, f2done.attempts, f2done.history.map((h) => h.outcome)], ['completed', 2, ['retrying', 'completed']]);
  });

  it('upgrades when forced despite an older worker, and names it', async () => {
    const store = await open(testPrefix(), true);
    const now = Date.now();
    await registerOlderWorker(store, 'old-2', now + 60_000);
    assert.deepEqual(await store.upgradeJobFormat({ now, force: true }), { outcome: 'lean', olderWorkers: ['old-2'] });
    await store.addJobs({ jobs: [spec(now, 'x')], now });
    assert.deepEqual(await fieldsOf(store, 'x'), LEAN);
  });
});
