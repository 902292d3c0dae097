// Worker options from the library (fusion.worker, new Worker) are checked at construction, each
// refusal an invalid_request naming the option. Before, they went straight into claims and timers:
// a NaN or infinite leaseMs claimed jobs with no lease stored (null, or Infinity: a dead worker's job
// was never recovered), a lease of 0 or 2.5 ms was recovered while its job ran (the job failed past
// its stall limit), heartbeatMs 0 beat the store hundreds of times a second and NaN never beat at
// all (its timer spun at 1 ms), a heartbeat longer than the lease ran each job twice, pollMs 0
// claimed hundreds of times a second on an idle queue, a NaN batchSize never claimed a job, and
// queues given as one string ('sms') became one queue per letter.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FusionError } from '../../src/core/errors.js';
import { Worker, type WorkerOptions } from '../../src/core/worker.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { withFusion, waitForState } from '../helpers/engine.js';

const refusedFor = (field: string, label: string) => (err: unknown) => {
  assert.ok(err instanceof FusionError, `${label}: ${String(err)}`);
  assert.equal(err.code, 'invalid_request', label);
  assert.equal(err.details.field, field, label);
  assert.match(err.message, new RegExp(`^${field} `), label);
  return true;
};

const bad: [keyof WorkerOptions, unknown][] = [
  ...[Number.NaN, 0, -1, 1.5, Infinity, 1e9].map((v) => ['concurrency', v] as [keyof WorkerOptions, unknown]),
  ...[Number.NaN, 0, -5, 2.5, 999, Infinity, 1e300].map((v) => ['leaseMs', v] as [keyof WorkerOptions, unknown]),
  ...[Number.NaN, 0, -1, 1.5, Infinity, 20_000].map((v) => ['heartbeatMs', v] as [keyof WorkerOptions, unknown]),
  ...[Number.NaN, 0, -1, 2.5, Infinity, 1e300].map((v) => ['pollMs', v] as [keyof WorkerOptions, unknown]),
  ...[Number.NaN, 0, -1, 2.5, Infinity, 1e9].map((v) => ['batchSize', v] as [keyof WorkerOptions, unknown]),
  ...[Number.NaN, -1, 2.5, Infinity, 1e9].map((v) => ['prefetch', v] as [keyof WorkerOptions, unknown]),
  ...[Number.NaN, 0, -1, 1.5, Infinity, 1e9].map((v) => ['pipeline', v] as [keyof WorkerOptions, unknown]),
  ...['default', [], [''], [' default'], ['a b'], ['..'], [7], ['default', 'default']].map((v) => ['queues', v] as [keyof WorkerOptions, unknown]),
  ...[{ default: Number.NaN }, { default: -1 }, { default: Infinity }].map((v) => ['weights', v] as [keyof WorkerOptions, unknown]),
];

describe('worker options from the library', () => {
  it('a value that would break claims or timers is refused at construction, naming the option; no job is touched', async () => {
    await withFusion(async ({ fusion, store }) => {
      let runs = 0;
      fusion.task('t', async () => void runs++);
      const job = await fusion.enqueue('t', {});
      for (const [field, value] of bad) {
        const label = `${field}: ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`;
        const opts = { queues: ['default'], leaseMs: 30_000, [field]: value } as WorkerOptions;
        // heartbeatMs: 20_000 is refused against the 30 s lease (more than half of it).
        assert.throws(() => fusion.worker(opts), refusedFor(field, label), label);
        assert.throws(() => new Worker(store, new TaskRegistry(), opts), refusedFor(field, label), `new Worker, ${label}`);
      }
      // Nothing started a claim: the job waits, never leased.
      await new Promise((r) => setImmediate(r));
      const after = (await store.getJob({ id: job.id }))!;
      assert.equal(after.state, 'queued');
      assert.equal(after.attempts, 0);
      assert.equal(runs, 0);
    });
  });

  it('the bounds themselves are taken, and such a worker runs jobs', async () => {
    await withFusion(async ({ fusion, store }) => {
      fusion.task('t', async () => 'done', { queue: 'tenant:a' });
      const worker = fusion.worker({
        queues: ['tenant:a', 'other'], concurrency: 100_000, leaseMs: 1000, heartbeatMs: 500, pollMs: 10,
        batchSize: 1, prefetch: 0, pipeline: 1, weights: { 'tenant:a': 0, other: 2 },
      });
      const job = await fusion.enqueue('t', {});
      assert.equal((await waitForState(store, job.id, 'completed')).result, 'done');
      await worker.stop(100);
    });
  });
});
