// `fusion store info` on a SQLite file: no file yet, a file made before versions were recorded, an
// older version, the latest; it never creates the store or migrates it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { LATEST_SQLITE_VERSION, migrate } from '../../src/stores/sqlite/migrate.js';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/fusion.js', import.meta.url));

describe('fusion store info (SQLite)', () => {
  it('prints the file schema version: none yet, unversioned, older, the latest', async () => {
    const t = tempDir();
    const file = join(t.dir, 'info.db');
    const info = async () => (await run(process.execPath, [BIN, 'store', 'info', '--store', `sqlite:${file}?synchronous=FULL`])).stdout;
    const latest = LATEST_SQLITE_VERSION();
    try {
      const none = await info();
      assert.match(none, /kind: sqlite/);
      assert.match(none, new RegExp(`file: ${file}\\n`));
      assert.match(none, new RegExp(`schema version: 0 \\(this build: ${latest}; not created yet`));
      assert.equal(existsSync(file), false, 'info made no file');

      // An unversioned file: the jobs table, no schema_version.
      const db = new Database(file);
      db.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY)`);
      db.close();
      assert.match(await info(), new RegExp(`schema version: 0 \\(this build: ${latest}; made before versions were recorded`));

      const older = new Database(file);
      older.exec(`DROP TABLE jobs`);
      migrate(older, 1);
      older.close();
      assert.match(await info(), new RegExp(`schema version: 1 \\(this build: ${latest}; behind: ${latest - 1} migration`));
      assert.match(await info(), /schema version: 1 /, 'info migrated nothing');

      await new SqliteStore(file).close();
      assert.match(await info(), new RegExp(`schema version: ${latest} \\(this build: ${latest}; up to date\\)`));
    } finally {
      t.remove();
    }
  });
});
