// A process on a machine whose clock is off goes by the store's clock and says so: `fusion worker`
// on Redis with its wall clock five minutes ahead (libfaketime) logs a warning naming the difference
// when it starts, and `fusion store info` prints it. On a same-machine store (every other test) the
// offset is 0 and the worker is silent.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Proc } from '../helpers/chaos.js';
import { faketimeSkip, skewedClock, steppedClock } from '../helpers/faketime.js';
import { tempDir } from '../helpers/tmp.js';
import { CLI } from '../helpers/net.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';

const skip = (await redisSkip()) || faketimeSkip();

describe('a machine whose clock is off', { skip }, () => {
  const prefix = testPrefix();
  after(async () => {
    const admin = new Redis(REDIS_URL);
    await dropPrefix(admin, prefix);
    admin.disconnect();
  });

  it("fusion worker warns at start that it goes by the store's clock, by how much", async () => {
    const url = `${REDIS_URL}?prefix=${prefix}`;
    const worker = new Proc([CLI, 'worker', '--store', url, '--log-level', 'info'], { env: { ...skewedClock(300), FUSION_CONFIG: '' } });
    try {
      const line = JSON.parse(await worker.line('the store')) as { level: number; offsetMs: number; msg: string };
      assert.equal(line.level, 40, 'a warning');
      assert.match(line.msg, /this machine's clock is 300 s ahead of the store's: Fusion goes by the store's/);
      assert.ok(Math.abs(line.offsetMs + 300_000) < 1000, `offset ${line.offsetMs}`);
    } finally {
      await worker.term();
    }
  });

  it('a running worker whose clock is stepped ten minutes ahead warns of it, and goes on by the store\'s', async () => {
    const tmp = tempDir('fusion-clock-warning-');
    const stepped = steppedClock(tmp.dir);
    const worker = new Proc([CLI, 'worker', '--store', `${REDIS_URL}?prefix=${prefix}`, '--log-level', 'info'], { env: { ...stepped.env, FUSION_CONFIG: '' } });
    try {
      await worker.line('worker started');
      stepped.step(600);
      const line = JSON.parse(await worker.line('600 s ahead', 30_000)) as { level: number; offsetMs: number; msg: string };
      assert.equal(line.level, 40);
      assert.match(line.msg, /this machine's clock is 600 s ahead of the store's: Fusion goes by the store's/);
    } finally {
      await worker.term();
      tmp.remove();
    }
  });

  it('fusion store info prints how far the clocks are apart', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'store', 'info', '--store', `${REDIS_URL}?prefix=${prefix}`], { env: { ...process.env, ...skewedClock(-300) } });
    const ms = Number(/^clock: this machine's is (\d+) ms behind the server's; Fusion goes by the server's$/m.exec(stdout)?.[1]);
    assert.ok(Math.abs(ms - 300_000) < 1000, stdout);
  });
});
