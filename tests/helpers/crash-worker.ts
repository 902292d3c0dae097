// A worker process for the crash test: serves the `crash` queue of one SQLite file and records
// every execution (job id, pid) through its own connection before the handler returns, so the
// parent can count executions that a kill -9 made happen twice.
// argv: DB_PATH LEASE_MS CONCURRENCY
import Database from 'better-sqlite3';
import { Fusion } from '../../src/fusion.js';

const [dbPath, leaseArg, concArg] = process.argv.slice(2);
if (!dbPath) throw new Error('usage: crash-worker DB_PATH LEASE_MS CONCURRENCY');
const leaseMs = Number(leaseArg ?? 1000);

const rec = new Database(dbPath);
rec.pragma('busy_timeout = 10000');
const insert = rec.prepare('INSERT INTO executions (job_id, pid, at) VALUES (?, ?, ?)');

const fusion = await Fusion.open({ store: `sqlite:${dbPath}` });
fusion.task(
  'crash',
  async (_payload: unknown, ctx) => {
    insert.run(ctx.job.id, process.pid, Date.now());
    // A few ms of "work" so a kill often lands while jobs are in flight.
    await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 25)));
    return { pid: process.pid };
  },
  { queue: 'crash' },
);
// Other processes' enqueues and recoveries reach this one only through the file: poll often.
fusion.worker({ queues: ['crash'], concurrency: Number(concArg ?? 8), leaseMs, pollMs: 25 });
const keepAlive = setInterval(() => {}, 60_000);

process.on('SIGTERM', () => {
  void fusion.close(5000).then(() => {
    clearInterval(keepAlive);
    rec.close();
    process.exit(0);
  });
});
process.send?.('ready');
