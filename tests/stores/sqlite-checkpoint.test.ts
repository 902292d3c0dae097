// WAL checkpoints from the store's own thread (checkpointer.ts): what a burst of commits left in the
// WAL reaches the database file while the event loop is held, and closing the store stops the
// thread, so the last connection's close removes the WAL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '../../src/stores/sqlite/store.js';
import { resolveSpec } from '../../src/core/spec.js';
import { tempDir } from '../helpers/tmp.js';

const jobs = (n: number, now: number) => Array.from({ length: n }, (_, i) => resolveSpec({ task: 't', queue: 'q', payload: { i, text: 'x'.repeat(200) } }, now));

/** Polls `cond` without yielding to the event loop (no timer of this thread can run meanwhile). */
function holdLoopUntil(cond: () => boolean, ms: number): boolean {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    Atomics.wait(cell, 0, 0, 10);
  }
  return true;
}

describe('sqlite store: WAL checkpoints off the event loop', () => {
  it('copies committed pages into the database file while the store\'s thread is busy', async () => {
    const t = tempDir();
    const file = join(t.dir, 'c.db');
    try {
      // The schema made and checkpointed by a store without the thread: the file starts whole.
      await new SqliteStore(file, { checkpointMs: 0 }).close();
      const store = new SqliteStore(file, { checkpointMs: 20 });
      try {
        const before = statSync(file).size;
        // 3,000 jobs of ~300 bytes: ~1 MB of pages in the WAL, far below the 8,000-page cap at
        // which a commit of the store's own connection would checkpoint.
        const now = Date.now();
        for (let b = 0; b < 3; b++) await store.addJobs({ jobs: jobs(1000, now), now });
        assert.ok(existsSync(`${file}-wal`));
        const grown = holdLoopUntil(() => statSync(file).size > before + 500_000, 10_000);
        assert.ok(grown, `the database file grew from ${before} to ${statSync(file).size} bytes while the loop was held`);
        assert.equal((await store.countJobs({ queue: 'q' })).q!.queued, 3000);
      } finally {
        await store.close();
      }
      assert.equal(existsSync(`${file}-wal`), false, 'the store\'s close, the last connection, removed the WAL: the thread\'s was closed');
      const reopened = new SqliteStore(file);
      assert.equal((await reopened.countJobs({ queue: 'q' })).q!.queued, 3000);
      await reopened.close();
    } finally {
      t.remove();
    }
  });
});
