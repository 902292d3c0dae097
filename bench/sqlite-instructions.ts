// The batch add's cost per job on SQLite, Fusion vs plainjob, counted in instructions: each system
// adds batches of 1,000 jobs (the engine bench's enqueue_batch, through the same subjects) in a
// node process under valgrind's callgrind, once with --batches and once with --batches + --more;
// the difference over the extra jobs is the cost per job, without start-up, module loading and the
// first compiles. Split into SQLite's statement execution (sqlite3_step), better-sqlite3's call
// around it (binding the values: Statement::JS_run less the step) and the rest (JS, GC). Counts
// repeat to within a few percent where timings on a shared VM swing by a third. Prints JSON.
//   npm run bench:sqlite-instructions -- [--batches 10] [--more 40] [--prefill 0] [--systems fusion,plainjob]
// --mode enqueue_single adds the jobs one at a time (each awaited, as the engine bench's
// enqueue_single row) instead of in batches: --batches and --more then count thousands of jobs.
// --mode processed_c1 counts the engine bench's processed_c1 row instead: each process adds the
// same jobs, then one worker at concurrency 1 runs --batches x 1000 of them in one process and
// --batches + --more x 1000 in the other, so the difference is what running one no-op job costs
// (claim, handler call, finish, events), not adding it. There `reads` are the statements that
// return rows (Statement::JS_get and JS_all), `writes` the others (Statement::JS_run: the UPDATEs,
// BEGIN and COMMIT, whose WAL writes are most of it), each with its sqlite3_step. Callgrind counts
// this process's own instructions only: the kernel's side of the WAL writes and locks (about as
// much again at c=1, `perf`) is not in these numbers.
//   npm run bench:sqlite-instructions -- --mode processed_c1 --batches 2 --more 4
// Needs valgrind and callgrind_annotate on PATH; node runs ~50 times slower under callgrind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fusionSubject, plainjobSubject } from './subjects.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const BATCH = 1000;
const MODES = ['enqueue_batch', 'enqueue_single', 'processed_c1'];

/**
 * The counted process: `jobs` jobs in batches, into a new file in `dir`; in processed_c1 mode
 * `fill` jobs added, then `jobs` of them run by one worker at concurrency 1.
 */
async function child(system: string, jobs: number, dir: string, mode: string, fill: number): Promise<void> {
  // systemClock timers are unref'd (a worker never holds a process open); the child must stay up.
  const keepAlive = setInterval(() => {}, 60_000);
  const s = system === 'plainjob' ? await plainjobSubject(join(dir, 'plainjob.db')) : await fusionSubject(`sqlite:${join(dir, 'fusion.db')}`);
  const added = mode === 'processed_c1' ? fill : jobs;
  if (mode === 'enqueue_single') for (let i = 0; i < added; i++) await s.enqueue('bench-q', { i });
  else for (let i = 0; i < added; i += BATCH) await s.enqueueBulk('bench-q', Array.from({ length: BATCH }, (_, k) => ({ i: i + k })));
  if (mode === 'processed_c1') {
    const w = await s.work('bench-q', 1);
    await w.completed(jobs);
  }
  clearInterval(keepAlive);
  process.exit(0);
}

/** Inclusive instructions of the functions named, and the program's total, in one callgrind run. */
function counted(system: string, jobs: number, mode: string, fill: number): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'fusion-sqlite-cg-'));
  try {
    const out = join(dir, 'cg.out');
    execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, fileURLToPath(import.meta.url),
      '--child', system, '--jobs', String(jobs), '--dir', dir, '--mode', mode, '--fill', String(fill)], { stdio: 'ignore' });
    const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const total = Number(/^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/m.exec(text)![1]!.replaceAll(',', ''));
    const of = (fn: string) => {
      const m = new RegExp(`^\\s*([\\d,]+)\\s+\\([^)]*\\)\\s+\\?\\?\\?:${fn}[ (]`, 'm').exec(text);
      return m ? Number(m[1]!.replaceAll(',', '')) : 0;
    };
    return { total, step: of('sqlite3_step'), run: of('Statement::JS_run'), read: of('Statement::JS_get') + of('Statement::JS_all') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const mode = opt('mode', 'enqueue_batch');
  if (!MODES.includes(mode)) throw new Error(`--mode is one of ${MODES.join(', ')}, not ${mode}`);
  if (args.includes('--child')) return child(opt('child', 'fusion'), Number(opt('jobs', '0')), opt('dir', tmpdir()), mode, Number(opt('fill', '0')));
  const before = (Number(opt('prefill', '0')) + Number(opt('batches', '10')) * BATCH);
  const extra = Number(opt('more', '40')) * BATCH;
  const fill = before + extra;
  const out: Record<string, Record<string, number>> = {};
  for (const system of opt('systems', 'fusion,plainjob').split(',')) {
    const a = counted(system, before, mode, fill);
    const b = counted(system, before + extra, mode, fill);
    const per = (k: string) => Math.round((b[k]! - a[k]!) / extra);
    out[system] = mode === 'processed_c1'
      ? { per_job: per('total'), sqlite_step: per('step'), reads: per('read'), writes: per('run'), js_and_rest: per('total') - per('read') - per('run') }
      : { per_job: per('total'), sqlite_step: per('step'), binding: per('run') - per('step'), js_and_rest: per('total') - per('run') };
  }
  console.log(JSON.stringify({ mode, jobs_before: before, jobs_counted: extra, instructions_per_job: out }, null, 2));
}

await main();
