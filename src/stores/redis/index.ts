// Redis store entry point: redis://, rediss://, redis+cluster:// and redis+sentinel:// URLs.
import type { Store } from '../../core/store.js';
import { parseRedisUrl } from './connect.js';
import { RedisStore, type RedisStoreOptions } from './store.js';

export { RedisStore, type RedisStoreOptions } from './store.js';
export { parseRedisUrl } from './connect.js';

export async function openRedisStore(url: string, opts: RedisStoreOptions = {}): Promise<Store> {
  const store = new RedisStore(parseRedisUrl(url), opts);
  await store.ping();
  return store;
}
