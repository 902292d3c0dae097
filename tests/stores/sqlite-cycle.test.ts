// The SQLite store's one-commit worker cycle (finishAndClaim) and the worker on both paths.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { resolveSpec, Queue } from '../../src/core/queue.js';
import { Worker } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import type { Store, StoreEvent } from '../../src/core/store.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 0, 1);

async function withStore(fn: (s: SqliteStore) => Promise<void>) {
  const t = tempDir();
  const s = new SqliteStore(join(t.dir, 'c.db'));
  try {
    await fn(s);
  } finally {
    await s.close();
    t.remove();
  }
}

describe('sqlite store: finishAndClaim', () => {
  it('applies outcomes by token, then claims by priority and FIFO, in one step', () =>
    withStore(async (s) => {
      const job = (id: string, priority: 'high' | 'low' | 'moderate' = 'moderate') =>
        resolveSpec({ task: 't', queue: 'q', id, priority }, T0);
      await s.add([job('a'), job('b')], T0);
      const first = await s.claim({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 1000, now: T0 });
      assert.deepEqual(first.jobs.map((j) => j.id), ['a', 'b']);
      await s.add([job('c', 'low'), job('d'), job('e', 'high')], T0 + 1);
      const events: StoreEvent[] = [];
      s.subscribe((e) => events.push(e));
      const [a, b] = first.jobs;
      const r = await s.finishAndClaim(
        [
          { kind: 'completed', id: a!.id, token: a!.leaseToken!, at: T0 + 2, result: 1 },
          { kind: 'completed', id: b!.id, token: 'stale', at: T0 + 2, result: 2 },
        ],
        { queues: ['q'], workerId: 'w', limit: 2, leaseMs: 1000, now: T0 + 2 },
      );
      assert.deepEqual(r.applied, [true, false]);
      assert.deepEqual(r.claim.jobs.map((j) => j.id), ['e', 'd']);
      assert.equal((await s.get('a'))!.state, 'completed');
      assert.equal((await s.get('b'))!.state, 'active', 'a stale token changes nothing');
      assert.equal((await s.get('c'))!.state, 'queued');
      assert.deepEqual(events.map((e) => `${e.type}:${e.jobId}`), ['completed:a', 'active:e', 'active:d']);
    }));
});

describe('worker cycle', () => {
  // Hiding finishAndClaim makes the same real store look like one without it (as the Redis store may be).
  const withoutCombined = (s: Store): Store =>
    new Proxy(s, {
      get(t, k) {
        if (k === 'finishAndClaim') return undefined;
        const v = Reflect.get(t, k);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });

  for (const [name, wrap] of [['with finishAndClaim', (s: Store) => s], ['with finish and claim apart', withoutCombined]] as const) {
    for (const concurrency of [1, 20]) {
      it(`${name}, concurrency ${concurrency}: runs every job once, never more than ${concurrency} at a time`, () =>
        withStore(async (sqlite) => {
          const store = wrap(sqlite);
          const N = 600;
          const registry = new TaskRegistry();
          let running = 0;
          let peak = 0;
          const runs = new Map<number, number>();
          registry.register('t', async (p: { i: number }) => {
            running++;
            peak = Math.max(peak, running);
            runs.set(p.i, (runs.get(p.i) ?? 0) + 1);
            if (p.i % 7 === 0) await new Promise((r) => setImmediate(r));
            running--;
          });
          const calls = { claim: 0, finish: 0, combined: 0 };
          const counted = new Proxy(store, {
            get(t, k) {
              const v = Reflect.get(t, k);
              if (typeof v !== 'function') return v;
              if (k === 'claim' || k === 'finish' || k === 'finishAndClaim') {
                return (...a: unknown[]) => {
                  calls[k === 'finishAndClaim' ? 'combined' : k]++;
                  return (v as (...a: unknown[]) => unknown).apply(t, a);
                };
              }
              return (v as (...a: unknown[]) => unknown).bind(t);
            },
          });
          await new Queue(store).enqueueMany(Array.from({ length: N }, (_, i) => ({ task: 't', queue: 'q', payload: { i } })));
          let done = 0;
          const all = new Promise<void>((r) => store.subscribe((e) => e.type === 'completed' && ++done === N && r()));
          const worker = new Worker(counted, registry, { queues: ['q'], concurrency }).start();
          await all;
          await worker.stop();
          assert.equal(runs.size, N);
          assert.ok([...runs.values()].every((n) => n === 1), 'a job ran twice');
          assert.ok(peak <= concurrency, `peak ${peak} above concurrency ${concurrency}`);
          assert.deepEqual((await sqlite.counts('q')).q, { scheduled: 0, queued: 0, active: 0, completed: N, failed: 0, cancelled: 0 });
          const cycles = calls.claim + calls.combined;
          // Batching: far fewer store calls than jobs once concurrency allows batches.
          if (concurrency > 1) assert.ok(cycles <= N / 5, `${cycles} claims for ${N} jobs`);
          if (name === 'with finishAndClaim') assert.ok(calls.combined > calls.claim, JSON.stringify(calls));
          else assert.equal(calls.combined, 0);
        }));
    }
  }
});
