// A process that sweeps expired leases back to back (each sweep takes the sweep lock), until it is
// killed: the Redis sweep-lock test stops it while it holds the lock, then kills it.
//   node redis-sweeper.js <redis url> <prefix>
import { openRedisStore } from '../../src/stores/redis/index.js';

const [url, prefix] = process.argv.slice(2) as [string, string];
const store = await openRedisStore(url, { prefix });
process.send?.('ready');
for (;;) await store.recoverExpiredJobs({ now: Date.now() });
