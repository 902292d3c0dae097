// The batch add's cost per job on SQLite, Fusion vs plainjob, counted in instructions: each system
// adds batches of 1,000 jobs (the engine bench's enqueue_batch, through the same subjects) in a
// node process under valgrind's callgrind, once with --batches and once with --batches + --more;
// the difference over the extra jobs is the cost per job, without start-up, module loading and the
// first compiles. Split into SQLite's statement execution (sqlite3_step), better-sqlite3's call
// around it (binding the values: Statement::JS_run less the step) and the rest (JS, GC). Counts
// repeat to within a few percent where timings on a shared VM swing by a third. Prints JSON.
//   npm run bench:sqlite-instructions -- [--batches 10] [--more 40] [--prefill 0] [--systems fusion,plainjob]
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

/** The counted process: `jobs` jobs in batches, into a new file in `dir`. */
async function child(system: string, jobs: number, dir: string): Promise<void> {
  const s = system === 'plainjob' ? await plainjobSubject(join(dir, 'plainjob.db')) : await fusionSubject(`sqlite:${join(dir, 'fusion.db')}`);
  for (let i = 0; i < jobs; i += BATCH) await s.enqueueBulk('bench-q', Array.from({ length: BATCH }, (_, k) => ({ i: i + k })));
  process.exit(0);
}

/** Inclusive instructions of the functions named, and the program's total, in one callgrind run. */
function counted(system: string, jobs: number): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'fusion-sqlite-cg-'));
  try {
    const out = join(dir, 'cg.out');
    execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, fileURLToPath(import.meta.url),
      '--child', system, '--jobs', String(jobs), '--dir', dir], { stdio: 'ignore' });
    const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const total = Number(/^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/m.exec(text)![1]!.replaceAll(',', ''));
    const of = (fn: string) => {
      const m = new RegExp(`^\\s*([\\d,]+)\\s+\\([^)]*\\)\\s+\\?\\?\\?:${fn}[ (]`, 'm').exec(text);
      return m ? Number(m[1]!.replaceAll(',', '')) : 0;
    };
    return { total, step: of('sqlite3_step'), run: of('Statement::JS_run') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (args.includes('--child')) return child(opt('child', 'fusion'), Number(opt('jobs', '0')), opt('dir', tmpdir()));
  const before = (Number(opt('prefill', '0')) + Number(opt('batches', '10')) * BATCH);
  const extra = Number(opt('more', '40')) * BATCH;
  const out: Record<string, Record<string, number>> = {};
  for (const system of opt('systems', 'fusion,plainjob').split(',')) {
    const a = counted(system, before);
    const b = counted(system, before + extra);
    const per = (k: string) => Math.round((b[k]! - a[k]!) / extra);
    out[system] = { per_job: per('total'), sqlite_step: per('step'), binding: per('run') - per('step'), js_and_rest: per('total') - per('run') };
  }
  console.log(JSON.stringify({ jobs_before: before, jobs_counted: extra, instructions_per_job: out }, null, 2));
}

await main();
