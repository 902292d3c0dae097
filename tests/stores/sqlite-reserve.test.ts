// The room a SQLite store keeps on its disk for running jobs (disk-reserve.ts): a file written at
// open, sized by ?reserveMb=, none in memory. What it does on a full disk is the chaos suite's
// store-full test (a tmpfs filled under a worker).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/stores/index.js';
import { tempDir } from '../helpers/tmp.js';

describe('SQLite: the disk reserve', () => {
  test('an 8 MB file beside the database by default, ?reserveMb= sizes it, 0 keeps none, a bad value is refused', async () => {
    const tmp = tempDir();
    try {
      const stores = [await openStore(`sqlite:${join(tmp.dir, 'a.db')}`), await openStore(`sqlite:${join(tmp.dir, 'b.db')}?reserveMb=2`),
        await openStore(`sqlite:${join(tmp.dir, 'c.db')}?reserveMb=0`)];
      assert.equal(statSync(join(tmp.dir, 'a.db-reserve')).size, 8 * 1048576);
      assert.equal(statSync(join(tmp.dir, 'b.db-reserve')).size, 2 * 1048576);
      assert.equal(existsSync(join(tmp.dir, 'c.db-reserve')), false);
      // Opened again, the file is kept as it is.
      stores.push(await openStore(`sqlite:${join(tmp.dir, 'a.db')}`));
      assert.equal(statSync(join(tmp.dir, 'a.db-reserve')).size, 8 * 1048576);
      await assert.rejects(openStore(`sqlite:${join(tmp.dir, 'd.db')}?reserveMb=-1`), /reserveMb must be an integer >= 0/);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      tmp.remove();
    }
  });
});
