import { describe } from 'node:test';
import { storeContract } from './suite.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';

const skip = await pgSkip();
if (skip) describe('Store contract: postgres', { skip }, () => {});
else storeContract('postgres', () => pgHarness());
