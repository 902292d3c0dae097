// Graceful shutdown of a real `fusion worker` process on SIGTERM, and the second-signal exit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { resolveSpec } from '../../src/core/queue.js';
import { tempDir } from '../helpers/tmp.js';
import { until, within } from '../helpers/await.js';

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

  it('fusion start: a client that never finishes its request does not hold the shutdown past the grace', async () => {
    const t = tempDir();
    const db = join(t.dir, 'f.db');
    const child = spawn(process.execPath, [CLI, 'start', '--store', `sqlite:${db}`, '--port', '0', '--grace-ms', '1000', '--log-level', 'info'],
      { env: { ...process.env, FUSION_API_KEYS: '', FUSION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let client: Socket | undefined;
    try {
      let out = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.includes('"msg":"fusion listening"'));
          if (line) resolve(Number(new URL((JSON.parse(line) as { url: string }).url).port));
        });
        child.on('exit', () => reject(new Error(`exited early: ${out}`)));
      });
      // Headers and part of the body, then nothing more: the request is in flight when the signal comes.
      const socket = connect(port, '127.0.0.1');
      client = socket;
      await new Promise<void>((r) => socket.once('connect', r));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.on('error', () => {});
      // `Expect: 100-continue`: the server's "100 Continue" says it has taken the request, so it is in flight.
      const taken = new Promise<void>((r) => socket.once('data', (d) => (assert.match(String(d), /^HTTP\/1\.1 100 Continue/), r())));
      socket.write('POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
      await within(taken, 10_000, 'the server takes the request');
      socket.write('{"task":');
      child.kill('SIGTERM');
      assert.equal(await within(exit, 20_000, 'fusion start exits after SIGTERM with a request still in flight'), 0);
      await within(closed, 5_000, 'the stalled connection was closed');
    } finally {
      client?.destroy();
      child.kill('SIGKILL');
      t.remove();
    }
  });
  it('fusion start: while a stalled client holds the server close, workers stop claiming at SIGTERM', async () => {
    const t = tempDir();
    const db = join(t.dir, 'f.db');
    const store = new SqliteStore(db);
    const child = spawn(process.execPath, [CLI, 'start', '--store', `sqlite:${db}`, '--port', '0', '--grace-ms', '3000', '--log-level', 'info',
      '--tasks', TASKS, '--queues', 'default'], { env: { ...process.env, FUSION_API_KEYS: '', FUSION_CONFIG: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let client: Socket | undefined;
    let out = '';
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.includes('"msg":"fusion listening"'));
          if (line) resolve(Number(new URL((JSON.parse(line) as { url: string }).url).port));
        });
        child.on('exit', () => reject(new Error(`exited early: ${out}`)));
      });
      const socket = connect(port, '127.0.0.1');
      client = socket;
      await new Promise<void>((r) => socket.once('connect', r));
      socket.on('error', () => {});
      const taken = new Promise<void>((r) => socket.once('data', () => r()));
      socket.write('POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
      await within(taken, 10_000, 'the server takes the request');
      socket.write('{"task":');
      child.kill('SIGTERM');
      await until(() => out.includes('"msg":"shutting down"'), 10_000, 'the shutdown began');
      // Added after the signal: a process that is shutting down must not start it.
      const now = Date.now();
      await store.addJobs({ jobs: [resolveSpec({ id: 'late', task: 'quick' }, now)], now });
      assert.equal(await within(exit, 20_000, 'fusion start exits after SIGTERM'), 0);
      assert.ok(!out.includes('STARTED late'), 'a job added after SIGTERM was started by the stopping process');
      assert.equal((await store.getJob({ id: 'late' }))!.state, 'queued');
    } finally {
      client?.destroy();
      child.kill('SIGKILL');
      await store.close();
      t.remove();
    }
  });
});
