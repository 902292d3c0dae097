// Redis store entry point: redis://, rediss://, redis+cluster:// and redis+sentinel:// URLs.
import type { Store } from '../../core/store.js';
import { FusionError } from '../../core/errors.js';
import { redactStoreUrl } from '../url.js';
import { parseRedisUrl } from './connect.js';
import { RedisStore, type RedisStoreOptions } from './store.js';

export { RedisStore, type RedisStoreOptions } from './store.js';
export { parseRedisUrl } from './connect.js';

export async function openRedisStore(url: string, opts: RedisStoreOptions = {}): Promise<Store> {
  const store = new RedisStore(parseRedisUrl(url), opts);
  try {
    await store.ping();
  } catch (err) {
    // Closed, or its client would keep reconnecting and hold the caller's process open for ever;
    // and said of which store, as ioredis's "Reached the max retries per request limit" does not.
    await store.close().catch(() => {});
    throw new FusionError('store_unavailable', `could not reach the Redis store at ${redactStoreUrl(url)}: ${(err as Error).message}`, {});
  }
  return store;
}
