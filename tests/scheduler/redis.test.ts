// The scheduler suite on Redis: racing schedulers are separate connections on one prefix.
import { describe } from 'node:test';
import { schedulerSuite } from './suite.js';
import { REDIS_URL, dropPrefix, openTestStore, redisSkip, testPrefix } from '../helpers/redis.js';
import type { RedisStore } from '../../src/stores/redis/store.js';

const skip = await redisSkip();
if (skip) describe('Scheduler: redis', { skip }, () => {});
else
  schedulerSuite('redis (standalone)', async () => {
    const prefix = testPrefix();
    const store = openTestStore(REDIS_URL, prefix);
    const others: RedisStore[] = [];
    return {
      store,
      connect: async () => {
        const s = openTestStore(REDIS_URL, prefix);
        others.push(s);
        return s;
      },
      async cleanup() {
        await dropPrefix(store.client, prefix);
        await Promise.all(others.map((s) => s.close()));
        await store.close();
      },
    };
  });
