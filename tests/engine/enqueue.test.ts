// The enqueue funnel (src/core/enqueue.ts): adds that arrive together share one store add, a few in
// the air on a remote store. Each caller must still get exactly its own answer, atomically, in call
// order, with idempotency intact; a caller's transaction ({ tx }) is never shared. Run on SQLite,
// Redis and PostgreSQL (each skipped with a message when its server is missing).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { Enqueuer } from '../../src/core/enqueue.js';
import type { Store } from '../../src/core/store.js';
import { openStore } from '../../src/stores/index.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import { pgHarness, pgSkip, PG_URL } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.now();
const skipRedis = await redisSkip();
const skipPg = await pgSkip();

/** Count the store adds made and how many are in the air at once (a pass-through wrapper, removed by restore). */
function countAdds(store: Store) {
  const real = store.addJobs;
  const seen = { adds: 0, inFlight: 0, maxInFlight: 0 };
  (store as { addJobs: Store['addJobs'] }).addJobs = function (this: Store, ...args: Parameters<Store['addJobs']>) {
    seen.adds++;
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
    return real.apply(this, args).finally(() => seen.inFlight--);
  };
  return { seen, restore: () => delete (store as { addJobs?: unknown }).addJobs };
}

interface Subject {
  name: string;
  skip: string | false;
  open(): Promise<{ store: Store; cleanup(): Promise<void> }>;
  /** Whether the store applies several adds in the air in the order they were sent (one connection). */
  ordered: boolean;
}

const subjects: Subject[] = [
  {
    name: 'SQLite',
    skip: false,
    ordered: true,
    async open() {
      const t = tempDir('fusion-enqueue-');
      const store = await openStore(`sqlite:${join(t.dir, 'f.db')}`);
      return { store, cleanup: async () => { await store.close(); t.remove(); } };
    },
  },
  { name: 'Redis', skip: skipRedis, ordered: true, open: () => redisHarness() },
  // A pool: adds in the air at once run on different connections, so only each caller's own order is kept.
  { name: 'PostgreSQL', skip: skipPg, ordered: false, open: () => pgHarness() },
];

