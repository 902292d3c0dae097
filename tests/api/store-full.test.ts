// A store out of space answers 503 store_full on every route, whichever store says it: the errors
// below are shaped as better-sqlite3, pg and ioredis throw them (the chaos suite's store-full test
// gets the SQLite and Redis ones from real servers; a PostgreSQL disk cannot be filled here).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toErrorBody } from '../../src/api/errors.js';
import { storeFailure } from '../../src/api/store-failure.js';
import { isStoreFull, isUnavailable } from '../../src/core/store-errors.js';

const sqliteFull = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
const pgDiskFull = Object.assign(new Error('could not extend file "base/16384/16397": No space left on device'), { code: '53100', severity: 'ERROR' });
const redisOom = Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), { name: 'ReplyError' });
// The same refused inside a script run as EVAL on Redis 6.
const redis6ScriptOom = new Error("ERR Error running script (call to f_1a2b): @user_script:9: -OOM command not allowed when used memory > 'maxmemory'.");

describe('a full store', () => {
  test('SQLite, PostgreSQL and Redis errors for it are store_full: 503 on any route, and the add funnel does not split for them', () => {
    for (const err of [sqliteFull, pgDiskFull, redisOom, redis6ScriptOom]) {
      assert.ok(isStoreFull(err), err.message);
      assert.ok(isUnavailable(err), `${err.message}: no split of a shared add`);
      const { status, body, internal } = toErrorBody(err);
      assert.deepEqual([status, body.error.code, internal], [503, 'store_full', true], err.message);
      assert.match(body.error.message, /store is full .*retry$/);
      assert.equal(storeFailure(err).code, 'store_full');
    }
  });

  test('other store errors are not', () => {
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    assert.equal(isStoreFull(busy), false);
    assert.equal(storeFailure(busy).code, 'store_unavailable');
    // Out of memory on the PostgreSQL server (53200) passes, as the disk does not.
    assert.equal(isStoreFull(Object.assign(new Error('out of memory'), { code: '53200' })), false);
    assert.equal(toErrorBody(new Error('OOMPH')).status, 500);
  });
});
