// Store-level cycle timing without a worker: add N jobs, then claim in batches of B and finish
// each batch, timing claim and finish apart (split), or as a worker does, finishing each batch and
// claiming the next in one transaction (combined). For profiling the SQLite store's hot path.
// node dist/bench/store-cycle.js [N] [B] [split|combined]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../src/stores/sqlite/store.js';
import { resolveSpec } from '../src/core/queue.js';
import type { Outcome } from '../src/core/store.js';

const N = Number(process.argv[2] ?? 50_000);
const B = Number(process.argv[3] ?? 50);
const mode = process.argv[4] ?? 'split';
const dir = mkdtempSync(join(tmpdir(), 'fusion-cycle-'));
const store = new SqliteStore(join(dir, 'c.db'));
const now = Date.now();
for (let i = 0; i < N; i += 1000) {
  await store.addJobs({ jobs: Array.from({ length: Math.min(1000, N - i) }, (_, k) => resolveSpec({ task: 'noop', queue: 'q', payload: { i: i + k } }, now)), now });
}
const cpu0 = process.cpuUsage();
let claimMs = 0;
let finishMs = 0;
const req = () => ({ queues: ['q'], workerId: 'w', limit: B, leaseMs: 30_000, now: Date.now() });
if (mode === 'combined') {
  const t = performance.now();
  let { jobs } = await store.claimJobs(req());
  while (jobs.length > 0) {
    const outcomes: Outcome[] = jobs.map((j) => ({ kind: 'completed', id: j.id, token: j.leaseToken!, at: Date.now(), result: null }));
    jobs = (await store.finishAndClaimJobs({ outcomes, claim: req() })).claim.jobs;
  }
  finishMs = performance.now() - t;
}
for (; mode === 'split'; ) {
  let t = performance.now();
  const { jobs } = await store.claimJobs({ queues: ['q'], workerId: 'w', limit: B, leaseMs: 30_000, now: Date.now() });
  claimMs += performance.now() - t;
  if (jobs.length === 0) break;
  const outcomes: Outcome[] = jobs.map((j) => ({ kind: 'completed', id: j.id, token: j.leaseToken!, at: Date.now(), result: null }));
  t = performance.now();
  await store.finishJobs({ outcomes });
  finishMs += performance.now() - t;
}
const cpu = process.cpuUsage(cpu0);
// CPU time per job is steadier than wall time on a shared machine.
console.log(JSON.stringify({ N, B, mode, cpuUsPerJob: +((cpu.user + cpu.system) / N).toFixed(2), claimUsPerJob: +((claimMs * 1000) / N).toFixed(2), finishUsPerJob: +((finishMs * 1000) / N).toFixed(2), cyclesPerSec: Math.round(N / ((claimMs + finishMs) / 1000)) }));
await store.close();
rmSync(dir, { recursive: true, force: true });
