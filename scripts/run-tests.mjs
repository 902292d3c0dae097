// Runs every compiled test file (dist/tests/**/*.test.js) with node's test runner.
// Usage: node scripts/run-tests.mjs [filter...]   (a filter keeps files whose path contains it)
// The chaos suite's files (*.chaos.test.js, short form unless CHAOS=full) run in a second phase,
// after the rest: they start many processes, and their load must not skew other files' timings.
// Scale out, which compares throughputs, runs in a third phase on its own.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk('dist/tests').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Each phase's failures also go to a file of their own (failures-reporter.mjs), printed again at the end.
const failuresDir = mkdtempSync(join(tmpdir(), 'fusion-test-failures-'));
let phase = 0;
const run = (batch, timeoutMs, concurrency = 2) => {
  if (batch.length === 0) return 0;
  const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${new URL('./failures-reporter.mjs', import.meta.url).href}`, `--test-reporter-destination=${join(failuresDir, `${++phase}.jsonl`)}`];
  return spawnSync(process.execPath, ['--test', ...reporters, `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, ...batch], { stdio: 'inherit' }).status ?? 1;
};
const chaos = files.filter((f) => f.endsWith('.chaos.test.js'));
// Scale out compares throughput with 1 and 2 worker processes: beside another chaos file's processes
// on two cores its rows swung from 0.37x to 2.07x one process. It runs last, alone.
const alone = chaos.filter((f) => f.endsWith('scale.chaos.test.js'));
const first = run(files.filter((f) => !chaos.includes(f)), 300_000);
// A chaos file runs each test on three stores (and scale out on four), starting many processes:
// on a loaded 2-core machine one file has taken over five minutes.
const second = run(chaos.filter((f) => !alone.includes(f)), 900_000);
const third = run(alone, 900_000, 1);
const failures = readdirSync(failuresDir).sort().flatMap((f) => readFileSync(join(failuresDir, f), 'utf8').split('\n').filter(Boolean));
rmSync(failuresDir, { recursive: true, force: true });
if (failures.length) {
  console.log(`\nFailed tests, from every phase (${failures.length}):`);
  for (const line of failures) {
    let failure;
    try {
      failure = JSON.parse(line);
    } catch {
      console.log(`✖ ${line}`); // a line the reporter did not finish (its phase was cut short)
      continue;
    }
    const { name, file, line: at, error } = failure;
    console.log(`✖ ${name} (${file}:${at})\n  ${error.replace(/\n/g, '\n  ')}`);
  }
}
process.exit(first || second || third);
