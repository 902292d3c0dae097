import { describe } from 'node:test';
import { storeContract } from './suite.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';

// The contract on a prefix an earlier version left (no format mark, data in it): adds write full job
// hashes, every field at its default too. redis.test.ts runs it on fresh prefixes, which are lean.
const skip = await redisSkip();
if (skip) describe('Store contract: redis (full job hashes)', { skip }, () => {});
else storeContract('redis (standalone, full job hashes)', () => redisHarness(undefined, {}, { unmarked: true }));
