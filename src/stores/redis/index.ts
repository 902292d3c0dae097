// Redis store entry point; the store itself arrives with the Redis issue.
import { FusionError } from '../../core/errors.js';
import type { Store } from '../../core/store.js';

export async function openRedisStore(url: string, _opts: { prefix?: string }): Promise<Store> {
  throw new FusionError('store_unavailable', `the Redis store is not built yet (${url})`, { url });
}
