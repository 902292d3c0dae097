// The HTTP server's instructions per POST /v1/jobs, counted by valgrind's callgrind: bench/api-target.ts
// (Fusion on SQLite, or the bare route) runs under callgrind with node --single-threaded (no helper
// threads, so GC and compiles happen on the counted thread); autocannon sends --warmup requests, the
// counters are zeroed, then each segment of requests is followed by a dump (callgrind_control -d),
// waited for before the next segment, and each segment's total over its requests is one figure. Counts repeat to a few percent where timings
// on a shared VM swing; a segment with a mark-compact GC in it stands out (about +120k per request),
// hence several segments and their median. Under callgrind the server runs ~50 times slower, so
// requests of one group commit fall in different milliseconds (and mostly go alone to the store):
// the store's share differs from a native run's, the API's per-request work does not.
//   node dist/bench/api-instructions.js [--target fusion|bare] [--warmup 20000] [--segments 4000,4000,4000,4000] [--connections 50]
// Needs valgrind and callgrind_control on PATH. Prints JSON.
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_BODY as BODY, BENCH_KEY } from './api-key.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'fusion' },
    warmup: { type: 'string', default: '20000' },
    segments: { type: 'string', default: '4000,4000,4000,4000,4000,4000' },
    connections: { type: 'string', default: '50' },
  },
});

/** The instruction total of a callgrind dump, once the file holds its closing totals line (polled: no event tells). */
async function dumpTotal(file: string): Promise<number> {
  const until = Date.now() + 600_000;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const m = /^totals: (\d+)/m.exec(text);
    if (m) return Number(m[1]);
    if (Date.now() > until) throw new Error(`no callgrind dump at ${file} after 10 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fusion-api-instructions-'));
  const out = join(dir, 'callgrind.out');
  const target = join(import.meta.dirname, 'api-target.js');
  const child = spawn('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--collect-jumps=no',
    process.execPath, '--single-threaded', target, values.target!, `sqlite:${join(dir, 'bench.db')}`,
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      child.stdout!.on('data', (d) => {
        text += d;
        const m = /READY (\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (c) => reject(new Error(`target exited ${c}: ${err.slice(-2000)}`)));
    });
    const opts = {
      url: `http://127.0.0.1:${port}/v1/jobs`, method: 'POST' as const, body: BODY, connections: Number(values.connections), timeout: 600,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
    };
    const send = async (amount: number) => {
      const r = await autocannon({ ...opts, amount });
      if (r.non2xx || r.errors || r.timeouts) throw new Error(`requests failed: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
      return r.requests.total;
    };
    const control = (flag: string) => execFileSync('callgrind_control', [flag, String(child.pid)], { stdio: 'pipe', timeout: 600_000 });
    await send(Number(values.warmup));
    control('-z');
    const answered: number[] = [];
    const totals: number[] = [];
    const segments = values.segments!.split(',').map(Number);
    for (let i = 0; i < segments.length; i++) {
      answered.push(await send(segments[i]!));
      control('-d');
      // The next segment starts only once this one's dump is written whole: on a loaded machine
      // callgrind can take the dump request late, and requests sent meanwhile would count in the
      // wrong segment (a helper saw impossible segment figures that way).
      totals.push(await dumpTotal(join(dir, `callgrind.out.${i + 1}`)));
    }
    const perRequest = totals.map((t, i) => Math.round(t / answered[i]!));
    const sorted = [...perRequest].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    process.stdout.write(`${JSON.stringify({
      benchmark: 'instructions per POST /v1/jobs of the whole server process (callgrind)',
      target: values.target, warmup: Number(values.warmup), connections: Number(values.connections), requests: answered,
      perRequest, median: sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2), lowest: sorted[0],
    }, null, 2)}\n`);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`api-instructions: ${(e as Error).stack}\n`);
  process.exit(1);
});
