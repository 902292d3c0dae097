// A worker process for the PostgreSQL crash test: consumes the `crash` queue with short leases and
// runs maintenance (lease recovery), until it is killed with SIGKILL. Each execution is recorded
// in the schema's executions table before the handler returns.
//   node pg-crash-worker.js <store url> <schema>
import { Worker } from '../../src/core/worker.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';

const [url, schema] = process.argv.slice(2) as [string, string];
const store = await PostgresStore.open(url);
const reg = new TaskRegistry().register('work', async (p: { ms: number }, ctx) => {
  await store.pool.query(`INSERT INTO "${schema}".executions (job_id, pid) VALUES ($1, $2)`, [ctx.job.id, process.pid]);
  await new Promise((r) => setTimeout(r, p.ms));
  return { pid: process.pid };
});
new Worker(store, reg, { queues: ['crash'], concurrency: 10, leaseMs: 1000, heartbeatMs: 250 }).start();
new Maintenance(store, { intervalMs: 100 }).start();
await store.listening();
process.send?.('ready');
