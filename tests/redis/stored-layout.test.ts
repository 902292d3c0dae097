// The Redis layout across versions: a queue whose last seq was stored zero-padded (before adds took
// seqs with HINCRBY) goes on after it, in order; on a prefix an earlier version left (no format
// mark) an add writes every field of a job hash (those versions read them without a default), and a
// hash without its default fields (attempts, stalls, history, runAt, the limits: as a lean prefix
// holds it, job-format.test.ts) reads as those defaults.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../../src/core/queue.js';
import { RedisKeys } from '../../src/stores/redis/keys.js';
import { REDIS_URL, redisHarness, redisSkip, watchCommands } from '../helpers/redis.js';
import { until } from '../helpers/await.js';
import { RedisStore } from '../../src/stores/redis/store.js';
import { parseRedisUrl } from '../../src/stores/redis/connect.js';

const skip = await redisSkip();

/** `unmarked`: a prefix an earlier version left (full job hashes); else a fresh one (lean). */
async function withStore(fn: (store: RedisStore, keys: RedisKeys, now: number) => Promise<void>, unmarked = false) {
  const { store, cleanup } = await redisHarness(undefined, {}, { unmarked });
  try {
    await fn(store, new RedisKeys(store.prefix, store.cluster), Date.now());
  } finally {
    await cleanup();
  }
}

