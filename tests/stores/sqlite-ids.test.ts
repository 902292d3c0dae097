// SQLite job ids (migration 003): an id Fusion chooses is a UUIDv7 carrying the row's seq, found
// by that seq and not indexed; ids callers give are in their own unique index. Both kinds stay
// unique together, a seq is never taken twice (a removed job's id answers nothing), lists of one queue
// across states page by seq without an index of every job, and a version-2 file is brought over
// with its jobs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { LATEST_SQLITE_VERSION, migrate } from '../../src/stores/sqlite/migrate.js';
import { seqOfId } from '../../src/stores/sqlite/ids.js';
import { Queue, resolveSpec } from '../../src/core/queue.js';
import type { NewJob } from '../../src/core/job.js';
import type { StoreEvent } from '../../src/core/store.js';
import { tempDir } from '../helpers/tmp.js';
import { deferred, within } from '../helpers/await.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const T0 = 1_700_000_000_000;

async function withStore(fn: (store: SqliteStore, file: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  const file = join(t.dir, 'ids.db');
  const store = new SqliteStore(file);
  try {
    await fn(store, file);
  } finally {
    await store.close();
    t.remove();
  }
}

const given = (db: Database.Database, id: string) => db.prepare(`SELECT id_given FROM jobs WHERE id = ?`).pluck().get(id);

describe('sqlite store: job ids', () => {
  it('makes UUIDv7 ids that carry the seq, in creation order, found by get, finish, heartbeat and cancel', async () => {
    await withStore(async (store) => {
      const q = new Queue(store);
      const one = await q.enqueue({ task: 't', queue: 'q' });
      const many = await q.enqueueMany(Array.from({ length: 130 }, (_, i) => ({ task: 't', queue: 'q', payload: { i } })));
      const ids = [one.id, ...many.map((r) => r.job.id)];
      for (const id of ids) assert.match(id, UUID_V7);
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `${ids[i]} > ${ids[i - 1]}`);
      const seqs = store.db.prepare(`SELECT seq, id, id_given FROM jobs ORDER BY seq`).all() as { seq: number; id: string; id_given: number | null }[];
      assert.deepEqual(seqs.map((r) => r.id), ids);
      assert.ok(seqs.every((r) => seqOfId(r.id) === r.seq && r.id_given === null), 'each id carries its seq, none indexed');
      assert.deepEqual((await store.getJob({ id: ids[77]! }))!.payload, { i: 76 });

      const claimed = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 1000, now: Date.now() });
      assert.deepEqual(claimed.jobs.map((j) => j.id), ids.slice(0, 2));
      const [beat] = await store.heartbeatJobs({ leases: [{ id: ids[0]!, token: claimed.jobs[0]!.leaseToken! }], leaseMs: 5000, now: Date.now() });
      assert.equal(beat!.ok, true);
      const applied = await store.finishJobs({ outcomes: [
        { kind: 'completed', id: ids[0]!, token: claimed.jobs[0]!.leaseToken!, at: Date.now(), result: 'done' },
        { kind: 'completed', id: ids[1]!, token: 'not-the-lease', at: Date.now(), result: null },
      ] });
      assert.deepEqual(applied, [true, false]);
      assert.equal((await store.getJob({ id: ids[0]! }))!.result, 'done');
      assert.equal((await store.cancelJob({ id: ids[5]!, now: Date.now() })).state, 'cancelled');
    });
  });

  it('keeps ids unique across both kinds: a made id given back, and a given id in the shape the next one would take', async () => {
    await withStore(async (store) => {
      const q = new Queue(store);
      const made = await q.enqueue({ task: 't', queue: 'q', payload: 'first' });
      // Adding a job under a made id answers the stored job.
      const again = await store.addJobs({ jobs: [resolveSpec({ id: made.id, task: 't', queue: 'q', payload: 'other' }, Date.now())], now: Date.now() });
      assert.deepEqual(again.map((r) => [r.created, r.job.payload]), [[false, 'first']]);

      // A caller takes the id the next job would be made with (its prefix, the next seq): that job
      // keeps the id Fusion first made, as a given one.
      const next: NewJob = resolveSpec({ task: 't', queue: 'q', payload: 'next' }, Date.now());
      const taken = next.madeId!.slice(0, 24) + (seqOfId(made.id)! + 2).toString(16).padStart(12, '0');
      const [byCaller] = await store.addJobs({ jobs: [resolveSpec({ id: taken, task: 't', queue: 'q', payload: 'caller' }, Date.now())], now: Date.now() });
      assert.equal(byCaller!.created, true);
      assert.equal(given(store.db, taken), 1);
      const [nextAdded] = await store.addJobs({ jobs: [next], now: Date.now() });
      assert.equal(nextAdded!.created, true);
      assert.equal(nextAdded!.job.id, next.madeId);
      assert.equal((await store.getJob({ id: taken }))!.payload, 'caller');
      assert.equal((await store.getJob({ id: next.madeId! }))!.payload, 'next');

      // The same in a batch of alike jobs: the one whose made id a caller holds keeps Fusion's first.
      const batch = Array.from({ length: 70 }, (_, i) => resolveSpec({ task: 't', queue: 'q', payload: i }, T0));
      const lastSeq = store.db.prepare(`SELECT max(seq) FROM jobs`).pluck().get() as number;
      const inRange = batch[0]!.madeId!.slice(0, 24) + (lastSeq + 1 + 10).toString(16).padStart(12, '0');
      await store.addJobs({ jobs: [resolveSpec({ id: inRange, task: 't', queue: 'q', payload: 'held' }, T0)], now: T0 });
      const out = await store.addJobs({ jobs: batch, now: T0 });
      assert.ok(out.every((r) => r.created));
      const outIds = out.map((r) => r.job.id);
      assert.equal(new Set(outIds).size, 70);
      assert.ok(!outIds.includes(inRange));
      for (const [i, id] of outIds.entries()) assert.equal((await store.getJob({ id }))!.payload, i);
      assert.equal((await store.getJob({ id: inRange }))!.payload, 'held');
    });
  });

  it('never takes a seq twice: a job made after the newest was removed or cleaned gets a new id, the old one answers nothing', async () => {
    await withStore(async (store) => {
      // Jobs whose ids Fusion made with one prefix (as ids made in one millisecond share it).
      const spec = () => {
        const j = resolveSpec({ task: 't', queue: 'q' }, T0);
        const made = '0190a1b2-c3d4-7e5f-8a6b-' + j.madeId!.slice(24);
        return { ...j, id: made, madeId: made };
      };
      const [gone] = await store.addJobs({ jobs: [spec()], now: T0 });
      await store.removeJob({ id: gone!.job.id, now: T0 });
      const [after] = await store.addJobs({ jobs: [spec()], now: T0 });
      assert.equal(seqOfId(after!.job.id), seqOfId(gone!.job.id)! + 1, 'the next seq, not the removed one');
      assert.equal(await store.getJob({ id: gone!.job.id }), null);
      await assert.rejects(store.cancelJob({ id: gone!.job.id, now: T0 }), /not found/i);

      const claimed = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 1000, now: T0 });
      await store.finishJobs({ outcomes: [{ kind: 'completed', id: after!.job.id, token: claimed.jobs[0]!.leaseToken!, at: T0, result: null }] });
      assert.equal(await store.cleanJobs({ endedBefore: T0 + 1 }), 1);
      const [third] = await store.addJobs({ jobs: [spec()], now: T0 });
      assert.equal(seqOfId(third!.job.id), seqOfId(after!.job.id)! + 1);
      assert.equal(await store.getJob({ id: after!.job.id }), null);
      assert.equal((await store.getJob({ id: third!.job.id }))!.state, 'queued');
    });
  });

  it('adds a lone job in a queue it knows in one statement: the view is the stored job, above a removed newest job, around a held id', async () => {
    await withStore(async (store, file) => {
      const q = new Queue(store);
      const events: StoreEvent[] = [];
      store.subscribe((e) => events.push(e));
      const first = await q.enqueue({ task: 't', queue: 'q' }); // ensures the queue row: a transaction
      const now = Date.now();
      const lone = await q.enqueue({ task: 't', queue: 'q', payload: { a: 1 }, priority: 7, tags: ['x'], description: 'd' });
      const later = await q.enqueue({ task: 't', queue: 'q', runAt: now + 60_000 });
      assert.equal(seqOfId(lone.id), seqOfId(first.id)! + 1);
      assert.equal(seqOfId(later.id), seqOfId(lone.id)! + 1);
      // What the add answers is what was stored, to the id made in SQL from the seq.
      assert.deepEqual(await store.getJob({ id: lone.id }), lone);
      assert.deepEqual(await store.getJob({ id: later.id }), later);
      assert.equal(later.state, 'scheduled');
      assert.deepEqual(events.slice(1).map((e) => [e.type, e.jobId]), [['queued', lone.id], ['scheduled', later.id]]);

      // The newest job removed: its seq is not taken again.
      await store.removeJob({ id: later.id, now: Date.now() });
      const after = await q.enqueue({ task: 't', queue: 'q' });
      assert.equal(seqOfId(after.id), seqOfId(later.id)! + 1);
      assert.equal(await store.getJob({ id: later.id }), null);

      // A caller holds the id the next lone add would make: that add writes nothing and goes the
      // whole way, keeping the id Fusion first made, as given.
      const next: NewJob = resolveSpec({ task: 't', queue: 'q', payload: 'next' }, Date.now());
      const held = next.madeId!.slice(0, 24) + (seqOfId(after.id)! + 2).toString(16).padStart(12, '0');
      await q.enqueue({ id: held, task: 't', queue: 'q', payload: 'caller' });
      const [nextAdded] = await store.addJobs({ jobs: [next], now: Date.now() });
      assert.deepEqual([nextAdded!.created, nextAdded!.job.id], [true, next.madeId]);
      assert.equal(given(store.db, next.madeId!), 1);
      assert.equal((await store.getJob({ id: held }))!.payload, 'caller');
      assert.equal((await store.getJob({ id: next.madeId! }))!.payload, 'next');
      assert.equal(events.filter((e) => e.jobId === next.madeId).length, 1);
      assert.equal(new Database(file, { readonly: true }).prepare(`SELECT count(*) FROM jobs`).pluck().get(), 5);
    });
  });

  it('stores a lone add with every setting at its default, or any one not, as the add answers it and as a transaction writes it', async () => {
    await withStore(async (a, file) => {
      const b = new SqliteStore(file);
      try {
        const qa = new Queue(a);
        const row = (id: string) => {
          const r = a.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as Record<string, unknown>;
          // What differs from one add of the same spec to the next.
          for (const column of ['seq', 'id', 'run_at', 'created_at']) delete r[column];
          return r;
        };
        const specs = [
          {}, { priority: 2 }, { maxAttempts: 3 }, { backoff: { type: 'fixed' as const, delay: 5 } }, { timeout: 1000 },
          { maxStalls: 0 }, { delay: 60_000 }, { description: 'd' }, { tags: ['x'] }, { scheduleId: 's' },
          { callbacks: { onSuccess: 'http://x.test/' } },
        ].map((extra, i) => ({ task: 't', queue: 'q', payload: { i }, ...extra }));
        await qa.enqueueMany([{ task: 't', queue: 'q' }]); // the queue row: a transaction
        const check = async () => {
          for (const spec of specs) {
            const lone = await qa.enqueue(spec);
            assert.deepEqual(await a.getJob({ id: lone.id }), lone);
            // Two jobs: a transaction (insertJobs), whose rows are the reference.
            const [inTx] = await qa.enqueueMany([spec, spec]);
            assert.deepEqual(row(lone.id), row(inTx!.job.id), JSON.stringify(spec));
          }
        };
        // Each lone add at the seq this connection guesses (insertLoneAt and its plain form).
        await check();
        // Another connection takes the guessed seq: the miss goes the insertLoneMade way, and so do
        // the adds while guessing pauses.
        await new Queue(b).enqueue({ task: 't', queue: 'q' });
        await check();
      } finally {
        await b.close();
      }
    });
  });

  it('stores a plain lone add of any queue and task as a transaction writes it, with their texts written into its statement or bound', async () => {
    await withStore(async (store) => {
      const row = (id: string) => {
        const r = store.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as Record<string, unknown>;
        for (const column of ['seq', 'id', 'run_at', 'created_at']) delete r[column];
        return r;
      };
      // Texts a literal must escape or cannot hold (a quote, a NUL), others' letters, and more
      // pairs than a connection prepares statements for (32): every one stored as given.
      const tasks = ["it's", "''", 'nul\0inside', 'é ✓ 日本', "'; DROP TABLE jobs; --", ...Array.from({ length: 40 }, (_, i) => `t${i}`)];
      // A queue name the funnel refuses (a quote), as a store may still be handed one.
      const add = async (task: string, queue: string, payload: unknown, n: number) => {
        const jobs = Array.from({ length: n }, () => ({ ...resolveSpec({ task, queue: 'x', payload }, Date.now()), queue }));
        return (await store.addJobs({ jobs, now: Date.now() })).map((r) => r.job);
      };
      for (const queue of ['q', "o'q"]) {
        await add('first', queue, null, 2); // the queue row: a transaction
        for (const task of tasks) {
          for (let k = 0; k < 2; k++) {
            const [lone] = await add(task, queue, { k }, 1);
            assert.deepEqual(await store.getJob({ id: lone!.id }), lone, `${queue} ${task}`);
            assert.deepEqual([lone!.queue, lone!.task, lone!.payload], [queue, task, { k }]);
            const [inTx] = await add(task, queue, { k }, 2);
            assert.deepEqual(row(lone!.id), row(inTx!.id), `${queue} ${task}`);
          }
        }
      }
      assert.equal(store.db.prepare(`SELECT count(*) FROM jobs`).pluck().get(), 2 * (2 + tasks.length * 2 * 3));
    });
  });

  it('never puts a lone add in a gap an add left below newer rows (a given id already taken skips its seq)', async () => {
    await withStore(async (a, file) => {
      const b = new SqliteStore(file);
      const c = new SqliteStore(file, { watchMs: 2 });
      try {
        const qa = new Queue(a);
        const qb = new Queue(b);
        await qb.enqueue({ id: 'order-42', task: 't', queue: 'q' });
        const mine = [await qa.enqueue({ task: 't', queue: 'q' }), await qa.enqueue({ task: 't', queue: 'q' })];
        // A third connection's watcher reads new rows past the last seq it saw.
        const seen = new Set<string>();
        let target = '';
        const lateSeen = deferred();
        const stop = c.subscribe((e: StoreEvent) => {
          if (e.type !== 'queued' || !e.jobId) return;
          seen.add(e.jobId);
          if (e.jobId === target) lateSeen.resolve();
        });
        // The repeated id takes the seq a's next guess would be, and writes no row there.
        const theirs = await qb.enqueueMany([{ id: 'order-42', task: 't', queue: 'q' }, { task: 't', queue: 'q' }, { task: 't', queue: 'q' }]);
        const late = await qa.enqueue({ task: 't', queue: 'q' });
        const newest = Math.max(...theirs.filter((r) => r.created).map((r) => seqOfId(r.job.id)!));
        assert.ok(seqOfId(late.id)! > newest, `the late job's seq ${seqOfId(late.id)} is past ${newest}`);
        const claimed = await a.claimJobs({ queues: ['q'], limit: 10, workerId: 'w', leaseMs: 60_000, now: Date.now() });
        assert.equal(claimed.jobs.at(-1)!.id, late.id, 'the late job is claimed last');
        assert.deepEqual(claimed.jobs.slice(1, 3).map((j) => j.id), mine.map((j) => j.id));
        target = late.id;
        if (seen.has(late.id)) lateSeen.resolve();
        await within(lateSeen.promise, 5_000, 'the late job\'s queued event at the watching connection');
        stop();
      } finally {
        await c.close();
        await b.close();
      }
    });
  });

  it('checks the seq a lone add guesses: taken by another connection, removed above the floor, or its id held by a caller', async () => {
    await withStore(async (a, file) => {
      const b = new SqliteStore(file);
      try {
        const qa = new Queue(a);
        const qb = new Queue(b);
        const seqs = (rs: { id: string }[]) => rs.map((r) => seqOfId(r.id));
        await qa.enqueueMany([{ task: 't', queue: 'q' }]); // the queue row: a transaction
        await qb.enqueueMany([{ task: 't', queue: 'q' }]);
        const mine = [await qa.enqueue({ task: 't', queue: 'q' }), await qa.enqueue({ task: 't', queue: 'q' })];
        assert.deepEqual(seqs(mine), [3, 4]);
        // The other connection takes the seq this one would guess next (5): it goes on after it.
        const theirs = [await qb.enqueue({ task: 't', queue: 'q' }), await qb.enqueue({ task: 't', queue: 'q' })];
        assert.deepEqual(seqs(theirs), [5, 6]);
        const after = [];
        for (let i = 0; i < 70; i++) after.push(await qa.enqueue({ task: 't', queue: 'q', payload: i }));
        assert.deepEqual(seqs(after), Array.from({ length: 70 }, (_, i) => 7 + i));
        for (const [i, job] of after.entries()) assert.deepEqual(await a.getJob({ id: job.id }), { ...job, payload: i });

        // The other connection takes the seq guessed next (77) and removes it: the floor is above
        // the guess, the row free; the seq is not taken again.
        const gone = await qb.enqueue({ task: 't', queue: 'q' });
        assert.equal(seqOfId(gone.id), 77);
        await b.removeJob({ id: gone.id, now: Date.now() });
        const next = await qa.enqueue({ task: 't', queue: 'q' });
        assert.equal(seqOfId(next.id), 78);
        assert.equal(await a.getJob({ id: gone.id }), null);

        // A caller (on the other connection) holds the id this one would make at its guess, under
        // an earlier seq: the add keeps the id Fusion first made, as given; no second row has the held id.
        for (let i = 0; i < 64; i++) await qa.enqueue({ task: 't', queue: 'q' }); // past the pause after the miss above
        const x = a.db.prepare(`SELECT max(seq) FROM jobs`).pluck().get() as number;
        const job: NewJob = resolveSpec({ task: 't', queue: 'q', payload: 'mine' }, Date.now());
        const held = job.madeId!.slice(0, 24) + (x + 4).toString(16).padStart(12, '0');
        await qb.enqueue({ id: held, task: 't', queue: 'q', payload: 'caller' });
        assert.equal(a.db.prepare(`SELECT seq FROM jobs WHERE id = ?`).pluck().get(held), x + 1);
        // A transaction takes x + 2 and x + 3: the guess is then x + 4, free, above the floor.
        assert.deepEqual(seqs((await qa.enqueueMany([{ task: 't', queue: 'q' }, { task: 't', queue: 'q' }])).map((r) => r.job)), [x + 2, x + 3]);
        const [added] = await a.addJobs({ jobs: [job], now: Date.now() });
        assert.deepEqual([added!.created, added!.job.id], [true, job.madeId]);
        assert.equal(a.db.prepare(`SELECT count(*) FROM jobs WHERE id = ?`).pluck().get(held), 1);
        assert.equal((await a.getJob({ id: held }))!.payload, 'caller');
        assert.equal((await a.getJob({ id: job.madeId! }))!.payload, 'mine');
      } finally {
        await b.close();
      }
    });
  });

  it('keeps guessing after this connection removes its newest job: the guess starts from the floor, no miss and no pause', async () => {
    await withStore(async (a) => {
      const q = new Queue(a);
      // The connection's guess state: read, not changed (a miss pauses guessing for 64 adds).
      const guessing = () => (a as unknown as { conn: { guessPause: number } }).conn.guessPause === 0;
      await q.enqueueMany([{ task: 't', queue: 'q' }]); // the queue row: a transaction
      const newest = [await q.enqueue({ task: 't', queue: 'q' }), await q.enqueue({ task: 't', queue: 'q' })].at(-1)!;
      await a.removeJob({ id: newest.id, now: Date.now() });
      const next = await q.enqueue({ task: 't', queue: 'q' });
      assert.equal(seqOfId(next.id), seqOfId(newest.id)! + 1, 'the removed seq is not taken again');
      assert.ok(guessing(), 'the add after the remove did not miss a guess');
      // The same after a clean that removes the newest job.
      const cleaned = await q.enqueue({ task: 't', queue: 'q' });
      await a.cancelJob({ id: cleaned.id, now: Date.now() });
      assert.equal(await a.cleanJobs({ states: ['cancelled'], endedBefore: Date.now() + 1000 }), 1);
      const last = await q.enqueue({ task: 't', queue: 'q' });
      assert.equal(seqOfId(last.id), seqOfId(cleaned.id)! + 1);
      assert.ok(guessing(), 'the add after the clean did not miss a guess');
    });
  });

  it('stores every column of jobs in a transaction, alone or among alike ones, as the add answers them', async () => {
    await withStore(async (store) => {
      const q = new Queue(store);
      const rare = { task: 't', description: 'd', tags: ['a'], callbacks: { onSuccess: 'http://x.test/' }, scheduleId: 's1' };
      // Alone in a queue not seen yet (a transaction), then among alike jobs in one add.
      const [alone] = await q.enqueueMany([{ ...rare, queue: 'new' }]);
      const mixed = await q.enqueueMany([
        { task: 't', queue: 'q', payload: 1 }, { ...rare, queue: 'q', payload: 2 }, { task: 't', queue: 'q', payload: 3 },
        { task: 't', queue: 'q', payload: 4, priority: 3 },
      ]);
      for (const { job } of [alone!, ...mixed]) assert.deepEqual(await store.getJob({ id: job.id }), job);
      assert.deepEqual([alone!.job.description, alone!.job.tags, alone!.job.scheduleId], ['d', ['a'], 's1']);
      assert.deepEqual(mixed.map((r) => r.job.tags), [[], ['a'], [], []]);
      assert.deepEqual(mixed.map((r) => seqOfId(r.job.id)), [2, 3, 4, 5]);
    });
  });

  it('stores alike jobs in runs of every length (split over the alike INSERT sizes) in order, each id carrying its seq', async () => {
    await withStore(async (store) => {
      const q = new Queue(store);
      await q.enqueue({ task: 't', queue: 'q', payload: -1 });
      // 1-70 jobs: every way a run splits over the INSERT sizes (64, 32, ... 1), a group commit's 20-50 among them.
      let expectedSeq = 2;
      for (let n = 1; n <= 70; n++) {
        const added = await q.enqueueMany(Array.from({ length: n }, (_, i) => ({ task: 't', queue: 'q', payload: { n, i } })));
        assert.deepEqual(added.map((r) => seqOfId(r.job.id)), Array.from({ length: n }, (_, i) => expectedSeq + i));
        for (const { job } of added) assert.deepEqual(await store.getJob({ id: job.id }), job);
        expectedSeq += n;
      }
      const rows = store.db.prepare(`SELECT seq, id, payload FROM jobs ORDER BY seq`).all() as { seq: number; id: string; payload: string }[];
      assert.equal(rows.length, 1 + (70 * 71) / 2);
      assert.ok(rows.every((r) => seqOfId(r.id) === r.seq), 'each id carries its own seq');
      assert.deepEqual(JSON.parse(rows.at(-1)!.payload), { n: 70, i: 69 });
    });
  });

  it('gives lone adds from processes at once each its own seq, carried by its id', async () => {
    await withStore(async (store, file) => {
      await new Queue(store).enqueue({ task: 't', queue: 'q' });
      const queueModule = fileURLToPath(new URL('../../src/core/queue.js', import.meta.url));
      const storeModule = fileURLToPath(new URL('../../src/stores/sqlite/store.js', import.meta.url));
      const child = `
        const { Queue } = await import(${JSON.stringify(queueModule)});
        const { SqliteStore } = await import(${JSON.stringify(storeModule)});
        const store = new SqliteStore(${JSON.stringify(file)});
        const q = new Queue(store);
        await q.enqueue({ task: 't', queue: 'q' });
        const ids = [];
        for (let i = 0; i < 300; i++) ids.push((await q.enqueue({ task: 't', queue: 'q', payload: i })).id);
        await store.close();
        process.stdout.write(JSON.stringify(ids));`;
      const run = () => new Promise<string[]>((resolve, reject) => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d));
        p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child exited ${code}`))));
      });
      const answered = (await Promise.all([run(), run(), run()])).flat();
      const rows = store.db.prepare(`SELECT seq, id, id_given, payload FROM jobs`).all() as { seq: number; id: string; id_given: number | null; payload: string }[];
      assert.equal(rows.length, 1 + 3 + 900);
      assert.ok(rows.every((r) => seqOfId(r.id) === r.seq && r.id_given === null), 'each id carries its own seq');
      const stored = new Set(rows.map((r) => r.id));
      assert.ok(answered.every((id) => stored.has(id)), 'each answered id is the one stored');
      assert.equal(new Set(answered).size, 900);
    });
  });

  it('lists one queue across states newest first, merging queued jobs of every priority with the rest', async () => {
    await withStore(async (store) => {
      const q = new Queue(store);
      const priorities = [1, 5, 0, 5, 2, 1, 0, 9, 5, 1, 2, 0];
      const ids: string[] = [];
      for (const [i, priority] of priorities.entries()) {
        ids.push((await q.enqueue({ id: i % 3 ? undefined : `given-${i}`, task: i % 2 ? 'odd' : 'even', queue: 'q', priority, payload: i })).id);
      }
      await q.enqueue({ task: 'odd', queue: 'elsewhere' });
      const claimed = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 3, leaseMs: 60_000, now: Date.now() });
      const [done] = claimed.jobs;
      await store.finishJobs({ outcomes: [{ kind: 'completed', id: done!.id, token: done!.leaseToken!, at: Date.now(), result: null }] });
      await store.rescheduleJob({ id: ids[4]!, runAt: Date.now() + 60_000, now: Date.now() });
      const states = new Set((await Promise.all(ids.map((id) => store.getJob({ id })))).map((j) => j!.state));
      assert.deepEqual([...states].sort(), ['active', 'completed', 'queued', 'scheduled']);

      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ queue: 'q', limit: 5, cursor });
        pages.push(page.items.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(pages.flat(), [...ids].reverse());
      assert.deepEqual(pages.map((p) => p.length), [5, 5, 2]);
      const odd = (await store.listJobs({ queue: 'q', task: 'odd' })).items.map((j) => j.id);
      assert.deepEqual(odd, ids.filter((_, i) => i % 2).reverse());
    });
  });

  it('brings a version-2 file over with its jobs: ids found and unique, old rows read, cleaned and listed', async () => {
    const t = tempDir();
    const file = join(t.dir, 'v2.db');
    try {
      const old = new Database(file);
      assert.deepEqual(migrate(old, 2), [1, 2]);
      const insert = old.prepare(`INSERT INTO jobs (id, queue, task, payload, priority, state, max_attempts, backoff, timeout,
        max_stalls, run_at, created_at, ended_at, history) VALUES (?, 'q', 't', ?, 1, ?, 3, ?, 0, 1, ?, ?, ?, ?)`);
      const backoff = JSON.stringify({ type: 'fixed', delay: 5 });
      const uuid = '0190a1b2-c3d4-7e5f-8a6b-000000000002'; // a UUIDv7 of the core's, whose tail is not its seq
      insert.run(uuid, '"u"', 'queued', backoff, T0, T0, null, '[]');
      insert.run('done', '"d"', 'completed', backoff, T0, T0, T0 + 5,
        JSON.stringify([{ attempt: 1, workerId: 'w0', startedAt: T0, endedAt: T0 + 5, outcome: 'completed' }]));
      old.exec(`INSERT INTO queues (name) VALUES ('q')`);
      old.close();

      const store = new SqliteStore(file);
      try {
        assert.equal(store.schemaVersion(), LATEST_SQLITE_VERSION());
        assert.deepEqual(store.db.prepare(`SELECT id, id_given FROM jobs ORDER BY seq`).all(), [{ id: uuid, id_given: 1 }, { id: 'done', id_given: 1 }]);
        const u = (await store.getJob({ id: uuid }))!;
        assert.deepEqual([u.payload, u.backoff, u.history], ['u', { type: 'fixed', delay: 5 }, []]);
        assert.deepEqual((await store.getJob({ id: 'done' }))!.history.map((a) => a.outcome), ['completed']);
        const [dup] = await store.addJobs({ jobs: [resolveSpec({ id: uuid, task: 't', queue: 'q' }, T0)], now: T0 });
        assert.equal(dup!.created, false);
        const fresh = await new Queue(store).enqueue({ task: 't', queue: 'q' });
        assert.equal(seqOfId(fresh.id), 3);
        assert.deepEqual((await store.listJobs({ queue: 'q' })).items.map((j) => j.id), [fresh.id, 'done', uuid]);
        assert.equal(await store.cleanJobs({ endedBefore: T0 + 6 }), 1);
        assert.equal(await store.getJob({ id: 'done' }), null);
        // The job a version-2 build would have made keeps its id; its retry history starts from '[]'.
        const claimed = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 60_000, now: T0 + 10 });
        assert.equal(claimed.jobs[0]!.id, uuid);
        await store.finishJobs({ outcomes: [{ kind: 'retry', id: uuid, token: claimed.jobs[0]!.leaseToken!, at: T0 + 11, retryAt: T0 + 20, error: { message: 'x', retryable: true } }] });
        assert.deepEqual((await store.getJob({ id: uuid }))!.history.map((a) => [a.attempt, a.outcome]), [[1, 'retrying']]);
      } finally {
        await store.close();
      }
    } finally {
      t.remove();
    }
  });
});
