// A worker process for the Redis crash test: consumes the `crash` queue with short leases and runs
// maintenance (stalled-lease recovery), until it is killed with SIGKILL.
//   node redis-crash-worker.js <redis url> <prefix>
import { Worker } from '../../src/core/worker.js';
import { Maintenance } from '../../src/core/maintenance.js';
import { TaskRegistry } from '../../src/core/registry.js';
import { openRedisStore } from '../../src/stores/redis/index.js';

const [url, prefix] = process.argv.slice(2) as [string, string];
const store = await openRedisStore(url, { prefix });
const reg = new TaskRegistry().register('work', async (p: { ms: number }) => {
  await new Promise((r) => setTimeout(r, p.ms));
  return { pid: process.pid };
});
new Worker(store, reg, { queues: ['crash'], concurrency: 10, leaseMs: 1000, heartbeatMs: 250 }).start();
new Maintenance(store, { intervalMs: 100 }).start();
process.send?.('ready');