for (const subject of subjects) {
  describe(`enqueue funnel on ${subject.name}`, { skip: subject.skip }, () => {
    it('coalesces concurrent adds into few store adds, keeping each answer, call order and idempotency', async () => {
      const { store, cleanup } = await subject.open();
      const funnel = new Enqueuer(store);
      await funnel.enqueue([{ task: 't', queue: 'warm', id: 'w' }]); // queue registry, scripts loaded
      const counter = countAdds(store);
      try {
        const N = 200;
        const results = await Promise.all(Array.from({ length: N }, (_, i) =>
          funnel.enqueue([{ task: 't', queue: 'lane', id: `j${i}`, payload: { i } }])));
        assert.ok(counter.seen.adds > 0 && counter.seen.adds < N / 4, `${counter.seen.adds} store adds for ${N} concurrent adds`);
        results.forEach((r, i) => {
          assert.equal(r.length, 1);
          assert.equal(r[0]!.created, true);
          assert.equal(r[0]!.job.id, `j${i}`);
          assert.deepEqual(r[0]!.job.payload, { i });
        });
        // The same id twice in one shared add: one job; the later caller sees it as existing.
        const [a, b, later] = await Promise.all([
          funnel.enqueue([{ task: 't', queue: 'lane', id: 'dup', payload: 1 }]),
          funnel.enqueue([{ task: 't', queue: 'lane', id: 'dup', payload: 2 }]),
          funnel.enqueue([{ task: 't', queue: 'lane', id: 'later', delay: 60_000 }]),
        ]);
        if (subject.ordered) {
          assert.equal(a[0]!.created, true);
          assert.equal(b[0]!.created, false);
          assert.equal(b[0]!.job.payload, 1);
        } else {
          // Two adds in the air on two connections: either may land first, the other sees its job.
          assert.equal(Number(a[0]!.created) + Number(b[0]!.created), 1);
          assert.equal(a[0]!.job.payload, b[0]!.job.payload);
        }
        assert.equal(later[0]!.job.state, 'scheduled');
        const claimed = await store.claimJobs({ queues: ['lane'], workerId: 'w', limit: 1000, leaseMs: 10_000, now: Date.now() });
        const expected = [...Array.from({ length: N }, (_, i) => `j${i}`), 'dup'];
        // Claim order is call order (FIFO within the priority) where adds in the air keep their order.
        if (subject.ordered) assert.deepEqual(claimed.jobs.map((j) => j.id), expected);
        else assert.deepEqual(claimed.jobs.map((j) => j.id).sort(), expected.sort());
      } finally {
        counter.restore();
        await cleanup();
      }
    });

    it('keeps a few adds in the air for callers that add again as soon as they are answered', async () => {
      const { store, cleanup } = await subject.open();
      const funnel = new Enqueuer(store);
      await funnel.enqueue([{ task: 't', queue: 'loop', id: 'first' }]);
      const counter = countAdds(store);
      try {
        const CALLERS = 100;
        const EACH = 5;
        await Promise.all(Array.from({ length: CALLERS }, async (_, c) => {
          for (let k = 0; k < EACH; k++) {
            const [r] = await funnel.enqueue([{ task: 't', queue: 'loop', id: `c${c}-${k}` }]);
            assert.equal(r!.created, true);
          }
        }));
        const { adds, maxInFlight } = counter.seen;
        assert.ok(adds > 0 && adds < (CALLERS * EACH) / 4, `${adds} store adds for ${CALLERS * EACH} adds`);
        const most = store.capabilities.pipelined ? 3 : 1;
        assert.ok(maxInFlight >= 1 && maxInFlight <= most, `${maxInFlight} store adds in the air at once (at most ${most})`);
        // Each caller's jobs are claimed in the order it added them.
        const claimed = await store.claimJobs({ queues: ['loop'], workerId: 'w', limit: 1000, leaseMs: 10_000, now: Date.now() });
        assert.equal(claimed.jobs.length, CALLERS * EACH + 1);
        const order = new Map<string, number[]>();
        for (const j of claimed.jobs) {
          const m = /^c(\d+)-(\d+)$/.exec(j.id);
          if (m) order.set(m[1]!, [...(order.get(m[1]!) ?? []), Number(m[2])]);
        }
        for (const [c, ks] of order) assert.deepEqual(ks, [0, 1, 2, 3, 4], `caller ${c}`);
      } finally {
        counter.restore();
        await cleanup();
      }
    });

    it('group commit: adds made in separate callbacks of one event-loop turn share one store add', async () => {
      const { store, cleanup } = await subject.open();
      const funnel = new Enqueuer(store);
      await funnel.enqueue([{ task: 't', queue: 'gc', id: 'warm-gc' }]);
      /** N adds, each from a callback of its own in one turn (as an HTTP server's requests arrive). */
      const burst = (tag: string, groupCommit: boolean) => Promise.all(Array.from({ length: 20 }, (_, i) =>
        new Promise<unknown>((resolve, reject) => setImmediate(() => {
          funnel.add([funnel.prepare({ task: 't', queue: 'gc', id: `${tag}${i}` })], { groupCommit }).then(resolve, reject);
        }))));
      const counter = countAdds(store);
      try {
        await burst('g', true);
        assert.equal(counter.seen.adds, 1, 'one store add for the turn');
        if (!store.capabilities.pipelined) {
          // Without it, an embedded store's lone add goes at once: each callback's add is its own.
          counter.seen.adds = 0;
          await burst('n', false);
          assert.equal(counter.seen.adds, 20);
        }
      } finally {
        counter.restore();
        await cleanup();
      }
    });

    it('a one-job enqueue answers its job, and one the store refuses rejects and frees its slot', async () => {
      const { store, cleanup } = await subject.open();
      const funnel = new Enqueuer(store);
      const real = store.addJobs;
      const refused = new Error('refused');
      let adds = 0;
      (store as { addJobs: Store['addJobs'] }).addJobs = function (this: Store, ...args: Parameters<Store['addJobs']>) {
        return ++adds === 1 ? Promise.reject(refused) : real.apply(this, args);
      };
      try {
        await assert.rejects(funnel.enqueueOne({ task: 't', queue: 'q1', id: 'one-a' }), refused);
        const next = funnel.enqueueOne({ task: 't', queue: 'q1', id: 'one-b', payload: { n: 1 } });
        // Its slot free again, the next lone add goes straight to the store, not to the waiting adds.
        assert.equal(adds, 2);
        const job = await next;
        assert.equal(job.id, 'one-b');
        assert.equal(job.state, 'queued');
        assert.deepEqual(job.payload, { n: 1 });
        assert.deepEqual(await funnel.enqueueOne({ task: 't', queue: 'q1', id: 'one-b' }), await store.getJob({ id: 'one-b' }));
      } finally {
        delete (store as { addJobs?: unknown }).addJobs;
        await cleanup();
      }
    });

    it('one-job enqueues that share store adds each get their own job; one the store refuses fails alone', async () => {
      const { store, cleanup } = await subject.open();
      const funnel = new Enqueuer(store);
      await funnel.enqueueOne({ task: 't', queue: 'ones', id: 'warm-ones' });
      const real = store.addJobs;
      const refused = new Error('refused');
      const seen = { refusedShared: false };
      (store as { addJobs: Store['addJobs'] }).addJobs = function (this: Store, ...args: Parameters<Store['addJobs']>) {
        const { jobs } = args[0];
        if (!jobs.some((j) => j.id === 'o-bad')) return real.apply(this, args);
        if (jobs.length > 1) seen.refusedShared = true;
        return Promise.reject(refused);
      };
      try {
        const N = 60;
        const settled = await Promise.allSettled(Array.from({ length: N }, (_, i) =>
          funnel.enqueueOne({ task: 't', queue: 'ones', id: i === 40 ? 'o-bad' : `o${i}`, payload: { i } })));
        assert.ok(seen.refusedShared && funnel.splits >= 1, 'the refused job was in a shared add, which was split');
        for (const [i, s] of settled.entries()) {
          if (i === 40) {
            assert.deepEqual(s, { status: 'rejected', reason: refused });
            continue;
          }
          assert.equal(s.status, 'fulfilled', `caller ${i}`);
          const job = (s as PromiseFulfilledResult<Awaited<ReturnType<Enqueuer['enqueueOne']>>>).value;
          assert.equal(job.id, `o${i}`);
          assert.deepEqual(job.payload, { i });
          assert.equal(job.state, 'queued');
        }
      } finally {
        delete (store as { addJobs?: unknown }).addJobs;
        await cleanup();
      }
    });

    it('a caller whose jobs the store refuses fails alone, with all of its jobs, across queues', async () => {
      const { store, cleanup } = await subject.open();
      const funnel = new Enqueuer(store);
      try {
        const now = Date.now();
        const good = (i: number) => [funnel.prepare({ task: 't', queue: 'qa', id: `g${i}a` }, now), funnel.prepare({ task: 't', queue: 'qb', id: `g${i}b` }, now)];
        const bad = [funnel.prepare({ task: 't', queue: 'qa', id: 'bad-a' }, now), funnel.prepare({ task: 't', queue: 'qb', id: 'bad-b' }, now)];
        // BigInt: no JSON for it. Set after prepare (which refuses one), its text unmade, so the store refuses it.
        bad[1]!.payload = { n: 10n } as never;
        bad[1]!.payloadJson = undefined;
        // Enough callers that the bad one shares an add on every store (on a remote one the first few go alone).
        const BAD = 6;
        const settled = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => funnel.add(i === BAD ? bad : good(i))));
        assert.ok(funnel.splits >= 1, 'the shared add failed and was split');
        for (const [i, s] of settled.entries()) {
          assert.equal(s.status, i === BAD ? 'rejected' : 'fulfilled', `caller ${i}`);
          if (i !== BAD) for (const id of [`g${i}a`, `g${i}b`]) assert.ok(await store.getJob({ id }), `${id} stored`);
        }
        // All or none: the bad caller's job in the other queue is not there either.
        assert.equal(await store.getJob({ id: 'bad-a' }), null);
        assert.equal(await store.getJob({ id: 'bad-b' }), null);
      } finally {
        await cleanup();
      }
    });
  });
}

