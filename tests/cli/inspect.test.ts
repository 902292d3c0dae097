// The terminal view against a running hub (--url/--key) and straight on a store (--store), and
// `fusion worker --burst`.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Fusion } from '../../src/fusion.js';
import { buildServer } from '../../src/api/server.js';
import { parseKeys } from '../../src/api/auth.js';
import { NonRetryableError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { CLI } from '../helpers/net.js';
import { until } from '../helpers/await.js';
import { KEYS, KEY_SPEC } from '../api/helpers.js';

function fusionCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, FUSION_URL: '', FUSION_API_KEY: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('fusion status | jobs | job | retry | cancel | promote | schedules', () => {
  let t: ReturnType<typeof tempDir>;
  let fusion: Fusion;
  let app: FastifyInstance;
  let url: string;
  let store: string;
  const ids: Record<string, string> = {};

  before(async () => {
    t = tempDir('fusion-cli-');
    store = `sqlite:${join(t.dir, 'hub.db')}`;
    fusion = await Fusion.open({ store });
    fusion.task('charge', async () => {
      throw new NonRetryableError('card declined');
    }, { queue: 'payments' });
    app = await buildServer({ fusion, processMetrics: false, apiKeys: parseKeys(KEY_SPEC) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    ids.failed = (await fusion.enqueue('charge', { amount: 5, token: 'tok_secret' })).id;
    const w = fusion.worker({ queues: ['payments'] });
    await until(async () => (await fusion.store.getJob({ id: ids.failed! }))?.state === 'failed', 10_000, 'the job to fail');
    await w.stop(1000);
    ids.later = (await fusion.enqueue({ task: 'sms', queue: 'sms', payload: { to: '+919876543210', text: 'later' }, delay: 3_600_000 })).id;
    ids.waiting = (await fusion.enqueue({ task: 'sms', queue: 'sms', payload: { to: '+919876543210', text: 'waiting' } })).id;
    await fusion.schedule({ id: 'standup', trigger: { cron: '0 9 * * 1-5', tz: 'Asia/Kolkata' }, template: { task: 'sms', payload: { to: '+919876543210', text: 'standup' } } });
  });
  after(async () => {
    await app.close();
    await fusion.close(200);
    t.remove();
  });

  const withUrl = (args: string[]) => [...args, '--url', url, '--key', KEYS.admin];

  test('status prints every queue with counts, flags an unserved queue, totals; --json gives the API data', async () => {
    const r = await fusionCli(withUrl(['status']));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.match(lines[0]!, /^QUEUE\s+QUEUED\s+ACTIVE\s+SCHEDULED\s+COMPLETED\s+FAILED\s+CANCELLED\s+OLDEST\s+FLAGS$/);
    assert.match(r.out, /^payments\s+0\s+0\s+0\s+0\s+1\s+0\s+-\s*$/m);
    assert.match(r.out, /^sms\s+1\s+0\s+1\s+0\s+0\s+0\s+\d+s\s+NO WORKER$/m);
    assert.match(r.out, /^TOTAL\s+1\s+0\s+1\s+0\s+1\s+0/m);
    const j = await fusionCli(withUrl(['status', '--json']));
    const doc = JSON.parse(j.out);
    assert.equal(doc.queues.find((q: { name: string }) => q.name === 'payments').counts.failed, 1);
    assert.deepEqual(doc.workers, []);
  });

  test('jobs --queue --state lists jobs; job ID shows one with secrets masked', async () => {
    const r = await fusionCli(withUrl(['jobs', '--queue', 'payments', '--state', 'failed']));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^${ids.failed}\\s+charge\\s+1\\s+1/10\\s+.*card declined`, 'm'));
    assert.match(r.out, /1 failed job shown/);
    const one = await fusionCli(withUrl(['job', ids.failed!]));
    assert.match(one.out, /FAILED/);
    assert.match(one.out, /error NonRetryableError: card declined \(not retryable\)/);
    assert.match(one.out, /"token":"\[redacted\]"/);
    assert.ok(!one.out.includes('tok_secret'));
    assert.equal(JSON.parse((await fusionCli(withUrl(['job', ids.failed!, '--json']))).out).state, 'failed');
  });

  test('retry, promote and cancel act and print the new state; errors exit 1 with the API message', async () => {
    assert.match((await fusionCli(withUrl(['promote', ids.later!]))).out, new RegExp(`${ids.later}: queued`));
    assert.match((await fusionCli(withUrl(['cancel', ids.waiting!]))).out, new RegExp(`${ids.waiting}: cancelled`));
    assert.match((await fusionCli(withUrl(['retry', ids.waiting!]))).out, new RegExp(`${ids.waiting}: queued`));
    const missing = await fusionCli(withUrl(['retry', 'no-such-job']));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /not found \(404 not_found\)/);
    const readOnly = await fusionCli(['cancel', ids.waiting!, '--url', url, '--key', KEYS.read]);
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.err, /403 forbidden/);
    // The key from the environment works the same.
    assert.equal((await fusionCli(['status', '--url', url], { FUSION_API_KEY: KEYS.read })).code, 0);
    assert.equal((await fusionCli(['status', '--url', url])).code, 1);
  });

  test('schedules, and the same commands straight on the store', async () => {
    const r = await fusionCli(withUrl(['schedules']));
    // The next 09:00 in Kolkata on a weekday is seconds to three days away, by the hour the suite runs.
    assert.match(r.out, /^standup\s+cron 0 9 \* \* 1-5 Asia\/Kolkata\s+sms\s+active\s+in [\d.]+[smhd]\s+-\s+0$/m);
    const direct = await fusionCli(['status', '--store', store]);
    assert.equal(direct.code, 0, direct.err);
    assert.match(direct.out, /^payments\s+0\s+0\s+0\s+0\s+1\s+0/m);
    const jobs = JSON.parse((await fusionCli(['jobs', '--store', store, '--queue', 'payments', '--state', 'failed', '--json'])).out);
    assert.deepEqual(jobs.items.map((j: { id: string }) => j.id), [ids.failed]);
  });
});

describe('fusion worker --burst', () => {
  test('runs until its queues are empty, then exits 0', async () => {
    const t = tempDir('fusion-burst-');
    const store = `sqlite:${join(t.dir, 'b.db')}`;
    try {
      const f = await Fusion.open({ store });
      for (let i = 0; i < 20; i++) await f.enqueue({ task: 'tick', queue: 'ticks', payload: i });
      await f.enqueue({ task: 'tick', queue: 'ticks', payload: 0, delay: 3_600_000 });
      await f.close();
      const tasks = join(process.cwd(), 'dist/tests/helpers/inspect-tasks.js');
      const r = await fusionCli(['worker', '--burst', '--store', store, '--queues', 'ticks', '--tasks', tasks]);
      assert.equal(r.code, 0, r.err + r.out);
      const g = await Fusion.open({ store });
      try {
        const c = (await g.store.countJobs()).ticks!;
        assert.equal(c.completed, 20);
        assert.equal(c.queued, 0);
        assert.equal(c.scheduled, 1, 'a job due later stays for a later run');
      } finally {
        await g.close();
      }
    } finally {
      t.remove();
    }
  });

  test('--name sets the worker id its attempts (and /v1/workers) show; %h is the host name', async () => {
    const t = tempDir('fusion-name-');
    const store = `sqlite:${join(t.dir, 'n.db')}`;
    try {
      const f = await Fusion.open({ store });
      const j = await f.enqueue({ task: 'tick', queue: 'ticks', payload: 1 });
      await f.close();
      const tasks = join(process.cwd(), 'dist/tests/helpers/inspect-tasks.js');
      const r = await fusionCli(['worker', '--burst', '--name', 'billing-%h', '--store', store, '--queues', 'ticks', '--tasks', tasks]);
      assert.equal(r.code, 0, r.err + r.out);
      const g = await Fusion.open({ store });
      try {
        const done = (await g.store.getJob({ id: j.id }))!;
        assert.equal(done.state, 'completed');
        assert.equal(done.history.at(-1)!.workerId, `billing-${hostname()}`);
      } finally {
        await g.close();
      }
      // With more than one lane each worker is <name>/<lane>.
      const f2 = await Fusion.open({ store });
      const j2 = await f2.enqueue({ task: 'tick', queue: 'ticks', payload: 2 });
      await f2.close();
      const lanes = await fusionCli(['worker', '--burst', '--name', 'billing-%h', '--store', store, '--queues', 'ticks=3,other+more', '--tasks', tasks]);
      assert.equal(lanes.code, 0, lanes.err + lanes.out);
      const running = JSON.parse(lanes.out.split('\n').find((l) => l.includes('"msg":"worker running"'))!) as { workerIds: string[]; lanes: unknown[] };
      assert.deepEqual(running.lanes, [{ queues: ['ticks'], concurrency: 3 }, { queues: ['other', 'more'], concurrency: 10 }]);
      assert.deepEqual(running.workerIds, [`billing-${hostname()}/ticks`, `billing-${hostname()}/other+more`]);
      const g2 = await Fusion.open({ store });
      try {
        assert.equal((await g2.store.getJob({ id: j2.id }))!.history.at(-1)!.workerId, `billing-${hostname()}/ticks`);
      } finally {
        await g2.close();
      }
      const bad = await fusionCli(['worker', '--burst', '--name', 'two words', '--store', store, '--queues', 'ticks']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.err + bad.out, /--name must be/);
    } finally {
      t.remove();
    }
  });
});
