import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { storeContract } from './suite.js';
import { tempDir } from '../helpers/tmp.js';

storeContract('sqlite (file, WAL)', async () => {
  const t = tempDir();
  const path = join(t.dir, 'fusion.db');
  const store = new SqliteStore(path);
  return {
    store,
    url: `sqlite:${path}`,
    async cleanup() {
      await store.close();
      t.remove();
    },
  };
});
