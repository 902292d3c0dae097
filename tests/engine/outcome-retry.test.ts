// A batch of outcomes the store refuses is tried again for as long as the jobs' leases last, and
// given up loudly (not silently) only once they have ended. The store is a real SQLite file whose
// outcome calls fail on purpose, as a store going away for a while would.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import type { Logger } from '../../src/core/logger.js';
import type { Store } from '../../src/core/store.js';
import { waitForState, withFusion, type FusionKit } from '../helpers/engine.js';
import { deferred, within } from '../helpers/await.js';
import { interceptStore } from '../helpers/store-proxy.js';

/** The real store, with the calls named in `failing` throwing while `fail(name)` says so (as a full store: `full`). */
function flaky(store: Store, fail: (method: string) => boolean, full = false): Store {
  return interceptStore(store, (name, call) => (...args: unknown[]) => {
    if (fail(name)) {
      return Promise.reject(full ? Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }) : new Error(`store unavailable (${name})`));
    }
    return call(...args);
  });
}

interface Line { level: string; obj: Record<string, unknown>; msg?: string }

/** A logger keeping its lines, that can be awaited for one matching a predicate. */
function recordingLogger(): Logger & { lines: Line[]; next(pred: (l: Line) => boolean): Promise<Line> } {
  const lines: Line[] = [];
  const waiters: { pred: (l: Line) => boolean; resolve(l: Line): void }[] = [];
  const write = (level: string) => (obj: object, msg?: string) => {
    const line = { level, obj: obj as Record<string, unknown>, msg };
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (w.pred(line)) w.resolve(line);
      else waiters.push(w);
    }
  };
  return {
    lines,
    debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'),
    next(pred) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      const d = deferred<Line>();
      waiters.push({ pred, resolve: d.resolve });
      return d.promise;
    },
  };
}

/** withFusion over a store whose calls named by `fail` throw while it says so, logging to a recorder. */
async function withFlakyFusion(
  fail: (method: string) => boolean, clock: Clock | undefined, body: (kit: FusionKit & { logger: ReturnType<typeof recordingLogger> }) => Promise<void>, full = false,
): Promise<void> {
  const logger = recordingLogger();
  await withFusion({ clock, logger, wrapStore: (s) => flaky(s, fail, full) }, (kit) => body({ ...kit, logger }));
}

const isOutcomeCall = (k: string) => k === 'finishJobs' || k === 'capabilities.finishAndClaim';

describe('Worker: storing outcomes', () => {
  it('keeps trying a refused batch while its leases last: the outcomes land and the jobs complete', async () => {
    // More refusals than the 100 or so tries the worker once gave a batch before dropping it.
    const N = 150;
    let refused = 0;
    await withFlakyFusion((k) => isOutcomeCall(k) && refused++ < N, undefined, async ({ fusion, store, logger }) => {
      fusion.task('t', (n: number) => n * 2);
      const jobs = await fusion.queue.enqueueMany([1, 2, 3].map((n) => ({ task: 't', payload: n })));
      fusion.worker({ queues: ['default'], concurrency: 3, outcomeRetry: { firstMs: 1, maxMs: 2 } });
      for (const { job } of jobs) {
        const done = await waitForState(store, job.id, 'completed', 20_000);
        assert.equal(done.result, (job.payload as number) * 2);
      }
      assert.ok(refused > N, `the store refused ${refused} outcome calls`);
      assert.ok(logger.lines.some((l) => l.level === 'warn' && l.msg?.startsWith('could not store outcomes')));
      assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
    });
  });

  it('gives a batch up only once its leases have ended, and says so at error level with the job ids', async () => {
    const clock = new ManualClock();
    // The store is down for outcomes and heartbeats alike, so nothing extends the lease.
    await withFlakyFusion((k) => isOutcomeCall(k) || k === 'heartbeatJobs', clock, async ({ fusion, store, logger }) => {
      fusion.task('t', () => 'ok');
      const job = await fusion.enqueue('t', null, { id: 'stuck' });
      const leaseMs = 30_000;
      fusion.worker({ queues: ['default'], leaseMs, outcomeRetry: { firstMs: 1, maxMs: 2 } });
      const refused = (l: Line) => l.level === 'warn' && l.msg?.startsWith('could not store outcomes') === true;
      await within(logger.next(refused), 10_000, 'a refused outcome batch');
      // Retries go on while the lease holds: many tries, still no give-up.
      await within(logger.next((l) => refused(l) && (l.obj.tries as number) >= 20), 10_000, '20 tries');
      assert.equal(logger.lines.filter((l) => l.level === 'error').length, 0);
      clock.advance(leaseMs + 1);
      // (The failing heartbeat logs at error level too: look for the give-up line itself.)
      const gaveUp = await within(logger.next((l) => l.msg?.startsWith('gave up storing outcomes') === true), 10_000, 'the give-up line');
      assert.equal(gaveUp.level, 'error');
      assert.deepEqual(gaveUp.obj.jobIds, [job.id]);
      assert.equal(gaveUp.obj.outcomes, 1);
      // Not stored: the job waits, still active, for stall recovery to take it back.
      assert.equal((await store.getJob({ id: job.id }))!.state, 'active');
    });
  });

  it('a full store refuses lease recovery too: its outcomes are tried past the leases\' end, land once it has room', async () => {
    const clock = new ManualClock();
    let full = true;
    await withFlakyFusion((k) => full && (isOutcomeCall(k) || k === 'heartbeatJobs'), clock, async ({ fusion, store, logger }) => {
      fusion.task('t', () => 'ok');
      const job = await fusion.enqueue('t', null, { id: 'held' });
      const leaseMs = 30_000;
      fusion.worker({ queues: ['default'], leaseMs, outcomeRetry: { firstMs: 1, maxMs: 2 } });
      const refused = (l: Line) => l.level === 'warn' && l.msg?.startsWith('could not store outcomes') === true;
      await within(logger.next(refused), 10_000, 'a refused outcome batch');
      clock.advance(leaseMs + 30_000);
      // Past the lease, still tried: the next tries come and no give-up.
      const seen = logger.lines.filter(refused).length;
      await within(logger.next((l) => refused(l) && logger.lines.filter(refused).length > seen), 10_000, 'a try past the lease');
      assert.equal(logger.lines.filter((l) => l.msg?.startsWith('gave up storing outcomes')).length, 0);
      full = false;
      const done = await waitForState(store, job.id, 'completed', 10_000);
      assert.equal(done.result, 'ok');
    }, true);
  });

  it('a full store\'s outcomes are given up a minute past the leases\' end', async () => {
    const clock = new ManualClock();
    await withFlakyFusion((k) => isOutcomeCall(k) || k === 'heartbeatJobs', clock, async ({ fusion, store, logger }) => {
      fusion.task('t', () => 'ok');
      const job = await fusion.enqueue('t', null, { id: 'held-too-long' });
      const leaseMs = 30_000;
      fusion.worker({ queues: ['default'], leaseMs, outcomeRetry: { firstMs: 1, maxMs: 2 } });
      await within(logger.next((l) => l.msg?.startsWith('could not store outcomes') === true), 10_000, 'a refused outcome batch');
      clock.advance(leaseMs + 60_001);
      const gaveUp = await within(logger.next((l) => l.msg?.startsWith('gave up storing outcomes') === true), 10_000, 'the give-up line');
      assert.deepEqual(gaveUp.obj.jobIds, [job.id]);
      assert.equal((await store.getJob({ id: job.id }))!.state, 'active');
    }, true);
  });
});
