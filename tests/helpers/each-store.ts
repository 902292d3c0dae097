// A fresh store of each kind (SQLite file, Redis prefix, PostgreSQL schema) for engine tests that
// run the same case on every store; the Redis and PostgreSQL entries carry the reason they skip.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Store } from '../../src/core/store.js';
import type { OpenStoreOptions } from '../../src/stores/index.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { REDIS_URL, dropPrefix, redisHarness, redisSkip } from './redis.js';
import { dropSchema, pgHarness, pgSkip } from './postgres.js';
import { tempDir } from './tmp.js';

export interface MadeStore {
  store: Store;
  /** Where the data is, for a second connection (openStore), as another process opens it. */
  url: string;
  opening?: OpenStoreOptions;
  /** Removes what the store left; the store itself is closed by its Fusion or the test. */
  cleanup(): Promise<void>;
}

/** [name, make a fresh store, why it is skipped or false], for SQLite, Redis and PostgreSQL. */
export type StoreKind = [string, () => Promise<MadeStore>, string | false];

export async function storeKinds(): Promise<StoreKind[]> {
  const [redisSkipped, pgSkipped] = await Promise.all([redisSkip(), pgSkip()]);
  return [
    ['sqlite', async () => {
      const t = tempDir();
      const path = join(t.dir, 'fusion.db');
      return { store: new SqliteStore(path), url: `sqlite:${path}`, cleanup: async () => t.remove() };
    }, false],
    ['redis', async () => {
      const { store, url, opening } = await redisHarness();
      return {
        store, url, opening,
        async cleanup() {
          const admin = new Redis(REDIS_URL);
          try {
            await dropPrefix(admin, opening.prefix);
          } finally {
            admin.disconnect();
          }
        },
      };
    }, redisSkipped],
    ['postgres', async () => {
      const { store, url, schema } = await pgHarness();
      return { store, url, cleanup: () => dropSchema(schema) };
    }, pgSkipped],
  ];
}
