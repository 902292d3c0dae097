// The room a SQLite store keeps on its disk for running jobs (disk-reserve.ts): a file written at
// open, sized by ?reserveMb=, none in memory. What it does on a full disk is the chaos suite's
// store-full test (a tmpfs filled under a worker).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/stores/index.js';
import { tempDir } from '../helpers/tmp.js';
import { smallDisk, diskSkip } from '../helpers/small-disk.js';
import { until } from '../helpers/await.js';
import { resolveSpec } from '../../src/core/spec.js';

describe('SQLite: the disk reserve', () => {
  test('an 8 MB file beside the database by default, ?reserveMb= sizes it, 0 keeps none, a bad value is refused', async () => {
    const tmp = tempDir();
    try {
      const stores = [await openStore(`sqlite:${join(tmp.dir, 'a.db')}`), await openStore(`sqlite:${join(tmp.dir, 'b.db')}?reserveMb=2`),
        await openStore(`sqlite:${join(tmp.dir, 'c.db')}?reserveMb=0`)];
      assert.equal(statSync(join(tmp.dir, 'a.db-reserve')).size, 8 * 1048576);
      assert.equal(statSync(join(tmp.dir, 'b.db-reserve')).size, 2 * 1048576);
      assert.equal(existsSync(join(tmp.dir, 'c.db-reserve')), false);
      // Opened again, the file is kept as it is; one left empty (a crash between its open and its
      // first write) or cut short is written out to its size.
      stores.push(await openStore(`sqlite:${join(tmp.dir, 'a.db')}`));
      assert.equal(statSync(join(tmp.dir, 'a.db-reserve')).size, 8 * 1048576);
      for (const size of [0, 1000]) {
        writeFileSync(join(tmp.dir, 'e.db-reserve'), Buffer.alloc(size));
        const e = await openStore(`sqlite:${join(tmp.dir, 'e.db')}?reserveMb=1`);
        assert.equal(statSync(join(tmp.dir, 'e.db-reserve')).size, 1048576, `from ${size} bytes`);
        const now = Date.now();
        await e.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', payload: {} }, now)], now });
        stores.push(e);
      }
      await assert.rejects(openStore(`sqlite:${join(tmp.dir, 'd.db')}?reserveMb=-1`), /reserveMb must be an integer >= 0/);
      await assert.rejects(openStore(`sqlite:${join(tmp.dir, 'd.db')}?reserveMb=`), /reserveMb must be an integer >= 0/);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      tmp.remove();
    }
  });
});

describe('SQLite: the disk reserve, on a disk of its own', { skip: diskSkip }, () => {
  test('a disk without room for it at open runs without it, taking no room, and new work goes on', async () => {
    const disk = smallDisk(12) as { dir: string; remove(): void };
    try {
      // 12 MB: room for the database, not for an 8 MB reserve twice over.
      const store = await openStore(`sqlite:${join(disk.dir, 'a.db')}`);
      assert.equal(existsSync(join(disk.dir, 'a.db-reserve')), false);
      const now = Date.now();
      await store.addJobs({ jobs: [resolveSpec({ task: 't', queue: 'q', payload: {} }, now)], now });
      await store.close();
    } finally {
      disk.remove();
    }
  });

  test('a process sees the reserve another freed, and again when another wrote it back', async () => {
    const disk = smallDisk(32) as { dir: string; remove(): void };
    const url = `sqlite:${join(disk.dir, 'a.db')}?reserveMb=4`;
    try {
      const [one, two] = [await openStore(url), await openStore(url)];
      const job = () => ({ jobs: [resolveSpec({ task: 't', queue: 'q', payload: {} }, Date.now())], now: Date.now() });
      await two.addJobs(job());
      // As the first process does at a full disk: its file goes.
      rmSync(join(disk.dir, 'a.db-reserve'));
      await until(async () => {
        try {
          await two.addJobs(job());
          return false;
        } catch (err) {
          return (err as { code?: string }).code === 'SQLITE_FULL';
        }
      }, 5000, 'the other process refuses new work once the reserve is gone', 20);
      // A third opens and writes it back (the disk has room): the second takes work again.
      const three = await openStore(url);
      assert.equal(statSync(join(disk.dir, 'a.db-reserve')).size, 4 * 1048576);
      await until(async () => {
        try {
          await two.addJobs(job());
          return true;
        } catch {
          return false;
        }
      }, 5000, 'the other process takes new work once the reserve is back', 50);
      await Promise.all([one.close(), two.close(), three.close()]);
    } finally {
      disk.remove();
    }
  });
});
