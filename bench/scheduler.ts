// Scheduler precision: how late after its due time an occurrence's job is committed to the store.
// Lateness = (time the store reports the job added) - (occurrence time), real clock, SQLite file.
// Scenarios: idle (one schedule, one occurrence at a time), spread (1000 schedules, phases spread
// over each second), burst (1000 schedules due at the same second). Prints JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/stores/sqlite/store.js';
import { Scheduler, type ScheduleInput } from '../src/core/scheduler.js';

interface Stats { count: number; p50: number; p90: number; p99: number; max: number; mean: number }

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { count: s.length, p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s.at(-1) ?? NaN), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function scenario(name: string, make: (now: number) => ScheduleInput[], runMs: number): Promise<Stats> {
  const dir = mkdtempSync(join(tmpdir(), `fusion-bench-sched-${name}-`));
  const store = new SqliteStore(join(dir, 'fusion.db'));
  const committedAt = new Map<string, number>();
  store.subscribe((e) => {
    if (e.jobId && (e.type === 'queued' || e.type === 'scheduled')) committedAt.set(e.jobId, performance.timeOrigin + performance.now());
  });
  const admin = new Scheduler(store);
  const inputs = make(Date.now());
  for (const input of inputs) await admin.create(input);
  const s = new Scheduler(store).start();
  await new Promise((r) => setTimeout(r, runMs));
  await s.stop();
  const late: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listJobs({ limit: 1000, cursor });
    for (const j of page.items) {
      const at = committedAt.get(j.id);
      if (at !== undefined && j.scheduleId) late.push(at - j.runAt);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return stats(late);
}

const tpl = { task: 'bench', payload: { n: 1 } };
const runMs = Number(process.env.BENCH_MS ?? 5000);
const result = {
  bench: 'scheduler',
  unit: 'ms late (job committed - occurrence time)',
  runMs,
  node: process.version,
  idle: await scenario('idle', () => [{ id: 'idle', trigger: { every: '25ms' }, template: tpl }], runMs),
  spread: await scenario('spread', (now) => Array.from({ length: 1000 }, (_, i) => ({
    id: `spread-${i}`, trigger: { every: '1s' }, template: tpl, startAt: now + 500 + i,
  })), runMs),
  burst: await scenario('burst', () => Array.from({ length: 1000 }, (_, i) => ({
    id: `burst-${i}`, trigger: { cron: '* * * * * *' }, template: tpl,
  })), runMs),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
