// Separate scheduler processes racing on one SQLite file with the real clock: each occurrence
// of each schedule becomes exactly one job, and the schedules' run counts agree with the jobs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Scheduler } from '../../src/core/scheduler.js';
import type { Job } from '../../src/core/job.js';
import { tempStore } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/race-child.js', import.meta.url));

function runChild(path: string, ms: number): Promise<{ enqueued: number; lost: number; passes: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD, path, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))));
  });
}

describe('scheduler processes racing on one SQLite file', () => {
  it('three processes fire each occurrence of five 20ms schedules exactly once', async () => {
    const env = tempStore();
    try {
      const admin = new Scheduler(env.store);
      const ids = ['p0', 'p1', 'p2', 'p3', 'p4'];
      for (const id of ids) await admin.create({ id, trigger: { every: '20ms' }, template: { task: 'noop' }, misfire: 'catch-up' });
      const reports = await Promise.all([0, 1, 2].map(() => runChild(env.path, 1500)));
      // Every job, paged: how many occurrences fire depends on how long the children take to start.
      const all: Job[] = [];
      for (let cursor: string | undefined; ; ) {
        const page = await env.store.listJobs({ limit: 500, cursor });
        all.push(...page.items);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      let total = 0;
      for (const id of ids) {
        const sched = (await admin.get(id))!;
        const jobs = all.filter((j) => j.scheduleId === id).map((j) => j.runAt).sort((a, b) => a - b);
        assert.ok(jobs.length >= 20, `${id} fired ${jobs.length} times`);
        assert.equal(sched.runCount, jobs.length, `${id}: run count = jobs`);
        for (let i = 1; i < jobs.length; i++) assert.equal(jobs[i]! - jobs[i - 1]!, 20, `${id}: consecutive occurrences, no gap, no duplicate`);
        total += jobs.length;
      }
      const enqueued = reports.reduce((n, r) => n + r.enqueued, 0);
      assert.equal(enqueued, total, 'every job was created by exactly one process');
      assert.ok(reports.filter((r) => r.enqueued > 0).length >= 2, `more than one process fired: ${JSON.stringify(reports)}`);
    } finally {
      await env.cleanup();
    }
  });
});
