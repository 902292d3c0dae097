// `fusion store info` shows a PostgreSQL store's schema version, and never creates or migrates it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate, LATEST_VERSION } from '../../src/stores/postgres/migrate.js';
import { PostgresStore } from '../../src/stores/postgres/store.js';
import { dropSchema, pgSkip, schemaUrl, testSchema, PG_URL } from '../helpers/postgres.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/fusion.js', import.meta.url));
const skip = await pgSkip();

describe('fusion store info (PostgreSQL)', { skip }, () => {
  it('prints the schema version: none yet, an older one, the latest', async () => {
    const schema = testSchema();
    const info = async () => (await run(process.execPath, [BIN, 'store', 'info', '--store', schemaUrl(schema)])).stdout;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      const none = await info();
      assert.match(none, /kind: postgres/);
      // The server runs on this machine: no difference the read can tell.
      assert.match(none, /^clock: this machine's agrees with the server's \(within the read's round trip\); Fusion goes by the server's$/m);
      assert.match(none, new RegExp(`schema: ${schema}`));
      assert.match(none, new RegExp(`schema version: 0 \\(this build: ${LATEST_VERSION()}; not created yet`));
      const made = await c.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
      assert.equal(made.rowCount, 0, 'info made no schema');

      await migrate(c, schema, 2);
      assert.match(await info(), new RegExp(`schema version: 2 \\(this build: ${LATEST_VERSION()}; behind: ${LATEST_VERSION() - 2} migration`));

      await (await PostgresStore.open(schemaUrl(schema))).close();
      assert.match(await info(), new RegExp(`schema version: ${LATEST_VERSION()} \\(this build: ${LATEST_VERSION()}; up to date\\)`));
    } finally {
      await c.end();
      await dropSchema(schema);
    }
  });

  it('hides the password and says other stores have no numbered schema', async () => {
    // Nothing listens on port 1: the Redis lines come, then a clear failure to read its format (exit 1).
    const unreachable = await run(process.execPath, [BIN, 'store', 'info', '--store', 'redis://:secret@127.0.0.1:1/0'])
      .then(() => assert.fail('store info exited 0 without reaching Redis'), (e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal(unreachable.code, 1);
    assert.doesNotMatch(unreachable.stdout + unreachable.stderr, /secret/);
    assert.match(unreachable.stdout, /kind: redis\nprefix: fusion\nschema version: none/);
    assert.match(unreachable.stderr, /could not read the job hash format/);
    await assert.rejects(run(process.execPath, [BIN, 'store', 'nope']), (e: { code: number; stderr: string }) => e.code === 2 && /unknown store command/.test(e.stderr));
  });
});
