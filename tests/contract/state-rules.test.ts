// The state-rule conformance run on every store (Redis Cluster's run is in tests/redis/cluster.test.ts).
import { describe } from 'node:test';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { stateRulesConformance } from './state-rules.js';
import { tempDir } from '../helpers/tmp.js';
import { redisHarness, redisSkip } from '../helpers/redis.js';
import { pgHarness, pgSkip } from '../helpers/postgres.js';

stateRulesConformance('sqlite', async () => {
  const t = tempDir();
  const store = new SqliteStore(join(t.dir, 'fusion.db'));
  return { store, async cleanup() { await store.close(); t.remove(); } };
});

const noRedis = await redisSkip();
if (noRedis) describe('State rules: redis', { skip: noRedis }, () => {});
else stateRulesConformance('redis', () => redisHarness());

const noPg = await pgSkip();
if (noPg) describe('State rules: postgres', { skip: noPg }, () => {});
else stateRulesConformance('postgres', () => pgHarness());
