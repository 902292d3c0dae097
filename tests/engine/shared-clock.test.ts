// The shared clock (src/core/shared-clock.ts): the store server's time, read now and then and
// carried on by this machine's clock. The server here is a function; the stores' own reads (Redis
// TIME, PostgreSQL clock_timestamp()) run in tests/chaos/clock.chaos.test.ts against processes
// whose clocks are set apart.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { SharedClock } from '../../src/core/shared-clock.js';
import { Proc } from '../helpers/chaos.js';
import { faketimeSkip, steppedClock } from '../helpers/faketime.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/await.js';

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

  it("keeps the machine's time when the difference is within the read's own uncertainty", async () => {
    const clock = await new SharedClock(async () => Date.now() + 0.4).start();
    clock.stop();
    assert.equal(clock.offsetMs, 0);
    assert.equal(clock.synced, true);
  });

  it("starts on the machine's clock when the server does not answer, and takes the server's once it does", async () => {
    let up = false;
    const clock = new SharedClock(async () => {
      if (!up) throw new Error('connection refused');
      return Date.now() - MINUTES_5;
    }, { firstReadMs: 50 });
    try {
      await clock.start();
      assert.equal(clock.synced, false);
      assert.equal(clock.offsetMs, 0);
      assert.match(String(clock.lastError), /connection refused/);
      up = true;
      await until(() => clock.synced, 5000, 'a read once the server answers');
      assert.ok(Math.abs(clock.offsetMs + MINUTES_5) <= 5, `offset ${clock.offsetMs}`);
      assert.equal(clock.lastError, null);
    } finally {
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
  it('keeps the time steady when the wall clock is stepped ten minutes ahead and back, before any new read', { skip }, async () => {
    const tmp = tempDir('fusion-clock-');
    const stepped = steppedClock(tmp.dir);
    const child = new Proc([fileURLToPath(new URL('../helpers/clock-child.js', import.meta.url)), String(Date.now() - Number(process.hrtime.bigint() / 1000n) / 1000)], { env: stepped.env });
    const lines: [number, number][] = [];
    child.child.stdout!.on('data', (d: string) => {
      for (const l of d.split('\n')) if (l) lines.push(l.split(' ').map(Number) as [number, number]);
    });
    try {
      await child.line(' ');
      stepped.step(600);
      await until(() => lines.some(([wall]) => wall > 590_000), 10_000, 'the child sees its wall clock ten minutes ahead');
      stepped.step(0);
      await until(() => lines.length > 5 && lines.at(-1)![0] < 10_000 && lines.at(-5)![0] < 10_000, 10_000, 'the child sees its wall clock back');
    } finally {
      await child.term();
      tmp.remove();
    }
    // libfaketime steps the child's wall clock; the shared clock, reading the server once a minute, stays true.
    const worst = Math.max(...lines.map(([, shared]) => Math.abs(shared)));
    assert.ok(worst < 100, `the shared clock was at most ${worst} ms off true time across both steps (${lines.length} samples)`);
  });
});
