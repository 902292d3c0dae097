import { describe } from 'node:test';
import { storeContract } from './suite.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';

const skip = await redisSkip();
if (skip) describe('Store contract: redis', { skip }, () => {});
else storeContract('redis (standalone)', () => redisHarness());