describe('Redis stored layout', { skip }, () => {
  it('goes on from a seq stored zero-padded: later jobs list first and the seq is stored plain', () => withStore(async (store, keys, now) => {
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'first' }, now)], now });
    // Ahead of the clock (another client's clock ran fast): the next seq must still come after it.
    const legacy = now * 1000 + 5_000_000;
    const metaKey = `${keys.queueKeyBase('q')}:m`;
    await store.client.hset(metaKey, 'seq', String(legacy).padStart(17, '0'));
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'lone' }, now)], now });
    await store.addJobs({ jobs: ['x', 'y'].map((id) => resolveSpec({ task: 't', queue: 'q', id }, now)), now });
    assert.equal(await store.client.hget(metaKey, 'seq'), String(legacy + 3));
    assert.deepEqual(await Promise.all(['lone', 'x', 'y'].map((id) => store.client.zscore(keys.allJobs('q'), id))),
      [String(legacy + 1), String(legacy + 2), String(legacy + 3)]);
    assert.deepEqual((await store.listJobs({ queue: 'q' })).items.map((j) => j.id), ['y', 'x', 'lone', 'first']);
    const claimed = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 4, leaseMs: 60_000, now })).jobs;
    assert.deepEqual(claimed.map((j) => j.id), ['first', 'lone', 'x', 'y']);
  }));

  it('takes the next seq after one another writer stored since this library took its last (its remembered seq is then stale)', () => withStore(async (store, keys, now) => {
    const metaKey = `${keys.queueKeyBase('q')}:m`;
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'first' }, now + 2_000)], now: now + 2_000 });
    // Another version's library (or a failover) stored a seq since, plain, ahead of this add's floor.
    const other = (now + 9_000) * 1000;
    await store.client.hset(metaKey, 'seq', String(other));
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'lone' }, now + 4_000)], now: now + 4_000 });
    // Behind both: the floor rises past the stored seq and the step must not add to it twice.
    await store.client.hset(metaKey, 'seq', String((now + 1_000) * 1000));
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'late' }, now + 5_000)], now: now + 5_000 });
    assert.deepEqual(await Promise.all(['lone', 'late'].map((id) => store.client.zscore(keys.allJobs('q'), id))),
      [String(other + 1), String((now + 5_000) * 1000)]);
    assert.equal(await store.client.hget(metaKey, 'seq'), String((now + 5_000) * 1000));
  }));

  it("gives a millisecond's later adds the rest of that millisecond's seqs without a meta write, above them what another writer takes", () => withStore(async (store, keys, now) => {
    const metaKey = `${keys.queueKeyBase('q')}:m`;
    const add = (s: RedisStore, id: string, at = now) => s.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id }, at)], now: at });
    const seqOf = async (id: string) => Number(await store.client.zscore(keys.allJobs('q'), id));
    const floor = now * 1000;
    // The first add of the queue here learns the stored seq; the next stores the rest of its millisecond.
    await add(store, 'a');
    await add(store, 'b');
    assert.equal(await store.client.hget(metaKey, 'seq'), String(floor + 999));
    const metaWrites: string[][] = [];
    const monitor = await watchCommands((args) => {
      if (args[1] === metaKey) metaWrites.push(args);
    });
    try {
      for (const id of ['c', 'd', 'e']) await add(store, id);
      await store.addJobs({ jobs: ['f', 'g'].map((id) => resolveSpec({ task: 't', queue: 'q', id }, now)), now });
      // A marker after them: MONITOR lists commands in order, so every meta write of the adds came before it.
      await store.client.hget(metaKey, 'seq');
      await until(() => metaWrites.some((args) => args[0]!.toLowerCase() === 'hget'), 5000, 'the marker in MONITOR', 2);
    } finally {
      monitor.stop();
    }
    assert.deepEqual(metaWrites.map((args) => args[0]!.toLowerCase()), ['hget']);
    assert.deepEqual(await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map(seqOf)), [0, 1, 2, 3, 4, 5, 6].map((k) => floor + k));
    // Another writer (here the scripts as EVAL, as an earlier version's library would) steps above
    // the stored seq: its seq is no other add's, while this library's adds of the millisecond go on below it.
    const evalStore = new RedisStore(parseRedisUrl(REDIS_URL), { prefix: store.prefix, scripts: 'eval' });
    try {
      await add(evalStore, 'other');
    } finally {
      await evalStore.close();
    }
    assert.equal(await seqOf('other'), floor + 1000);
    await add(store, 'h');
    assert.equal(await seqOf('h'), floor + 7);
    // The next millisecond's add finds the other writer's seq and goes on after it.
    await add(store, 'i', now + 1);
    assert.equal(await seqOf('i'), floor + 1001);
  }));

  it('stores each job of a batch as a lone add would, shared columns or not, its seqs past a thousand boundary', () => withStore(async (store, keys, now) => {
    // The add sends runAt, priority and the limits once when every job shares them, else per job;
    // seq texts are a head and a 3-digit tail, and this batch's seqs cross from ...998 to ...001.
    const metaKey = `${keys.queueKeyBase('q')}:m`;
    const base = Math.floor((now * 1000 + 5_000_000) / 1000) * 1000 + 997;
    await store.client.hset(metaKey, 'seq', String(base));
    const spec = (id: string, extra = {}) => resolveSpec({ task: 't', queue: 'q', id, ...extra }, now);
    await store.addJobs({ jobs: ['s1', 's2', 's3', 's4'].map((id) => spec(id)), now });
    await store.addJobs({ jobs: [spec('m1', { priority: 5 }), spec('m2', { maxAttempts: 2 }), spec('m3', { delay: 60_000 }), spec('m4')], now });
    const stored = async (id: string) => {
      const [sq, st, p, ra, ma] = await store.client.hmget(keys.job('q', id), 'sq', 'st', 'p', 'ra', 'ma');
      return [id, sq, st, p, Number(ra) - now, ma];
    };
    const sq = (k: number) => String(base + k).padStart(17, '0');
    assert.deepEqual(await Promise.all(['s1', 's2', 's3', 's4', 'm1', 'm2', 'm3', 'm4'].map(stored)), [
      ['s1', sq(1), 'queued', '1', 0, '10'], ['s2', sq(2), 'queued', '1', 0, '10'], ['s3', sq(3), 'queued', '1', 0, '10'],
      ['s4', sq(4), 'queued', '1', 0, '10'], ['m1', sq(5), 'queued', '5', 0, '10'], ['m2', sq(6), 'queued', '1', 0, '2'],
      ['m3', sq(7), 'scheduled', '1', 60_000, '10'], ['m4', sq(8), 'queued', '1', 0, '10'],
    ]);
    assert.ok(sq(3).endsWith('000') && sq(2).endsWith('999'), 'the batch crosses a thousand');
    const claimed = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 8, leaseMs: 60_000, now })).jobs;
    assert.deepEqual(claimed.map((j) => j.id), ['m1', 's1', 's2', 's3', 's4', 'm2', 'm4']);
    // Jobs made at different times, all due: runAt per job, none compared in the script ('due').
    const made = (id: string, at: number) => resolveSpec({ task: 't', queue: 'q', id }, at);
    await store.addJobs({ jobs: [made('t1', now - 7), made('t2', now - 3), made('t3', now)], now });
    assert.deepEqual(await Promise.all(['t1', 't2', 't3'].map(stored)), [
      ['t1', sq(9), 'queued', '1', -7, '10'], ['t2', sq(10), 'queued', '1', -3, '10'], ['t3', sq(11), 'queued', '1', 0, '10'],
    ]);
    // A batch where some ids are taken: the rest are added, in both forms.
    const again = await store.addJobs({ jobs: [spec('s1'), spec('n1'), spec('n2', { priority: 3 }), spec('m3')], now });
    assert.deepEqual(again.map((a) => [a.job.id, a.created]), [['s1', false], ['n1', true], ['n2', true], ['m3', false]]);
    assert.deepEqual(await Promise.all(['n1', 'n2'].map(stored)), [['n1', sq(13), 'queued', '1', 0, '10'], ['n2', sq(14), 'queued', '3', 0, '10']]);
  }, true));

  it('adds an id a batch repeats once, the first job given it, in both argument forms', () => withStore(async (store, keys, now) => {
    const spec = (id: string, payload: number, extra = {}) => resolveSpec({ task: 't', queue: 'q', id, payload, ...extra }, now);
    const shared = await store.addJobs({ jobs: [spec('a', 1), spec('b', 2), spec('a', 3)], now });
    assert.deepEqual(shared.map((r) => [r.job.id, r.created, r.job.payload]), [['a', true, 1], ['b', true, 2], ['a', false, 1]]);
    const mixed = await store.addJobs({ jobs: [spec('c', 4, { priority: 3 }), spec('c', 5), spec('d', 6)], now });
    assert.deepEqual(mixed.map((r) => [r.job.id, r.created, r.job.payload]), [['c', true, 4], ['c', false, 4], ['d', true, 6]]);
    assert.equal((await store.countJobs({ queue: 'q' })).q!.queued, 4);
    assert.equal(await store.client.zcard(keys.allJobs('q')), 4);
    assert.deepEqual((await store.getJob({ id: 'a' }))!.payload, 1);
  }));

  it('writes every field at add on a prefix an earlier version left, and reads a hash without its default fields as those defaults wherever it is read', () => withStore(async (store, keys, now) => {
    const spec = (id: string, extra = {}) => resolveSpec({ task: 't', queue: 'q', id, ...extra }, now);
    await store.addJobs({ jobs: [spec('lone')], now });
    await store.addJobs({ jobs: [spec('plain'), spec('limited', { maxAttempts: 2, maxStalls: 0 }), spec('old'), spec('later', { delay: 60_000 })], now });
    const fieldsOf = async (id: string) => (await store.client.hkeys(keys.job('q', id))).sort();
    for (const id of ['lone', 'plain', 'limited', 'old', 'later']) {
      assert.deepEqual(await fieldsOf(id), ['at', 'd', 'h', 'ma', 'ms', 'p', 'ra', 'sl', 'sq', 'st'], `${id}: the layout earlier versions read`);
    }
    // Hashes as a later version may write them: the fields at their default left out ('old' keeps all).
    const DEFAULTED = ['at', 'sl', 'h', 'ra'];
    await store.client.hdel(keys.job('q', 'lone'), ...DEFAULTED, 'ma', 'ms');
    await store.client.hdel(keys.job('q', 'plain'), ...DEFAULTED, 'ma', 'ms');
    await store.client.hdel(keys.job('q', 'limited'), ...DEFAULTED);
    await store.client.hdel(keys.job('q', 'later'), 'at', 'sl', 'h', 'ma', 'ms');
    assert.deepEqual(['lone', 'limited', 'later'].map((id) => [id, 0]), await Promise.all(['lone', 'limited', 'later'].map(async (id) => {
      const job = (await store.getJob({ id }))!;
      return [id, job.runAt - (id === 'later' ? now + 60_000 : now)];
    })));
    const limits = (j: { id: string; attempts: number; stalls: number; maxAttempts: number; maxStalls: number; history: unknown[] }) =>
      [j.id, j.attempts, j.stalls, j.maxAttempts, j.maxStalls, j.history.length];
    for (const id of ['lone', 'plain', 'old']) assert.deepEqual(limits((await store.getJob({ id }))!), [id, 0, 0, 10, 3, 0]);
    assert.deepEqual(limits((await store.getJob({ id: 'limited' }))!), ['limited', 0, 0, 2, 0, 0]);

    const claimed = (await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 4, leaseMs: 1000, now })).jobs;
    assert.deepEqual(claimed.map(limits), [['lone', 1, 0, 10, 3, 1], ['plain', 1, 0, 10, 3, 1], ['limited', 1, 0, 2, 0, 1], ['old', 1, 0, 10, 3, 1]]);
    assert.deepEqual(claimed.map((j) => j.runAt), [now, now, now, now]);
    // Stall recovery counts from an absent stall count, against the absent limit (3) or the job's own (0).
    const recovered = await store.recoverExpiredJobs({ now: now + 5000 });
    assert.deepEqual([recovered.requeued.sort(), recovered.failed], [['lone', 'old', 'plain'], ['limited']]);
    assert.deepEqual(limits((await store.getJob({ id: 'lone' }))!), ['lone', 0, 1, 10, 3, 1]);
    // A manual retry that keeps counting raises the limit past the attempts made (1 + 1 = 2 stays 2).
    const retried = await store.retryJob({ id: 'limited', resetAttempts: false, now: now + 6000 });
    assert.deepEqual([retried.state, retried.attempts, retried.maxAttempts], ['queued', 1, 2]);
    // Neither attempts nor the limit stored: a job cancelled before it ever ran, retried the same way.
    await store.addJobs({ jobs: [spec('fresh')], now });
    await store.client.hdel(keys.job('q', 'fresh'), ...DEFAULTED, 'ma', 'ms');
    await store.cancelJob({ id: 'fresh', now });
    const fresh = await store.retryJob({ id: 'fresh', resetAttempts: false, now: now + 6000 });
    assert.deepEqual([fresh.state, fresh.attempts, fresh.maxAttempts], ['queued', 0, 10]);
  }, true));
});