describe('enqueue funnel: a caller transaction goes alone (PostgreSQL)', { skip: skipPg }, () => {
  it('an add with { tx } is never shared with adds arriving at the same time', async () => {
    const { store, schema, cleanup } = await pgHarness();
    const funnel = new Enqueuer(store);
    const app = new pg.Client({ connectionString: PG_URL });
    await app.connect();
    try {
      await funnel.enqueue([{ task: 't', queue: 'q', id: 'warm' }]);
      await app.query('BEGIN');
      await app.query(`SET LOCAL search_path TO "${schema}"`);
      const counter = countAdds(store);
      const [inTx, outside] = await Promise.all([
        funnel.enqueue([{ task: 't', queue: 'q', id: 'in-tx' }], { tx: app }),
        funnel.enqueue([{ task: 't', queue: 'q', id: 'outside' }]),
      ]);
      counter.restore();
      assert.equal(counter.seen.adds, 2, 'the transaction add went alone');
      assert.equal(inTx[0]!.created, true);
      assert.equal(outside[0]!.created, true);
      await app.query('ROLLBACK');
      // Rolled back with the caller's transaction; the other caller's job is unaffected.
      assert.equal(await store.getJob({ id: 'in-tx' }), null);
      assert.ok(await store.getJob({ id: 'outside' }));
    } finally {
      await app.end();
      await cleanup();
    }
  });
});
