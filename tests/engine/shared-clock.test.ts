// The shared clock (src/core/shared-clock.ts): the store server's time, read now and then and
// carried on by this machine's clock. The server here is a function; the stores' own reads (Redis
// TIME, PostgreSQL clock_timestamp()) run in tests/chaos/clock.chaos.test.ts against processes
// whose clocks are set apart.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SharedClock } from '../../src/core/shared-clock.js';
import { Fusion } from '../../src/fusion.js';
import { Proc } from '../helpers/chaos.js';
import { faketimeSkip, monotonicMs, steppedClock } from '../helpers/faketime.js';
import { tempDir } from '../helpers/tmp.js';
import { until, within } from '../helpers/await.js';

const MINUTES_5 = 300_000;

describe('SharedClock', () => {
  it("goes by the server's time where the machine's clock is off, and keeps reading it", async () => {
    let reads = 0;
    const clock = await new SharedClock(async () => (reads++, Date.now() + MINUTES_5), { syncMs: 20 }).start();
    try {
      assert.equal(clock.synced, true);
      assert.ok(Math.abs(clock.offsetMs - MINUTES_5) <= 5, `offset ${clock.offsetMs}`);
      const gap = clock.now() - Date.now();
      assert.ok(Math.abs(gap - MINUTES_5) <= 5, `now() ${gap} ms from the machine's clock`);
      const first = reads;
      await until(() => reads > first, 5000, 'a second read after syncMs');
    } finally {
      clock.stop();
    }
  });

  it("takes no difference the read cannot tell from its own round trip, and moves for none", async () => {
    // A server 5 ms ahead that takes 20 ms to answer and reads its clock half-way: the difference is
    // within the read's uncertainty (half the round trip and 1 ms, so at least 11 ms).
    const slowServer = (offset: number) => async () => {
      await new Promise((r) => setTimeout(r, 10));
      const time = Date.now() + offset;
      await new Promise((r) => setTimeout(r, 10));
      return time;
    };
    const near = await new SharedClock(slowServer(5)).start();
    near.stop();
    assert.equal(near.synced, true);
    assert.equal(near.offsetMs, 0, 'a difference the read cannot tell: no offset');

    let reads = 0;
    let server = async () => Date.now() + MINUTES_5;
    const apart = await new SharedClock(() => (reads++, server()), { syncMs: 10 }).start();
    const readsMore = async (n: number) => {
      const from = reads;
      await until(() => reads >= from + n, 5000, `${n} more reads`);
    };
    try {
      const first = apart.offsetMs;
      assert.ok(Math.abs(first - MINUTES_5) <= 2, `offset ${first}`);
      const changes: number[] = [];
      apart.watch((offset) => changes.push(offset));
      // 5 ms more than the offset taken: within the reads' uncertainty, so the offset stays.
      server = slowServer(MINUTES_5 + 5);
      await readsMore(9);
      assert.equal(apart.offsetMs, first, 'the offset stays where reads cannot tell it moved');
      assert.deepEqual(changes, []);
      // Now 5 ms from this machine's: within the uncertainty of none, so none.
      server = slowServer(5);
      await readsMore(9);
      assert.equal(apart.offsetMs, 0, 'a difference the read cannot tell from none is none');
      assert.deepEqual(changes, [0]);
    } finally {
      apart.stop();
    }
  });

  it('a read that moves the clock back moves pending timers back too: a heartbeat armed before it is not late', async () => {
    let up = false;
    const clock = new SharedClock(async () => {
      if (!up) throw new Error('connection refused');
      return Date.now() - MINUTES_5;
    }, { firstReadMs: 20 });
    const alive = setTimeout(() => {}, 10_000);
    try {
      await clock.start();
      assert.equal(clock.synced, false);
      const armedAt = performance.now();
      const fired = new Promise<number>((resolve) => clock.at(clock.now() + 1000, () => resolve(performance.now())));
      up = true;
      void clock.sync();
      await clock.ready();
      assert.ok(performance.now() - armedAt < 900, 'the read came before the timer was due');
      assert.ok(Math.abs(clock.offsetMs + MINUTES_5) <= 5, `offset ${clock.offsetMs}`);
      const waited = (await within(fired, 5000, 'the timer, 1 s after it was armed')) - armedAt;
      assert.ok(waited >= 950, `fired after ${waited.toFixed(0)} ms`);
    } finally {
      clearTimeout(alive);
      clock.stop();
    }
  });

  it('a server that never answers does not hold start() up past firstReadMs', async () => {
    const clock = new SharedClock(() => new Promise<number>(() => {}), { firstReadMs: 30 });
    const t0 = performance.now();
    await clock.start();
    clock.stop();
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(clock.synced, false);
  });

  it('a read the server never answers times out, and the clock says why', async () => {
    const clock = new SharedClock(() => new Promise<number>(() => {}), { firstReadMs: 10_000, readTimeoutMs: 50 });
    const t0 = performance.now();
    await clock.start();
    clock.stop();
    assert.ok(performance.now() - t0 < 2000, 'start() ended with the read, not at firstReadMs');
    assert.equal(clock.synced, false);
    assert.match(String(clock.lastError), /took over 50 ms/);
  });

  it('fires at() timers by the shared time', async () => {
    const clock = await new SharedClock(async () => Date.now() + MINUTES_5).start();
    try {
      const due = clock.now() + 30;
      // at() timers do not keep a process alive (like systemClock's): this one does, meanwhile.
      const alive = setTimeout(() => {}, 5000);
      const firedAt = await new Promise<number>((resolve) => clock.at(due, () => resolve(clock.now())));
      clearTimeout(alive);
      assert.ok(firedAt >= due, `fired at ${firedAt}, due ${due}`);
      assert.ok(firedAt - due < 1000);
    } finally {
      clock.stop();
    }
  });

  const skip = faketimeSkip();
  const CHILD = fileURLToPath(new URL('../helpers/clock-child.js', import.meta.url));

  /** Runs clock-child.js in `mode`, steps its wall clock ten minutes ahead (and back); its lines: [wall - true, shared - server]. */
  async function stepChild(mode: 'step' | 'during-read' | 'suspend', back = true): Promise<[number, number, number][]> {
    const tmp = tempDir('fusion-clock-');
    const stepped = steppedClock(tmp.dir);
    const trueMinusMonotonic = Date.now() - monotonicMs();
    const child = new Proc([CHILD, String(trueMinusMonotonic), mode], { env: stepped.env });
    const lines: [number, number, number][] = [];
    child.child.stdout!.on('data', (d: string) => {
      for (const l of d.split('\n')) if (l) lines.push(l.split(' ').map(Number) as [number, number, number]);
    });
    try {
      await child.line(' ');
      stepped.step(600);
      await until(() => lines.some(([wall]) => wall > 590_000), 10_000, 'the child sees its wall clock ten minutes ahead');
      await new Promise((r) => setTimeout(r, 1000));
      if (back) {
        stepped.step(0);
        await until(() => lines.length > 5 && lines.at(-1)![0] < 10_000 && lines.at(-5)![0] < 10_000, 10_000, 'the child sees its wall clock back');
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await child.term();
      tmp.remove();
    }
    return lines;
  }
  const worstError = (lines: [number, number, number][]) => Math.max(...lines.map(([, shared]) => Math.abs(shared)));
  /** A chain of 100 ms timers fires once per 100 ms, about one per two lines (every 50 ms): never twice as often. */
  const assertTimersKeptPace = (lines: [number, number, number][]) => {
    const fires = lines.at(-1)![2] - lines[0]![2];
    assert.ok(fires <= lines.length / 2 + 5, `${fires} timer fires over ${lines.length} lines of 50 ms`);
    assert.ok(fires >= lines.length / 4, `${fires} timer fires over ${lines.length} lines of 50 ms: the chain kept firing`);
  };

  it('keeps the time steady when the wall clock is stepped ten minutes ahead and back, before any new read', { skip }, async () => {
    const lines = await stepChild('step');
    assert.ok(worstError(lines) < 100, `the shared clock was at most ${worstError(lines)} ms off the server across both steps (${lines.length} samples)`);
    assertTimersKeptPace(lines);
  });

  it('keeps the time steady when a step lands in the middle of a read', { skip }, async () => {
    const lines = await stepChild('during-read');
    assert.ok(worstError(lines) < 100, `the shared clock was at most ${worstError(lines)} ms off the server across both steps (${lines.length} samples)`);
  });

  it('after a suspend (the boot clock moved as far as the wall clock) goes on with the wall clock, which was right', { skip }, async () => {
    // A suspend only ever moves the wall clock ahead of the monotonic one.
    const lines = await stepChild('suspend', false);
    assert.ok(worstError(lines) < 100, `the shared clock was at most ${worstError(lines)} ms off the server across the suspend (${lines.length} samples)`);
    assertTimersKeptPace(lines);
  });
});

describe('the engine on a shared clock that has not read the server yet', () => {
  it('claims nothing, recovers no lease and fires no schedule until the first read, then does all three', async () => {
    const tmp = tempDir('fusion-clock-gate-');
    let up = false;
    // The engine's parts take the clock as given: a SQLite store here, the clock a shared one whose server is down.
    const clock = new SharedClock(async () => {
      if (!up) throw new Error('connection refused');
      return Date.now();
    }, { firstReadMs: 10 });
    const fusion = await Fusion.open({ store: `sqlite:${join(tmp.dir, 'fusion.db')}`, clock, channels: false });
    const ran = new Set<string>();
    fusion.task('t', async (_p, ctx) => void ran.add(ctx.job.scheduleId ? 'occurrence' : ctx.job.id), { queue: 'q' });
    try {
      await clock.start();
      assert.equal(clock.synced, false);
      // A job whose lease ran out long ago, as a dead worker leaves it.
      await fusion.enqueue({ id: 'stalled', task: 't' });
      const { jobs } = await fusion.store.claimJobs({ queues: ['q'], workerId: 'gone', limit: 1, leaseMs: 1, now: Date.now() - 60_000 });
      assert.deepEqual(jobs.map((j) => j.id), ['stalled']);
      await fusion.schedule({ id: 's', trigger: { every: '100ms' }, template: { task: 't' } });
      fusion.startMaintenance({ intervalMs: 20 });
      fusion.startScheduler();
      const worker = fusion.worker({ queues: ['q'], concurrency: 2 });
      await fusion.enqueue({ id: 'fresh', task: 't' });
      // Nothing announces that nothing happened: a window several times the parts' intervals.
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual([...ran], [], 'no job ran');
      assert.equal((await fusion.store.getJob({ id: 'stalled' }))?.state, 'active', 'the expired lease was left alone');
      assert.equal((await fusion.store.getJob({ id: 'fresh' }))?.state, 'queued');
      assert.equal((await fusion.store.countJobs({ queue: 'q' })).q?.queued, 1, 'no occurrence fired');

      up = true;
      void clock.sync();
      await clock.ready();
      await until(() => ran.has('fresh') && ran.has('stalled') && ran.has('occurrence'), 5000, () => `ran: ${[...ran].join(', ')}`);
      await worker.stop();
    } finally {
      await fusion.close();
      clock.stop();
      tmp.remove();
    }
  });
});
