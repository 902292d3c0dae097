// The plain add (lua/add.lua, plainAddScript in script-calls.ts): a single enqueue on a lean prefix,
// due, with its runAt its createdAt, default limits and an id JSON takes as it is, sends one key (the
// queue's base) and four arguments (five with a priority not the default), and the script finds the
// queue name and the id index and builds the work message itself. What it stores, indexes, publishes and answers is the general
// form's, on a prefix and queue whose names hold ':' too (the script splits them by the channel).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { resolveSpec } from '../../src/core/queue.js';
import type { JobSpec, NewJob } from '../../src/core/job.js';
import { addMessage, addArgs } from '../../src/stores/redis/codec.js';
import { PrefixedStores, REDIS_URL, openTestStore, redisSkip, testPrefix, watchCommands } from '../helpers/redis.js';
import { until } from '../helpers/await.js';

const skip = await redisSkip();

describe('Redis plain add', { skip }, () => {
  const admin = new Redis(REDIS_URL);
  const stores = new PrefixedStores();
  const open = () => stores.open(`${testPrefix()}:x`);
  after(async () => {
    await stores.cleanup(admin);
    admin.disconnect();
  });
  const spec = (now: number, id: string | undefined, queue: string, extra: Partial<JobSpec> = {}): NewJob =>
    resolveSpec({ task: 't', queue, payload: { n: 1 }, ...(id === undefined ? {} : { id }), ...extra }, now);
  /** The add scripts' FCALLs on this prefix while `run` runs, as MONITOR shows them: each a list of its arguments. */
  const fcallsDuring = async (prefix: string, run: () => Promise<unknown>): Promise<string[][]> => {
    const calls: string[][] = [];
    const monitor = await watchCommands((args) => {
      if (String(args[0]).toLowerCase() === 'fcall' && /_add(_lean)?$/.test(args[1]!) && args.some((a) => a.includes(prefix))) calls.push(args);
    });
    try {
      await run();
      await until(() => calls.length > 0, 5000, 'the add in MONITOR', 2);
    } finally {
      monitor.stop();
    }
    return calls;
  };

  it('sends one key and four arguments, five with a priority not the default', async () => {
    const store = open();
    const now = Date.now();
    await store.addJobs({ jobs: [spec(now, 'warm', 'q:a')], now }); // marks the prefix lean
    const plain = await fcallsDuring(store.prefix, () => store.addJobs({ jobs: [spec(now, undefined, 'q:a')], now }));
    // FCALL, the function, the number of keys, KEYS[1], channel, now, id, static JSON. No KEYS[2]:
    // the script finds the id index from the channel ('?prefix:events': a single Redis, where a
    // script may touch any slot, as it does the job's keys built from KEYS[1]).
    assert.deepEqual(plain.map((args) => [args.length, args[2]]), [[8, '1']]);
    assert.deepEqual(plain[0]!.slice(3, 5), [`{${store.prefix}:q:a}`, `?${store.prefix}:events`]);
    const urgent = await fcallsDuring(store.prefix, () => store.addJobs({ jobs: [spec(now, undefined, 'q:a', { priority: 'high' })], now }));
    assert.deepEqual(urgent.map((args) => [args.length, args[8]]), [[9, '2']]);
    // Not plain: a limit not at its default goes in the general form (KEYS[2] the id index, ten arguments).
    const general = await fcallsDuring(store.prefix, () => store.addJobs({ jobs: [spec(now, undefined, 'q:a', { maxAttempts: 2 })], now }));
    assert.deepEqual(general.map((args) => [args.length, args[2]]), [[15, '2']]);
  });

  it("refuses a prefix starting with '?', the mark the scripts read in a single Redis's channel", () => {
    assert.throws(() => openTestStore(undefined, `?${testPrefix()}`), /not starting with \?/);
  });

  it('stores, indexes, publishes and answers as the general form', async () => {
    const store = open();
    const now = Date.now();
    await store.addJobs({ jobs: [spec(now, 'warm', 'q:a')], now });
    const work = admin.duplicate();
    const messages: string[] = [];
    work.on('message', (_channel: string, text: string) => messages.push(text));
    await work.subscribe(`${store.prefix}:events:w`);
    try {
      const job = spec(now, undefined, 'q:a', { priority: 'low' });
      const [added] = await store.addJobs({ jobs: [job], now });
      assert.deepEqual([added!.created, added!.job.state, added!.job.priority], [true, 'queued', 0]);
      await until(() => messages.length === 1, 5000, 'the work message', 2);
      assert.equal(messages[0], addMessage('q:a', now, [addArgs(job)]));
      const base = `{${store.prefix}:q:a}`;
      assert.deepEqual((await admin.hkeys(`${base}:j:${job.id}`)).sort(), ['d', 'p', 'sq', 'st']);
      const seq = await admin.hget(`${base}:j:${job.id}`, 'sq');
      assert.equal(await admin.zscore(`${base}:r`, `${seq}${job.id}`), '0');
      assert.equal(await admin.zscore(`${base}:a`, job.id), String(Number(seq)));
      assert.equal(await admin.hget(`{${store.prefix}}:ids`, job.id), 'q:a', 'the id index, found from the channel');
      const got = await store.getJob({ id: job.id });
      assert.deepEqual([got?.queue, got?.state, got?.runAt, got?.maxAttempts, got?.maxStalls], ['q:a', 'queued', now, 10, 3]);
      // The same id again: the existing job, in this queue and from another. Each queue has had an
      // add just before, so the script knows it has no idle worker and takes its shortest path
      // (the plain add's own path in lua/add.lua), which answers for a taken id too.
      await store.addJobs({ jobs: [spec(now, undefined, 'other')], now });
      const again = spec(now + 1, job.id, 'q:a');
      assert.equal((await store.addJobs({ jobs: [again], now: now + 1 }))[0]!.created, false);
      const elsewhere = await store.addJobs({ jobs: [spec(now + 1, job.id, 'other')], now: now + 1 });
      assert.deepEqual([elsewhere[0]!.created, elsewhere[0]!.job.queue, elsewhere[0]!.job.priority], [false, 'q:a', 0]);
      assert.equal(await admin.exists(`{${store.prefix}:other}:j:${job.id}`), 0);
    } finally {
      work.disconnect();
    }
  });

  it("writes each lone add's seq as 17 digits, past a thousand adds in one millisecond", async () => {
    // The script keeps the seq's head (all but its last three digits) from the add before, and
    // joins the tail to it: the 1,001st add of one millisecond moves to the next head.
    const store = open();
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 1005; i++) {
      const job = spec(now, undefined, 'seq');
      ids.push(job.id);
      await store.addJobs({ jobs: [job], now });
    }
    const base = `{${store.prefix}:seq}`;
    const seqs = await Promise.all(ids.map((id) => admin.hget(`${base}:j:${id}`, 'sq')));
    const first = BigInt(seqs[0]!);
    assert.ok(first >= BigInt(now) * 1000n);
    assert.deepEqual(seqs, ids.map((_, i) => String(first + BigInt(i)).padStart(17, '0')));
    // The ready index's members and the all-jobs index's scores carry the same seqs.
    const ready = await admin.zrange(`${base}:r`, '0', '-1');
    assert.deepEqual(ready, ids.map((id, i) => `${seqs[i]}${id}`));
    assert.equal(await admin.zscore(`${base}:a`, ids[1004]!), String(Number(seqs[1004])));
  });

  it('keeps FIFO by seq among plain and general adds of one priority', async () => {
    const store = open();
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      // Every other add is general (a limit not at its default).
      const job = spec(now, undefined, 'fifo', i % 2 ? { maxStalls: 1 } : {});
      ids.push(job.id);
      await store.addJobs({ jobs: [job], now });
    }
    const claimed = await store.claimJobs({ queues: ['fifo'], workerId: 'w', limit: 6, leaseMs: 30_000, now });
    assert.deepEqual(claimed.jobs.map((j) => j.id), ids);
  });
});