describe('Redis job hashes without their default fields', { skip }, () => {
  // A later version's add may leave fields at their default out of the job hash (attempts 0, stalls
  // 0, no history): claim, outcomes and stall recovery read an absent field as its default.
  it('claims, retries, recovers a lost lease and completes a job whose hash lacks at, sl and h', () => withStore(async (store, keys, now) => {
    await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', id: 'bare', maxStalls: 5 }, now)], now });
    await store.client.hdel(keys.job('q', 'bare'), 'at', 'sl', 'h');
    const claim = (at: number) => store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 1_000, now: at });
    const first = (await claim(now)).jobs[0]!;
    assert.equal(first.attempts, 1);
    assert.equal(first.stalls, 0);
    assert.deepEqual(first.history, [{ attempt: 1, workerId: 'w', startedAt: now }]);
    const retried = await store.finishJobs({ outcomes: [{ kind: 'retry', id: 'bare', token: first.leaseToken!, at: now + 1, error: { message: 'boom', retryable: true }, retryAt: now + 2 }] });
    assert.deepEqual(retried, [true]);
    const second = (await claim(now + 2)).jobs[0]!;
    assert.equal(second.attempts, 2);
    assert.deepEqual(second.history.map((h) => [h.attempt, h.outcome ?? 'open']), [[1, 'retrying'], [2, 'open']]);
    // Its hash again without stalls, as added: a lost lease counts the first stall.
    await store.client.hdel(keys.job('q', 'bare'), 'sl');
    const recovered = await store.recoverExpiredJobs({ now: now + 5_000 });
    assert.deepEqual(recovered.requeued, ['bare']);
    const third = (await claim(now + 5_001)).jobs[0]!;
    assert.equal(third.stalls, 1);
    assert.deepEqual(await store.finishJobs({ outcomes: [{ kind: 'completed', id: 'bare', token: third.leaseToken!, at: now + 5_002, result: 7 }] }), [true]);
    const done = await store.getJob({ id: 'bare' });
    assert.equal(done?.state, 'completed');
    assert.equal(done?.result, 7);
  }));
});
