// State all workers of a store share, across real processes: a provider demoted by failures seen in
// one worker process is skipped by another (same SQLite file; same Redis prefix; same PostgreSQL
// schema), and a provider's send rate holds across two worker processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fusion } from '../../src/fusion.js';
import type { FusionConfig } from '../../src/channels/config-types.js';
import type { RedisStore } from '../../src/stores/redis/store.js';
import { tempDir } from '../helpers/tmp.js';
import { childReady, until } from '../helpers/await.js';
import { REDIS_URL, dropPrefix, redisSkip, testPrefix } from '../helpers/redis.js';
import { dropSchema, pgSkip, schemaUrl, testSchema } from '../helpers/postgres.js';
import { NUM, ProviderServer, loopFactory } from './sms-fixtures.js';

const WORKER = fileURLToPath(new URL('./sms-worker.js', import.meta.url));
const skipRedis = await redisSkip();
const skipPg = await pgSkip();

interface Target {
  name: string;
  url: string;
  prefix: string;
  cleanup(f: Fusion): Promise<void>;
}

function sqliteTarget(): Target {
  const tmp = tempDir('fusion-sms-shared-');
  return { name: 'sqlite', url: `sqlite:${join(tmp.dir, 'f.db')}`, prefix: '-', cleanup: async () => tmp.remove() };
}

function redisTarget(): Target {
  const prefix = testPrefix();
  return { name: 'redis', url: REDIS_URL, prefix, cleanup: async (f) => void (await dropPrefix((f.store as RedisStore).client, prefix)) };
}

function postgresTarget(): Target {
  const schema = testSchema();
  return { name: 'postgres', url: schemaUrl(schema), prefix: '-', cleanup: () => dropSchema(schema) };
}

