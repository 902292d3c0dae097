import { describe } from 'node:test';
import { storeContract } from './suite.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';

// The same scripts as EVALSHA, as on a Redis older than 7.0 (no functions). A file of its own, so
// each variant has the whole per-file time budget.
const skip = await redisSkip();
if (skip) describe('Store contract: redis (EVALSHA)', { skip }, () => {});
else storeContract('redis (standalone, EVALSHA)', () => redisHarness(undefined, { scripts: 'eval' }));
