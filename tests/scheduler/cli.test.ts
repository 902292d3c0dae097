// `fusion scheduler` runs only the scheduler; `fusion start` includes it. Real processes, real SQLite file.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Scheduler } from '../../src/core/scheduler.js';
import { tempStore } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/fusion.js', import.meta.url));

/** Resolves with the first JSON log line whose msg matches. */
function waitForLog(p: ChildProcess, msg: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: p.stdout! });
    rl.on('line', (line) => {
      try {
        const o = JSON.parse(line);
        if (o.msg === msg) resolve(o);
      } catch {
        // not a log line
      }
    });
    p.on('exit', (code) => reject(new Error(`fusion exited (${code}) before logging "${msg}"`)));
  });
}

describe('CLI', () => {
  it('fusion scheduler fires a due schedule and exits 0 on SIGTERM', async () => {
    const env = tempStore();
    try {
      const admin = new Scheduler(env.store);
      await admin.create({ id: 'cli', trigger: { at: Date.now() + 300 }, template: { task: 'noop' } });
      const p = spawn(process.execPath, [BIN, 'scheduler', '--store', `sqlite:${env.path}`, '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const fired = await waitForLog(p, 'schedule fired');
      assert.equal(fired.scheduleId, 'cli');
      const job = await env.store.getJob({ id: (fired.jobs as string[])[0]! });
      assert.equal(job!.scheduleId, 'cli');
      assert.equal(job!.state, 'queued', 'no worker runs in `fusion scheduler`');
      p.kill('SIGTERM');
      const [code] = await once(p, 'exit');
      assert.equal(code, 0);
    } finally {
      await env.cleanup();
    }
  });

  it('fusion start includes the scheduler', async () => {
    const env = tempStore();
    try {
      const p = spawn(process.execPath, [BIN, 'start', '--store', `sqlite:${env.path}`, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await waitForLog(p, 'scheduler running');
      p.kill('SIGTERM');
      const [code] = await once(p, 'exit');
      assert.equal(code, 0);
    } finally {
      await env.cleanup();
    }
  });
});
