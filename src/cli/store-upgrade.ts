// `fusion store upgrade [--store URL] [--force]`: let a Redis prefix's adds write lean job hashes
// (only the fields not at their default), once no process older than this version uses the prefix.
// Earlier versions read every field without a default, so a prefix with their data keeps full hashes
// until this is run; a prefix this version found empty is lean from the start. Refused while live
// workers registered in the prefix are of an earlier version (their info lacks the lean reader
// mark), unless --force: processes that register no worker (producers, the API) it cannot see.
// Other stores have no job hash format: nothing to do.
import { isRedisUrl, redactStoreUrl } from '../stores/url.js';

export async function storeUpgrade(url: string, force: boolean): Promise<void> {
  if (!isRedisUrl(url)) {
    process.stdout.write(`store: ${redactStoreUrl(url)}\nnothing to upgrade: only the Redis store has a job hash format\n`);
    return;
  }
  const { RedisStore } = await import('../stores/redis/store.js');
  const { parseRedisUrl } = await import('../stores/redis/connect.js');
  const store = new RedisStore(parseRedisUrl(url));
  try {
    const { outcome, olderWorkers } = await store.upgradeJobFormat({ now: (await store.clock.start()).now(), force });
    const older = olderWorkers.length ? `live workers of a version before lean hashes: ${olderWorkers.join(', ')}\n` : '';
    const head = `store: ${redactStoreUrl(url)}\nprefix: ${store.prefix}\n`;
    if (outcome === 'refused') {
      process.stderr.write(`${head}${older}fusion: not upgraded: those workers cannot read lean job hashes. Stop or upgrade them ` +
        `(every process using the prefix must run this version or later), then run this again; --force marks it anyway\n`);
      process.exitCode = 1;
      return;
    }
    const state = outcome === 'already' ? 'already lean: nothing to do' : `now lean: new jobs store only the fields not at their default${olderWorkers.length ? ' (forced)' : ''}`;
    process.stdout.write(`${head}${older}job hash format: ${state}\n`);
  } finally {
    await store.close();
  }
}