async function spawnWorker(t: Target, config: FusionConfig, concurrency: number, warns: unknown[] = []): Promise<ChildProcess> {
  const child = fork(WORKER, [t.url, t.prefix, JSON.stringify(config), String(concurrency)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await childReady(child, `sms worker ${child.pid}`);
  child.on('message', (m) => m !== 'ready' && warns.push(m));
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  await gone;
}

async function open(t: Target, config: FusionConfig): Promise<Fusion> {
  return Fusion.open({ store: t.url, storeOptions: t.prefix === '-' ? {} : { prefix: t.prefix }, config, providers: [loopFactory] });
}

const settledAll = (f: Fusion, ids: string[], what: string) =>
  until(async () => (await Promise.all(ids.map((id) => f.store.getJob({ id })))).every((j) => j && (j.state === 'completed' || j.state === 'failed')), 20_000, what);

async function demotionAcrossProcesses(t: Target): Promise<void> {
  const srv = await new ProviderServer().start();
  srv.answer('/a', 503, { error: 'down' });
  const config: FusionConfig = {
    outgoing: { allow: ['127.0.0.1/32'] },
    channels: { sms: { providers: { a: { type: 'loop', url: srv.url('/a') }, b: { type: 'loop', url: srv.url('/b') } }, routes: { default: ['a', 'b'] }, failover: { threshold: 3, windowMs: 60_000, cooldownMs: 60_000 } } },
  };
  const fusion = await open(t, config);
  const children: ChildProcess[] = [];
  try {
    const warns: Record<string, unknown>[] = [];
    const p1 = await spawnWorker(t, config, 2, warns);
    children.push(p1);
    // maxAttempts 1: each job is one attempt on a (first in the route), failing with a 503.
    const first = await Promise.all([1, 2, 3].map((i) => fusion.enqueue('sms', { to: NUM.in, text: `fail ${i}` }, { maxAttempts: 1 })));
    await settledAll(fusion, first.map((j) => j.id), 'three failures in process 1');
    assert.equal(srv.at('/a').length, 3);
    for (const j of first) assert.equal((await fusion.store.getJob({ id: j.id }))!.error!.details!.provider, 'a');
    await until(() => warns.some((w) => w.warn === 'provider demoted: skipped until its cooldown ends' && w.provider === 'a'), 5000, 'the demotion is logged');
    await stop(p1);
    assert.notEqual(await fusion.store.shared!.flagged('provider:demoted:sms:a', Date.now()), null);

    // A process that saw none of those failures skips a at once.
    const p2 = await spawnWorker(t, config, 2);
    children.push(p2);
    const second = await Promise.all([1, 2].map((i) => fusion.enqueue('sms', { to: NUM.in, text: `ok ${i}` }, { maxAttempts: 1 })));
    await settledAll(fusion, second.map((j) => j.id), 'two sends in process 2');
    for (const j of second) {
      const done = (await fusion.store.getJob({ id: j.id }))!;
      assert.equal(done.state, 'completed');
      assert.equal((done.result as { provider: string }).provider, 'b');
    }
    assert.equal(srv.at('/a').length, 3, 'process 2 sent nothing to the demoted provider');
    assert.notEqual(new Set([p1.pid, p2.pid]).size, 1);
  } finally {
    await Promise.all(children.map(stop));
    await t.cleanup(fusion);
    await fusion.close(200);
    await srv.close();
  }
}

async function rateAcrossProcesses(t: Target): Promise<void> {
  const srv = await new ProviderServer().start();
  const config: FusionConfig = {
    outgoing: { allow: ['127.0.0.1/32'] },
    channels: { sms: { providers: { r: { type: 'loop', url: srv.url('/r'), ratePerSecond: 10 } } } },
  };
  const fusion = await open(t, config);
  const children: ChildProcess[] = [];
  try {
    children.push(...(await Promise.all([spawnWorker(t, config, 6), spawnWorker(t, config, 6)])));
    const jobs = await fusion.queue.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ task: 'sms', payload: { to: NUM.in, text: `rate ${i}` } })));
    await settledAll(fusion, jobs.map((r) => r.job.id), '20 rate-limited sends');
    const done = await Promise.all(jobs.map((r) => fusion.store.getJob({ id: r.job.id })));
    assert.ok(done.every((j) => j!.state === 'completed'));
    const workers = new Set(done.map((j) => j!.history.at(-1)!.workerId));
    assert.ok(workers.size >= 2, `both processes sent (workers: ${[...workers].join(', ')})`);
    const at = srv.at('/r').map((r) => r.at).sort((a, b) => a - b);
    assert.equal(at.length, 20);
    const span = at.at(-1)! - at[0]!;
    // 20 sends at 10/s, evenly spaced: 1.9 s from first to last. Generous bounds for a noisy machine.
    assert.ok(span >= 1500, `20 sends at 10/s took ${span} ms`);
    // Count-based: no one-second window holds more than the rate (plus the edge and scheduling jitter).
    let worst = 0;
    for (let i = 0; i < at.length; i++) worst = Math.max(worst, at.filter((x) => x >= at[i]! && x < at[i]! + 1000).length);
    assert.ok(worst <= 14, `a one-second window held ${worst} sends`);
    console.log(`rate 10/s across 2 processes (${t.name}): 20 sends in ${span} ms, busiest second ${worst}`);
  } finally {
    await Promise.all(children.map(stop));
    await t.cleanup(fusion);
    await fusion.close(200);
    await srv.close();
  }
}

test('demotion is shared: failures in one worker process make another skip the provider (SQLite file)', () => demotionAcrossProcesses(sqliteTarget()));
test('demotion is shared: failures in one worker process make another skip the provider (Redis prefix)', { skip: skipRedis }, () => demotionAcrossProcesses(redisTarget()));
test('a provider send rate holds across two worker processes (SQLite file)', () => rateAcrossProcesses(sqliteTarget()));
test('a provider send rate holds across two worker processes (Redis prefix)', { skip: skipRedis }, () => rateAcrossProcesses(redisTarget()));
test('demotion is shared: failures in one worker process make another skip the provider (PostgreSQL schema)', { skip: skipPg }, () => demotionAcrossProcesses(postgresTarget()));
test('a provider send rate holds across two worker processes (PostgreSQL schema)', { skip: skipPg }, () => rateAcrossProcesses(postgresTarget()));
