// Chaos: a rolling upgrade under load. An earlier version of Fusion (built from this repository's
// history, see tests/helpers/version-build.ts) runs an API server and two worker processes that
// also fire schedules; clients POST /v1/jobs, some delayed past the upgrade. This version's API and
// two workers join on the same store, and both versions run each other's jobs. Then the earlier
// version leaves as a deploy would take it down: one worker crashes (kill -9), the other and the
// API stop gracefully. On Redis `fusion store upgrade` refuses while the earlier version's workers
// run, and marks the prefix lean once they are gone. Every job answered 2xx completes once, and
// every schedule occurrence fires once. A control on Redis shows what the order guards against.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Job } from '../../src/core/job.js';
import type { Store } from '../../src/core/store.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { until } from '../helpers/await.js';
import { CLI, freePort } from '../helpers/net.js';
import { Proc, STORES, allJobs, apiServer, executions, report, size, sleep, tally } from '../helpers/chaos.js';
import { UPGRADE_FROM, buildVersion, versionSkip, type BuiltVersion } from '../helpers/version-build.js';
import type { VersionWorkerOptions } from '../helpers/version-worker.js';

const skips = await Promise.all(STORES.map((f) => f.skip()));
const missing = await versionSkip(UPGRADE_FROM);
if (missing) console.error(`\n*** rolling upgrade test SKIPPED: ${missing} ***\n`);

const VERSION_WORKER = fileURLToPath(new URL('../helpers/version-worker.js', import.meta.url));
const THIS_VERSION: BuiltVersion = { commit: 'this checkout', cli: CLI, fusionModule: join(process.cwd(), 'dist/src/fusion.js') };
const EVERY = 200;
/** One job in this many is delayed, by DELAY_MS: those added late by the earlier version come due after it left. */
const DELAYED_ONE_IN = 8;
const DELAY_MS = 2500;

const post = (base: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The ids of the jobs one worker process executed (its exec-<pid>.log). */
function executedBy(dir: string, pid: number): string[] {
  const log = join(dir, `exec-${pid}.log`);
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * Clients adding jobs through the API servers in `bases` (round robin; the caller changes the list
 * as servers come and go). Every answer must be 2xx: a server leaves only once it is out of the
 * list and has answered what it was sent (`drained`).
 */
function httpLoad(bases: string[], clients: number) {
  const acked = new Map<string, { via: string; delayed: boolean }>();
  const failures: string[] = [];
  const inFlight = new Map<string, number>();
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (!stopped) {
      const k = n++;
      const id = `up-${k}`;
      const via = bases[k % bases.length]!;
      const delayed = k % DELAYED_ONE_IN === 0;
      inFlight.set(via, (inFlight.get(via) ?? 0) + 1);
      try {
        const r = await post(via, '/v1/jobs', { id, task: 'chaos', queue: 'chaos', payload: { k }, ...(delayed ? { delay: DELAY_MS } : {}) });
        if (r.status === 201) acked.set(id, { via, delayed });
        else failures.push(`${id} via ${via}: ${r.status} ${await r.text()}`);
      } catch (err) {
        failures.push(`${id} via ${via}: ${(err as Error).message}`);
      } finally {
        inFlight.set(via, inFlight.get(via)! - 1);
      }
      await sleep(5);
    }
  });
  return {
    acked,
    failures,
    /** Once no request to `base` is waiting for its answer (take it out of the list first). */
    drained: (base: string) => until(() => !inFlight.get(base), 30_000, `the requests to ${base} answered`, 5),
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const OLDER_WORKERS_LIVE = /live workers of a version before lean hashes/;

/** `fusion store upgrade` with this version's CLI: its exit code and output. */
async function storeUpgrade(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, 'store', 'upgrade', '--store', url]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code?: number; stdout?: string; stderr?: string };
    return { code: code ?? -1, stdout: stdout ?? '', stderr: stderr ?? '' };
  }
}

/** `fusion store upgrade` until it marks the prefix: refused while workers of the earlier version look live. */
async function upgradeRedisPrefix(url: string): Promise<{ refusals: number; output: string }> {
  let refusals = 0;
  for (const end = Date.now() + 30_000; ; refusals++) {
    const r = await storeUpgrade(url);
    if (r.code === 0) return { refusals, output: r.stdout };
    if (r.code !== 1 || !OLDER_WORKERS_LIVE.test(r.stderr) || Date.now() > end) throw new Error(`fusion store upgrade: exit ${r.code}: ${r.stderr}`);
    await sleep(200);
  }
}

