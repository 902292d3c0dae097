// Graceful shutdown of a real `fusion worker` process on SIGTERM, and the second-signal exit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import { tempDir } from '../helpers/tmp.js';

import { CLI } from '../helpers/net.js';
const TASKS = join(process.cwd(), 'dist/tests/helpers/shutdown-tasks.js');

function startWorker(db: string, graceMs: number): { child: ChildProcess; started: (n: number) => Promise<void>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'worker', '--store', `sqlite:${db}`, '--tasks', TASKS, '--queues', 'default',
    '--concurrency', '4', '--grace-ms', String(graceMs), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const waiters: { n: number; resolve(): void }[] = [];
  child.stdout!.on('data', (d) => {
    out += d;
    const count = out.split('\n').filter((l) => l.startsWith('STARTED ')).length;
    for (const w of waiters.filter((x) => count >= x.n)) w.resolve();
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exit, started: (n) => new Promise((resolve) => waiters.push({ n, resolve })) };
}

describe('graceful shutdown', () => {
  it('SIGTERM lets running jobs finish within the grace period and gives back the rest', async () => {
    const t = tempDir();
    const db = join(t.dir, 'f.db');
    const store = new SqliteStore(db);
    try {
      const now = Date.now();
      await store.addJobs({ jobs: [resolveSpec({ id: 'q1', task: 'quick' }, now), resolveSpec({ id: 's1', task: 'stuck' }, now)], now });
      const w = startWorker(db, 1000);
      await w.started(2);
      w.child.kill('SIGTERM');
      assert.equal(await w.exit, 0);
      const quick = (await store.getJob({ id: 'q1' }))!;
      assert.equal(quick.state, 'completed');
      assert.equal(quick.result, 'finished in grace');
      const stuck = (await store.getJob({ id: 's1' }))!;
      assert.equal(stuck.state, 'queued', 'the unfinished job went back to the queue');
      assert.equal(stuck.attempts, 0, 'a given-back attempt does not count');
      assert.equal(stuck.history[0]!.outcome, 'released');
      assert.equal((await store.listWorkers({ now: Date.now() })).length, 0, 'the worker deregistered');
    } finally {
      await store.close();
      t.remove();
    }
  });

  it('a second signal exits at once; the lease still protects the job', async () => {
    const t = tempDir();
    const db = join(t.dir, 'f.db');
    const store = new SqliteStore(db);
    try {
      const now = Date.now();
      await store.addJobs({ jobs: [resolveSpec({ id: 's2', task: 'stuck' }, now)], now });
      const w = startWorker(db, 60_000);
      await w.started(1);
      w.child.kill('SIGTERM');
      w.child.kill('SIGINT');
      const code = await w.exit;
      assert.notEqual(code, 0);
      const job = (await store.getJob({ id: 's2' }))!;
      assert.equal(job.state, 'active');
      assert.ok(job.leaseUntil! > Date.now(), 'still leased: recovery will requeue it after the lease');
      const rec = await store.recoverExpiredJobs({ now: job.leaseUntil! + 1 });
      assert.deepEqual(rec.requeued, ['s2']);
    } finally {
      await store.close();
      t.remove();
    }
  });
});
