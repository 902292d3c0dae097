import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { storeContract } from './suite.js';
import { tempDir } from '../helpers/tmp.js';

storeContract('sqlite (file, WAL)', async () => {
  const t = tempDir();
  const store = new SqliteStore(join(t.dir, 'fusion.db'));
  return {
    store,
    async cleanup() {
      await store.close();
      t.remove();
    },
  };
});