describe('chaos: a rolling upgrade from an earlier version, under load', { skip: missing }, () => {
  let from: BuiltVersion;
  before(async () => {
    from = await buildVersion(UPGRADE_FROM);
  }, { timeout: 300_000 });

  STORES.forEach((factory, i) => {
    it(`${factory.name}: the earlier version's API and workers replaced by this version's, one crashing: every job and occurrence once`, { skip: skips[i] }, async () => {
      const t = await factory.create();
      const procs: Proc[] = [];
      let store: Store | null = null;
      const worker = (v: BuiltVersion) => {
        const o: VersionWorkerOptions = { fusionModule: v.fusionModule, url: t.url, logDir: t.dir, queue: 'chaos', concurrency: 4, leaseMs: 1500, workMs: [1, 10], scheduler: true };
        const p = new Proc([VERSION_WORKER, JSON.stringify(o)]);
        procs.push(p);
        return p;
      };
      const bases: string[] = [];
      let load: ReturnType<typeof httpLoad> | null = null;
      try {
        // The earlier version writes first: this one, finding a Redis prefix empty, would mark it
        // lean, which versions before lean hashes cannot read (docs/stores.md).
        const oldPort = await freePort();
        const oldBase = `http://127.0.0.1:${oldPort}`;
        const oldApi = await apiServer(t, oldPort, [], from.cli);
        procs.push(oldApi);
        const created = await post(oldBase, '/v1/schedules', { id: 'tick', trigger: { every: `${EVERY}ms` }, template: { task: 'chaos', queue: 'chaos' }, misfire: 'catch-up' });
        assert.equal(created.status, 201, await created.text());
        const oldWorkers = [worker(from), worker(from)];
        await Promise.all(oldWorkers.map((p) => p.line('READY')));
        bases.push(oldBase);
        const added = httpLoad(bases, 3);
        load = added;
        await Promise.all(oldWorkers.map((p) => p.line('RUNNING')));
        await sleep(size(1500, 20_000));

        // This version joins.
        const newPort = await freePort();
        const newBase = `http://127.0.0.1:${newPort}`;
        procs.push(await apiServer(t, newPort));
        const newWorkers = [worker(THIS_VERSION), worker(THIS_VERSION)];
        await Promise.all(newWorkers.map((p) => p.line('READY')));
        bases.push(newBase);
        // Both ways across versions: a job the new API took run by an old worker, and the reverse.
        const ranBy = (ps: Proc[]) => {
          const ids = new Set<string>();
          for (const p of ps) for (const id of executedBy(t.dir, p.pid)) ids.add(id);
          return ids;
        };
        const crossings = () => {
          let oldRanNew = 0;
          let newRanOld = 0;
          for (const id of ranBy(oldWorkers)) if (added.acked.get(id)?.via === newBase) oldRanNew++;
          for (const id of ranBy(newWorkers)) if (added.acked.get(id)?.via === oldBase) newRanOld++;
          return { oldRanNew, newRanOld };
        };
        await until(() => {
          const c = crossings();
          return c.oldRanNew > 0 && c.newRanOld > 0;
        }, 60_000, () => `jobs run across versions: ${JSON.stringify(crossings())}`, 50);
        await sleep(size(500, 20_000));
        if (t.store === 'redis') {
          const early = await storeUpgrade(t.url);
          assert.equal(early.code, 1, `refused while the earlier version's workers run: ${early.stdout}`);
          assert.match(early.stderr, OLDER_WORKERS_LIVE);
        }

        // The earlier version leaves: a worker crashes, the other and the API stop gracefully.
        const oldLeft = Date.now();
        await oldWorkers[0]!.kill9();
        assert.equal((await oldWorkers[1]!.term()).code, 0, 'the earlier version\'s worker stopped cleanly');
        bases.splice(bases.indexOf(oldBase), 1);
        await added.drained(oldBase);
        assert.equal((await oldApi.term()).code, 0, 'the earlier version\'s API stopped cleanly');
        let upgrade: { refusals: number; output: string } | null = null;
        if (t.store === 'redis') {
          upgrade = await upgradeRedisPrefix(t.url);
          assert.match(upgrade.output, /now lean/);
        }
        await sleep(size(1500, 20_000));
        await added.stop();

        store = await t.open();
        const admin = new Scheduler(store);
        await admin.remove('tick');
        const expected = new Set(added.acked.keys());
        await until(async () => {
          const jobs = await allJobs(store!, 'chaos');
          const states = new Map(jobs.map((j) => [j.id, j.state]));
          return [...expected].every((id) => states.get(id) === 'completed') && jobs.every((j) => j.state === 'completed');
        }, 60_000, async () => `every job completed: ${JSON.stringify(await store!.countJobs({ queue: 'chaos' }))}`, 200);

        const jobs = await allJobs(store, 'chaos');
        const execs = executions(t.dir);
        const counts = tally(jobs, new Set(expected), execs);
        const rerunWithoutStall = jobs.filter((j: Job) => (execs.get(j.id) ?? 0) - 1 > j.stalls).map((j) => `${j.id}: ${execs.get(j.id)} runs, ${j.stalls} stalls`);
        const runs = jobs.filter((j) => j.scheduleId === 'tick').map((j) => j.runAt).sort((a, b) => a - b);
        let gaps = 0;
        let doubles = 0;
        for (let k = 1; k < runs.length; k++) {
          const d = runs[k]! - runs[k - 1]!;
          if (d > EVERY) gaps++;
          if (d < EVERY) doubles++;
        }
        const oldRan = ranBy(oldWorkers);
        // Delayed jobs the earlier version's API took that came due once it had begun to leave.
        const dueAt = new Map(jobs.map((j) => [j.id, j.runAt]));
        const delayedAcross = [...added.acked].filter(([id, a]) => a.via === oldBase && a.delayed && !oldRan.has(id) && dueAt.get(id)! > oldLeft).length;
        const { oldRanNew, newRanOld } = crossings();
        report({
          test: 'rolling-upgrade', store: t.store, from: UPGRADE_FROM.slice(0, 12), jobs: jobs.length, acknowledged: expected.size,
          completed: jobs.filter((j) => j.state === 'completed').length, lost: counts.lost, duplicateExecutions: counts.duplicateExecutions,
          stalls: counts.stalls, oldRanNew, newRanOld, delayedAcross, occurrences: runs.length, gaps, duplicates: doubles,
          upgradeRefusals: upgrade?.refusals ?? null, oldLeftMs: Date.now() - oldLeft,
        });
        assert.deepEqual(added.failures, [], 'every add answered 201');
        assert.equal(counts.lost, 0, `nothing acknowledged lost: ${counts.problems.join(', ')}`);
        assert.equal(counts.doubleCompleted, 0, 'one completed outcome per job');
        assert.equal(counts.notRun, 0, 'every completed job ran');
        assert.deepEqual(rerunWithoutStall, [], 'a job ran again only after a lost lease');
        assert.ok(delayedAcross > 0, 'delayed jobs the earlier version\'s API took came due after it began to leave, and ran');
        assert.equal(gaps, 0, 'no occurrence skipped');
        assert.equal(doubles, 0, 'no occurrence fired twice');
        assert.ok(runs.length >= 10, `enough occurrences to prove anything (${runs.length})`);
        if (t.store === 'redis') assert.equal(await (store as unknown as { storedJobFormat(): Promise<unknown> }).storedJobFormat(), 'lean');
      } finally {
        await load?.stop();
        await Promise.all(procs.map((p) => p.kill9()));
        await store?.close();
        await t.cleanup();
      }
    });
  });

  // The control: what the format mark and the refusal above guard against. This version, first on an
  // empty prefix, marks it lean; a worker of the earlier version then pops those jobs from the ready
  // set and fails on their hashes, stranding them (docs/stores.md: never start an earlier version on
  // a lean prefix). The test above would count them lost.
  it('redis, the control: the earlier version started on a prefix this version made lean strands its jobs', { skip: skips[STORES.findIndex((f) => f.name === 'redis')] }, async () => {
    const target = await STORES.find((f) => f.name === 'redis')!.create();
    const procs: Proc[] = [];
    let store: Store | null = null;
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      procs.push(await apiServer(target, port));
      const ids = Array.from({ length: 20 }, (_, k) => `lean-${k}`);
      for (const id of ids) assert.equal((await post(base, '/v1/jobs', { id, task: 'chaos', queue: 'chaos', payload: {} })).status, 201);
      store = await target.open();
      assert.equal(await (store as unknown as { storedJobFormat(): Promise<unknown> }).storedJobFormat(), 'lean');
      const o: VersionWorkerOptions = { fusionModule: from.fusionModule, url: target.url, logDir: target.dir, queue: 'chaos', concurrency: 4, leaseMs: 1500, workMs: [1, 10], scheduler: false };
      const old = new Proc([VERSION_WORKER, JSON.stringify(o)], { stderr: 'ignore' });
      procs.push(old);
      await old.line('READY');
      // Its claims empty the ready set without running anything.
      await until(async () => (await store!.countJobs({ queue: 'chaos' })).chaos?.queued === 0, 30_000, 'the earlier version\'s claims took the jobs', 50);
      await sleep(1000);
      const jobs = (await allJobs(store, 'chaos')).filter((j) => ids.includes(j.id));
      const stranded = jobs.filter((j) => j.state === 'queued').length;
      report({ test: 'rolling-upgrade-control', store: target.store, from: UPGRADE_FROM.slice(0, 12), jobs: ids.length, stranded, ran: executedBy(target.dir, old.pid).length, counts: (await store.countJobs({ queue: 'chaos' })).chaos });
      assert.equal(executedBy(target.dir, old.pid).length, 0, 'the earlier version ran none of them');
      assert.equal(stranded, ids.length, 'every job left queued in its hash, in no ready set');
      assert.ok(old.alive, 'the earlier version\'s worker is still up, its claims failing');
    } finally {
      await Promise.all(procs.map((p) => p.kill9()));
      await store?.close();
      await target.cleanup();
    }
  });
});
