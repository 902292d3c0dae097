import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { schedulerSuite } from './suite.js';
import { tempDir } from '../helpers/tmp.js';

schedulerSuite('sqlite (file, WAL)', async () => {
  const t = tempDir('fusion-sched-');
  const path = join(t.dir, 'fusion.db');
  const store = new SqliteStore(path);
  return {
    store,
    connect: async () => new SqliteStore(path),
    async cleanup() {
      await store.close();
      t.remove();
    },
  };
});
