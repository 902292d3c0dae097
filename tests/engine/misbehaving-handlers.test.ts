// Handlers that misbehave: a value with no JSON form (a BigInt, a cycle), returned or thrown, ends
// its job with a clear error and the worker goes on; a handler deaf to its signal past its timeout
// keeps its slot until it returns; an error of megabytes is kept bounded in each attempt's record.
// Before, a result the store could not write failed the outcome batch again and again while
// heartbeats kept the leases (the worker stalled, stop() hung), and a thrown one made toJobError
// throw (an unhandled rejection: the process exited).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withFusion, waitForState } from '../helpers/engine.js';

const cycle = () => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};

describe('values a handler gives that have no JSON form', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['returns a BigInt inside its result', async () => ({ n: 10n }), /result cannot be stored: .*BigInt/],
    ['returns a cycle', async () => cycle(), /result cannot be stored: .*circular/i],
    ['throws a BigInt', async () => { throw 10n; }, /^10n$/],
    ['throws a cycle', async () => { throw cycle(); }, /^\[object Object\]$/],
    ['throws an Error whose details hold a BigInt', async () => { throw Object.assign(new Error('upstream said no'), { details: { n: 1n } }); }, /^upstream said no \(its details were left out: .*BigInt/],
  ];
  for (const [name, handler, message] of cases) {
    it(`${name}: the job fails with a clear error, the next job runs, the worker stops`, async () => {
      await withFusion(async ({ fusion, store }) => {
        fusion.task('odd', handler, { maxAttempts: 1 });
        fusion.task('ok', async () => 'fine');
        const worker = fusion.worker({ queues: ['default'], concurrency: 1 });
        const odd = await fusion.enqueue('odd', {});
        const next = await fusion.enqueue('ok', {}, { priority: 'low' });
        const failed = await waitForState(store, odd.id, ['failed', 'completed']);
        assert.equal(failed.state, 'failed');
        assert.match(failed.error!.message, message);
        assert.equal((await waitForState(store, next.id, 'completed')).result, 'fine');
        await worker.stop(1000);
      });
    });
  }
});

describe('a handler deaf to its signal after its timeout', () => {
  it('keeps its slot until it returns: at concurrency 1 one handler runs at a time, the retries after it', async () => {
    await withFusion(async ({ fusion, store }) => {
      let running = 0;
      let most = 0;
      let starts = 0;
      fusion.task('deaf', async () => {
        starts++;
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 400)); // ignores ctx.signal
        running--;
      }, { timeout: 50, maxAttempts: 3, backoff: { type: 'fixed', delay: 0 } });
      const worker = fusion.worker({ queues: ['default'], concurrency: 1 });
      const j = await fusion.enqueue('deaf', {});
      const failed = await waitForState(store, j.id, 'failed');
      assert.equal(failed.attempts, 3);
      assert.match(failed.error!.message, /timed out/);
      await worker.stop(2000);
      // Before: the three tries ran at once (each timed out in 50 ms, its handler on for 400).
      assert.deepEqual([starts, most], [3, 1]);
    });
  });
});

describe('worker options and stop', () => {
  it('concurrency must be a whole number (NaN made a worker that ran nothing)', async () => {
    await withFusion(async ({ fusion }) => {
      for (const concurrency of [Number.NaN, 1.5, Infinity]) assert.throws(() => fusion.worker({ queues: ['default'], concurrency }), /concurrency must be a whole number/);
    });
  });

  it('a second stop while the first runs waits for it: the worker goes down once', async () => {
    await withFusion(async ({ fusion }) => {
      let downs = 0;
      fusion.lifecycle.on('worker.down', () => void downs++);
      fusion.task('slow', async (_p, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('stopped'))));
      const worker = fusion.worker({ queues: ['default'] });
      const j = await fusion.enqueue('slow', {});
      await waitForState(fusion.store, j.id, 'active');
      await Promise.all([worker.stop(200), worker.stop(5000)]);
      assert.equal(downs, 1);
    });
  });
});

describe('a handler whose error is huge (a provider\'s whole HTML page in its message)', () => {
  for (const [name, thrown] of [
    ['an Error', () => new Error(`<html>${'x'.repeat(2_000_000)}</html>`)],
    ['a string', () => `<html>${'x'.repeat(2_000_000)}</html>`],
  ] as const) {
    it(`${name}: each attempt keeps a bounded part of it, so the job does not grow by megabytes per attempt`, async () => {
      await withFusion(async ({ fusion, store }) => {
        fusion.task('loud', async () => {
          throw thrown();
        }, { maxAttempts: 4, backoff: { type: 'fixed', delay: 0 } });
        const worker = fusion.worker({ queues: ['default'], concurrency: 1 });
        const j = await fusion.enqueue('loud', {});
        const failed = await waitForState(store, j.id, 'failed');
        await worker.stop(1000);
        assert.equal(failed.history.length, 4);
        // Before: 8 MB of history and 2 MB more in error (and its stack), 10 MB for one job.
        const size = JSON.stringify(failed).length;
        assert.ok(size < 100_000, `the stored job is ${size} characters`);
        // (Tested without assert.match: a failure would print megabytes.)
        const { message, stack } = failed.error!;
        assert.ok(/^<html>x{100}/.test(message), `the message begins as thrown: ${message.slice(0, 40)}`);
        assert.ok(/… \(\d+ more characters\)$/.test(message), `the message says what was left out: ...${message.slice(-40)}`);
        for (const h of failed.history) assert.ok(h.error!.length < 10_000, `an attempt's record keeps ${h.error!.length} characters`);
        if (stack !== undefined) assert.ok(/more characters\)\n\s+at /.test(stack), `the stack keeps its frames: ...${stack.slice(8150, 8300)}`);
      });
    });
  }
});

describe('a handler that logs or reports progress of megabytes', () => {
  it('its log line is kept cut and the job goes on; its progress is refused to the handler, the last good one kept', async () => {
    await withFusion(async ({ fusion, store }) => {
      let refused: unknown;
      fusion.task('chatty', async (_p, ctx) => {
        await ctx.log(`answer: ${'x'.repeat(3_000_000)}`);
        await ctx.progress({ pct: 50 });
        await ctx.progress({ pct: 60, dump: 'y'.repeat(17 * 1024 * 1024) }).catch((e: unknown) => (refused = e));
        return 'done';
      });
      const worker = fusion.worker({ queues: ['default'] });
      const j = await fusion.enqueue('chatty', {});
      const done = await waitForState(store, j.id, 'completed');
      await worker.stop(1000);
      assert.deepEqual(done.progress, { pct: 50 });
      assert.equal((refused as { code?: string })?.code, 'invalid_request');
      assert.equal((refused as { details?: { field?: string } })?.details?.field, 'progress');
      const [line] = await fusion.queue.logs(j.id);
      assert.ok(line!.message.length < 8300, `the line kept ${line!.message.length} characters`);
      assert.ok(/^answer: x{100}.*… \(\d+ more characters\)$/s.test(line!.message), `...${line!.message.slice(-40)}`);
    });
  });
});
