// How an add's jobs are encoded on the client (codec.ts, script-calls.ts): the static JSON a
// StaticJsonWriter joins from parts is staticJson's text byte for byte, whatever the job holds, and
// batches single and bulk, of made and given ids, ASCII or not, are stored as that text says.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { resolveSpec } from '../../src/core/queue.js';
import type { JobSpec, NewJob } from '../../src/core/job.js';
import { addArgsOf, addMessage, staticJson, StaticJsonWriter } from '../../src/stores/redis/codec.js';
import { PrefixedStores, REDIS_URL, redisSkip, testPrefix } from '../helpers/redis.js';

const skip = await redisSkip();

const job = (now: number, extra: Partial<JobSpec> = {}): NewJob => resolveSpec({ task: 't', queue: 'enc', payload: { n: 1 }, ...extra }, now);

describe('Redis add encoding', () => {
  it("writes staticJson's text for every kind of job", () => {
    const now = 1_764_876_000_000;
    const policy = { type: 'fixed', delay: 5 } as const;
    const jobs = [
      job(now),
      job(now, { payload: { text: 'héllo ✓ 😀', list: [1, 'two', null] } }),
      job(now + 1, { payload: 'plain string' }),
      job(now, { payload: undefined }),
      job(now, { task: 'tâche', backoff: policy }),
      job(now, { backoff: policy, timeout: 50, tags: ['a'], description: 'd' }),
      job(now, { payload: new Date(now) }),
      job(now, { payload: { toJSON: (key: string) => `key:${key}` } }),
      job(now, { payload: [undefined, () => 1] }),
    ];
    const writer = new StaticJsonWriter();
    for (const [k, j] of jobs.entries()) assert.equal(writer.write(j), staticJson(j), `job ${k}`);
    for (const j of [job(now), job(now, { payload: { s: 'a\nb"c' } })]) assert.equal(writer.write(j), staticJson(j));
    // A policy object changed between two adds is written anew: a writer lives for one add.
    const mutable: { type: 'fixed'; delay: number } = { type: 'fixed', delay: 1 };
    const before = addArgsOf([job(now, { backoff: mutable })]).rows[0]![5];
    mutable.delay = 2;
    const afterChange = job(now, { backoff: mutable });
    assert.equal(addArgsOf([afterChange]).rows[0]![5], staticJson(afterChange));
    assert.notEqual(before, staticJson(afterChange));
  });

  it('writes the right text when adds one after another change task, policy or time', () => {
    // The writer's head and tail outlive an add (a lone add's writer is new): each must follow
    // the task, the policy's text and the time of the job at hand, whatever the adds before wrote.
    const now = 1_764_876_000_000;
    const specs: Partial<JobSpec>[] = [
      {}, { task: 'u' }, {}, { backoff: { type: 'fixed', delay: 5 } }, {}, { task: 'u', backoff: { type: 'fixed', delay: 6 } }, {},
    ];
    for (const at of [now, now + 1, now]) {
      for (const [k, spec] of specs.entries()) {
        const j = job(at, spec);
        assert.equal(new StaticJsonWriter().write(j), staticJson(j), `spec ${k} at ${at}`);
        assert.equal(addArgsOf([j]).rows[0]![5], staticJson(j), `spec ${k} at ${at}, addArgsOf`);
      }
    }
  });

  it("writes an add's work message as JSON writes it, its jobs due or not", () => {
    const now = 1_764_876_000_000;
    const due = Array.from({ length: 5 }, () => job(now));
    const later = [job(now), job(now, { runAt: now + 5 }), job(now)];
    const expected = (jobs: NewJob[]) => JSON.stringify({
      q: 'q:a', a: now, e: jobs.map((j) => (j.runAt > now ? ['scheduled', j.id, j.runAt] : ['queued', j.id])),
    });
    for (const jobs of [due, due.slice(0, 1), later]) {
      const { rows, madeIds } = addArgsOf(jobs);
      assert.equal(madeIds, true);
      assert.equal(addMessage('q:a', now, rows, madeIds), expected(jobs), `${jobs.length} jobs`);
      assert.equal(addMessage('q:a', now, rows, false), expected(jobs), `${jobs.length} jobs, ids not known as made`);
    }
  });

  it('keeps its own task when encoding the payload adds another job (a toJSON or getter inside it)', () => {
    const now = Date.now();
    const other = job(now, { task: 'other-task' });
    const outer = job(now, { task: 'email', payload: { x: { toJSON: () => (addArgsOf([other]), 1) } } });
    const stored = addArgsOf([outer]).rows[0]![5] as string;
    assert.equal(stored, staticJson(outer));
    assert.equal(JSON.parse(stored).task, 'email');
  });

  it('knows made ids from given ones', () => {
    const now = Date.now();
    assert.equal(addArgsOf([job(now), job(now)]).madeIds, true);
    assert.equal(addArgsOf([job(now), job(now, { id: 'given' })]).madeIds, false);
  });

  describe('on Redis', { skip }, () => {
    const admin = new Redis(REDIS_URL);
    const stores = new PrefixedStores();
    after(async () => {
      await stores.cleanup(admin);
      admin.disconnect();
    });

    it('stores ASCII and non-ASCII batches, single and bulk, as their static JSON says', async () => {
      const store = stores.open(testPrefix());
      const now = Date.now();
      await store.addJobs({ jobs: [job(now, { id: 'warm' })], now }); // marks the prefix lean
      const batches: NewJob[][] = [
        [job(now)],
        [job(now, { payload: { s: 'ünïcødé 😀' } })],
        [job(now, { id: 'given ünïcødé id' })],
        Array.from({ length: 50 }, (_, i) => job(now, { payload: { i } })),
        Array.from({ length: 50 }, (_, i) => job(now, { payload: { i, s: i % 7 ? 'a' : 'é' } })),
        Array.from({ length: 5 }, (_, i) => job(now, { id: `id-${i}-ü`, priority: i })),
      ];
      for (const jobs of batches) {
        const added = await store.addJobs({ jobs, now });
        assert.deepEqual(added.map((a) => a.created), jobs.map(() => true));
        for (const j of jobs) {
          assert.equal(await admin.hget(`{${store.prefix}:enc}:j:${j.id}`, 'd'), staticJson(j), j.id);
          const got = await store.getJob({ id: j.id });
          assert.deepEqual([got?.id, got?.payload, got?.priority, got?.state], [j.id, j.payload, j.priority, 'queued']);
        }
      }
    });
  });
});
